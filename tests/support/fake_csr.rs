//! Structurally valid PKCS#10 CSRs with a made-up RSA key of any size and a made-up signature: what an
//! attacker sends to make the service do big-number work. No key is generated (a real 16,384-bit RSA
//! key takes minutes), so any size costs nothing to build. Shared by the CSR unit tests (included with
//! `#[path]`), the CPU-flood load test and the fuzz targets.

#![allow(dead_code)]

/// DER tag-length-value.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// The DER of a CSR whose key is an RSA "modulus" of `bits` bits (top bit set, odd, otherwise filled
/// with `fill`) and whose sha256WithRSAEncryption "signature" is `bits / 8` bytes of `fill`.
pub fn fake_rsa_csr_der(bits: usize, fill: u8) -> Vec<u8> {
    const RSA_ENCRYPTION: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    const SHA256_WITH_RSA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b,
    ];
    const NULL: &[u8] = &[0x05, 0x00];
    let bytes = bits / 8;
    let mut modulus = vec![0x00, 0xc0];
    modulus.extend(std::iter::repeat_n(fill, bytes - 2));
    modulus.push(0x01 | fill);
    let rsa_key = tlv(
        0x30,
        &[tlv(0x02, &modulus), tlv(0x02, &[0x01, 0x00, 0x01])].concat(),
    );
    let spki = tlv(
        0x30,
        &[
            tlv(0x30, &[RSA_ENCRYPTION, NULL].concat()),
            tlv(0x03, &[&[0x00], rsa_key.as_slice()].concat()),
        ]
        .concat(),
    );
    let info = tlv(
        0x30,
        &[
            vec![0x02, 0x01, 0x00],
            tlv(0x30, &[]),
            spki,
            vec![0xa0, 0x00],
        ]
        .concat(),
    );
    let signature = vec![fill | 0x01; bytes];
    tlv(
        0x30,
        &[
            info,
            tlv(0x30, &[SHA256_WITH_RSA, NULL].concat()),
            tlv(0x03, &[&[0x00], signature.as_slice()].concat()),
        ]
        .concat(),
    )
}

/// [`fake_rsa_csr_der`] as PEM with 64-character lines.
pub fn fake_rsa_csr_pem(bits: usize, fill: u8) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(fake_rsa_csr_der(bits, fill));
    let mut pem = String::from("-----BEGIN CERTIFICATE REQUEST-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE REQUEST-----\n");
    pem
}
