//! The server's own TLS door (`TLS_CERT_FILE`, `TLS_KEY_FILE`, `TLS_CLIENT_AUTH`): rustls with the ring
//! provider, no OpenSSL.
//!
//! One listener then serves both doors of a self-hosted or local deployment. The handshake asks for a
//! client certificate (unless `TLS_CLIENT_AUTH=none`) and accepts one only when its signature verifies
//! with the current or the previous device CA ([`crate::pki::verify::check_issuer`]); a certificate
//! from any other CA fails the handshake (alert `unknown_ca`). Everything else about the certificate —
//! validity, usage, device id, registration, revocation, exact match — is decided per request by the
//! full client-certificate verification, so an expired or revoked device certificate still reaches the
//! public routes (a device can re-enrol) and gets its precise 403 on the device routes. The handshake
//! proves possession of the certificate's private key; the certificate then travels with every request
//! of the connection as [`TlsClientCert`], the `tls` source, which nothing a client sends can forge.
//!
//! The CA the handshake trusts is the one the process loaded at start-up, the same object every request
//! verifies against; `ca init --rotate` reaches a running server at its next restart, exactly like
//! issuance does.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, ServerConfig,
    SignatureScheme,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::{TlsClientAuth, TlsConfig};
use crate::http::extract::TlsClientCert;
use crate::pki::CertificateAuthority;

/// How long a connection may take from accept to a completed TLS handshake. A client that stalls is
/// disconnected; the accept loop never waits for it.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The first byte of every TLS record carrying a handshake message (a ClientHello starts with it).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Why the TLS door could not be opened (start-up fails).
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// `TLS_CERT_FILE` cannot be read or holds no certificate.
    #[error("TLS_CERT_FILE {path}: {reason}")]
    Certificate {
        /// The configured path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// `TLS_KEY_FILE` cannot be read or holds no usable private key.
    #[error("TLS_KEY_FILE {path}: {reason}")]
    Key {
        /// The configured path.
        path: String,
        /// What is wrong (never key material).
        reason: String,
    },
    /// The certificate and key do not form a usable server identity.
    #[error("TLS_CERT_FILE and TLS_KEY_FILE do not form a usable server identity: {0}")]
    Identity(String),
    /// Client authentication needs the device CA and it could not be loaded.
    #[error(
        "TLS_CLIENT_AUTH={0} needs the device CA, which could not be loaded: {1}; run `apuntador-server ca init` or set TLS_CLIENT_AUTH=none"
    )]
    CaUnavailable(&'static str, crate::authority::CaUnavailable),
}

impl TlsSetupError {
    /// The process exit code: 2 for the configured files (a configuration problem), 1 for the CA.
    pub fn exit_code(&self) -> u8 {
        match self {
            TlsSetupError::CaUnavailable(..) => 1,
            _ => 2,
        }
    }
}

/// A ready TLS acceptor and its handshake time limit.
#[derive(Clone)]
pub struct TlsDoor {
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
}

impl std::fmt::Debug for TlsDoor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsDoor")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl TlsDoor {
    /// Reads the server certificate and key of `config` and builds the acceptor; `ca` is required unless
    /// `TLS_CLIENT_AUTH=none`.
    pub fn new(
        config: &TlsConfig,
        ca: Option<Arc<CertificateAuthority>>,
    ) -> Result<TlsDoor, TlsSetupError> {
        let chain = read_chain(&config.cert_file)?;
        let key = read_key(&config.key_file)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Identity(e.to_string()))?;
        let builder =
            match (config.client_auth, ca) {
                (TlsClientAuth::None, _) => builder.with_no_client_auth(),
                (mode, Some(ca)) => builder.with_client_cert_verifier(Arc::new(
                    DeviceCaVerifier::new(ca, mode == TlsClientAuth::Required, &provider),
                )),
                (mode, None) => {
                    return Err(TlsSetupError::CaUnavailable(
                        client_auth_name(mode),
                        crate::authority::CaUnavailable::Missing,
                    ));
                }
            };
        let mut server = builder
            .with_single_cert(chain, key)
            .map_err(|e| TlsSetupError::Identity(e.to_string()))?;
        // The server speaks HTTP/1.1 only.
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsDoor {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            handshake_timeout: HANDSHAKE_TIMEOUT,
        })
    }

    /// The same door with another handshake time limit (tests).
    pub fn with_handshake_timeout(mut self, limit: Duration) -> TlsDoor {
        self.handshake_timeout = limit;
        self
    }

    /// Completes the handshake of an accepted connection within the time limit.
    ///
    /// `None` when the client stalls, fails the handshake, or speaks plain HTTP (it then gets a 400
    /// problem document saying the port serves HTTPS, and the connection is closed).
    pub async fn handshake(
        &self,
        stream: TcpStream,
    ) -> Option<(TlsStream<TcpStream>, Option<TlsClientCert>)> {
        let limit = self.handshake_timeout;
        let outcome = tokio::time::timeout(limit, async move {
            let mut first = [0u8; 1];
            let peeked = stream.peek(&mut first).await.ok()?;
            if peeked == 0 {
                return None;
            }
            if first[0] != TLS_HANDSHAKE_RECORD {
                if first[0].is_ascii_uppercase() {
                    answer_plain_http(stream).await;
                }
                return None;
            }
            match self.acceptor.accept(stream).await {
                Ok(tls) => Some(tls),
                Err(err) => {
                    tracing::debug!(error = %err, "TLS handshake failed");
                    None
                }
            }
        })
        .await;
        let tls = match outcome {
            Ok(tls) => tls?,
            Err(_) => {
                tracing::debug!(limit_seconds = limit.as_secs(), "TLS handshake timed out");
                return None;
            }
        };
        let client_cert = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|leaf| TlsClientCert(Arc::from(leaf.as_ref())));
        Some((tls, client_cert))
    }
}

fn client_auth_name(mode: TlsClientAuth) -> &'static str {
    match mode {
        TlsClientAuth::Optional => "optional",
        TlsClientAuth::Required => "required",
        TlsClientAuth::None => "none",
    }
}

/// Opens the TLS door of `config` (when TLS is configured) for `state`: loads the device CA now when
/// client authentication is on, so a broken CA stops start-up instead of every handshake.
pub async fn door(state: &crate::AppState) -> Result<Option<TlsDoor>, TlsSetupError> {
    let Some(tls) = &state.config.server.tls else {
        return Ok(None);
    };
    let ca = match tls.client_auth {
        TlsClientAuth::None => None,
        mode => Some(
            state
                .ca
                .get()
                .await
                .map_err(|why| TlsSetupError::CaUnavailable(client_auth_name(mode), why))?,
        ),
    };
    TlsDoor::new(tls, ca).map(Some)
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let fail = |reason: String| TlsSetupError::Certificate {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read(path).map_err(|e| fail(format!("cannot be read: {e}")))?;
    let chain = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("is not PEM: {e}")))?;
    if chain.is_empty() {
        return Err(fail("holds no CERTIFICATE block".into()));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    let fail = |reason: &str| TlsSetupError::Key {
        path: path.display().to_string(),
        reason: reason.to_owned(),
    };
    let text = std::fs::read(path).map_err(|e| TlsSetupError::Key {
        path: path.display().to_string(),
        reason: format!("cannot be read: {}", e.kind()),
    })?;
    // The parser's own error text is not repeated: it could quote the file's content.
    PrivateKeyDer::from_pem_slice(&text).map_err(|_| {
        fail("holds no unencrypted PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block")
    })
}

/// Answers a plain-HTTP request sent to the TLS port with a 400 problem document, then closes.
async fn answer_plain_http(mut stream: TcpStream) {
    // Read the request head (bounded) so closing does not reset the connection before the client
    // has read the answer.
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let read_head = async {
        while head.len() < 16 * 1024 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), read_head).await;
    let path = std::str::from_utf8(&head)
        .ok()
        .and_then(|text| text.split_ascii_whitespace().nth(1))
        .map(|target| target.split('?').next().unwrap_or(target))
        .filter(|target| target.starts_with('/'))
        .unwrap_or("/");
    let trace_id = crate::http::middleware::TraceId::random().0;
    let body = serde_json::json!({
        "type": "https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.1",
        "title": "Bad Request",
        "status": 400,
        "detail": "This port serves HTTPS only; send the request with https://",
        "instance": path,
        "trace_id": trace_id,
        "error": "https_required",
    })
    .to_string();
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nx-trace-id: {trace_id}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A blocking TLS client over `stream` for `--healthcheck` that trusts exactly the first certificate of
/// `cert_file` (the server's own); `None` when the file cannot be read.
pub(crate) fn pinned_client(
    cert_file: &Path,
    stream: std::net::TcpStream,
) -> Option<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>> {
    let pinned = read_chain(cert_file).ok()?.into_iter().next()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedServer {
        pinned,
        algorithms: provider.signature_verification_algorithms,
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let connection = rustls::ClientConnection::new(Arc::new(config), name).ok()?;
    Some(rustls::StreamOwned::new(connection, stream))
}

/// Trusts one exact server certificate (the healthcheck talks to its own server on loopback).
#[derive(Debug)]
struct PinnedServer {
    pinned: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl rustls::client::danger::ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(Error::InvalidCertificate(CertificateError::UnknownIssuer))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Accepts a client certificate when the current or the previous device CA signed it.
#[derive(Debug)]
struct DeviceCaVerifier {
    ca: Arc<CertificateAuthority>,
    hints: Vec<DistinguishedName>,
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl DeviceCaVerifier {
    fn new(
        ca: Arc<CertificateAuthority>,
        mandatory: bool,
        provider: &CryptoProvider,
    ) -> DeviceCaVerifier {
        let now = chrono::Utc::now();
        let mut hints = vec![DistinguishedName::from(ca.current().subject_der().to_vec())];
        if let Some(previous) = ca.previous(now)
            && previous.subject_der() != ca.current().subject_der()
        {
            hints.push(DistinguishedName::from(previous.subject_der().to_vec()));
        }
        DeviceCaVerifier {
            ca,
            hints,
            mandatory,
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for DeviceCaVerifier {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let now = i64::try_from(now.as_secs())
            .ok()
            .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
            .unwrap_or_else(chrono::Utc::now);
        match crate::pki::verify::check_issuer(&self.ca, end_entity.as_ref(), now) {
            Ok(_) => Ok(ClientCertVerified::assertion()),
            Err(crate::pki::Rejection::Untrusted) => {
                Err(Error::InvalidCertificate(CertificateError::UnknownIssuer))
            }
            Err(_) => Err(Error::InvalidCertificate(CertificateError::BadEncoding)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
