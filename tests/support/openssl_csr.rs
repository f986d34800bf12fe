//! A PKCS#10 CSR for a fresh EC P-256 key, made by the `openssl` command line (an implementation
//! independent of the service's own). Shared by the test binaries and benches with
//! `#[path = "…/support/openssl_csr.rs"]`.

use std::process::Command;

/// A PEM CSR for a new EC P-256 key; the subject is ignored by the service's certificate profile.
pub fn p256_csr() -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("key.pem");
    let key = key.to_str().expect("UTF-8 path");
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("the `openssl` CLI runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("PEM")
    };
    run(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        key,
    ]);
    run(&["req", "-new", "-key", key, "-subj", "/CN=ignored/O=Client"])
}
