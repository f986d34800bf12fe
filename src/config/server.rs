//! `apuntador-server`'s own settings: the bind address and port, the connection and request limits, the
//! shutdown timings and the optional TLS door. The Lambda binary ignores every variable of this area
//! ([`SERVER_ONLY_VARIABLES`]).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::Reader;

/// Variables only `apuntador-server` reads; the Lambda binary ignores them, so a value there can never
/// stop a function from starting.
pub const SERVER_ONLY_VARIABLES: [&str; 9] = [
    "HOST",
    "PORT",
    "MAX_CONCURRENT_REQUESTS",
    "MAX_CONNECTIONS",
    "SHUTDOWN_GRACE_SECONDS",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "TLS_CLIENT_AUTH",
    "SHUTDOWN_DELAY_SECONDS",
];

/// `apuntador-server` settings; the Lambda binary ignores them.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `HOST`, default `0.0.0.0`: bind address (an IP literal, or `localhost` for 127.0.0.1).
    pub host: IpAddr,
    /// `PORT`, default 8000, 1-65535.
    pub port: u16,
    /// `MAX_CONCURRENT_REQUESTS`, default 256, 1-100000: requests in flight before shedding with 503.
    pub max_concurrent_requests: usize,
    /// `MAX_CONNECTIONS`, default 1024, 1-1000000: open client connections; beyond it a new
    /// connection gets one 503 answer and is closed (liveness is still answered).
    pub max_connections: usize,
    /// `SHUTDOWN_GRACE_SECONDS`, default 25 s, 0-300: time in-flight requests get after SIGTERM.
    pub shutdown_grace: Duration,
    /// `SHUTDOWN_DELAY_SECONDS`, default 0 s, 0-300: after SIGTERM, how long readiness answers 503
    /// `shutting_down` while the listener keeps serving, before draining starts (load balancer
    /// deregistration).
    pub shutdown_delay: Duration,
    /// The server's own TLS door: `Some` when `TLS_CERT_FILE` and `TLS_KEY_FILE` are both set.
    pub tls: Option<TlsConfig>,
}

/// `apuntador-server` terminating TLS itself (the self-hosted and local-development device door).
///
/// The same `HOST:PORT` listener then speaks HTTPS only. The files are read at start-up; a problem with
/// them stops the server (exit 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// `TLS_CERT_FILE`: the server certificate chain, PEM (leaf first).
    pub cert_file: PathBuf,
    /// `TLS_KEY_FILE`: the server private key, PEM (PKCS#8, PKCS#1 or SEC1), unencrypted.
    pub key_file: PathBuf,
    /// `TLS_CLIENT_AUTH`, default `optional`.
    pub client_auth: TlsClientAuth,
}

/// `TLS_CLIENT_AUTH`: whether the TLS handshake asks for a device certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsClientAuth {
    /// `optional` (default): asked for; a connection without one reaches the public routes, and the
    /// device routes answer 401 `certificate_required`.
    Optional,
    /// `required`: a connection without a device certificate fails its handshake (a device-only door).
    Required,
    /// `none`: never asked for; the device routes always answer 401 (a public-only door).
    None,
}

// What `Reader::number` calls this area's numbers in its problems.
const PORT_NUMBER: &str = "port number";
const REQUESTS: &str = "number of requests";
const CONNECTIONS: &str = "number of connections";

impl Reader<'_> {
    /// The server settings, TLS door included.
    pub(super) fn server(&mut self) -> ServerConfig {
        ServerConfig {
            host: self.value("HOST", IpAddr::from([0, 0, 0, 0]), parse_ip),
            port: self.number("PORT", 8000, 1..=65535, PORT_NUMBER),
            max_concurrent_requests: self.number(
                "MAX_CONCURRENT_REQUESTS",
                256,
                1..=100_000,
                REQUESTS,
            ),
            max_connections: self.number("MAX_CONNECTIONS", 1024, 1..=1_000_000, CONNECTIONS),
            shutdown_grace: self.seconds("SHUTDOWN_GRACE_SECONDS", 25, 0..=300),
            tls: self.tls(),
            shutdown_delay: self.seconds("SHUTDOWN_DELAY_SECONDS", 0, 0..=300),
        }
    }

    /// `TLS_CERT_FILE`, `TLS_KEY_FILE` (both or neither) and `TLS_CLIENT_AUTH`.
    fn tls(&mut self) -> Option<TlsConfig> {
        self.all_or_nothing(&["TLS_CERT_FILE", "TLS_KEY_FILE"], "TLS");
        let client_auth = self.choice(
            "TLS_CLIENT_AUTH",
            TlsClientAuth::Optional,
            &[
                ("optional", TlsClientAuth::Optional),
                ("required", TlsClientAuth::Required),
                ("none", TlsClientAuth::None),
            ],
        );
        let (Some(cert_file), Some(key_file)) =
            (self.raw("TLS_CERT_FILE"), self.raw("TLS_KEY_FILE"))
        else {
            if self.is_set("TLS_CLIENT_AUTH") && !self.is_set("TLS_CERT_FILE") {
                self.problem(
                    "TLS_CLIENT_AUTH",
                    "has no effect without TLS_CERT_FILE and TLS_KEY_FILE (the server does not terminate TLS)",
                );
            }
            return None;
        };
        Some(TlsConfig {
            cert_file: PathBuf::from(cert_file),
            key_file: PathBuf::from(key_file),
            client_auth,
        })
    }
}

/// `HOST`: an IPv4 or IPv6 literal (brackets allowed), or `localhost` for 127.0.0.1.
fn parse_ip(raw: &str) -> Result<IpAddr, String> {
    let trimmed = raw.trim();
    if trimmed.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::from([127, 0, 0, 1]));
    }
    let unbracketed = trimmed
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(trimmed);
    unbracketed
        .parse()
        .map_err(|_| format!("{raw:?} is not an IP address"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::VARIABLES;
    use crate::config::testing::*;

    #[test]
    fn an_empty_lookup_gives_every_documented_server_default() {
        let c = ok(&[]);
        assert_eq!(c.server.host, IpAddr::from([0, 0, 0, 0]));
        assert_eq!(c.server.port, 8000);
        assert_eq!(c.server.max_concurrent_requests, 256);
        assert_eq!(c.server.max_connections, 1024);
        assert_eq!(c.server.shutdown_grace, Duration::from_secs(25));
        assert_eq!(c.server.shutdown_delay, Duration::ZERO);
    }

    /// Every validation rule of this area, refused side: (variable, value, part of the message).
    #[test]
    fn each_invalid_server_value_is_reported_against_its_variable() {
        assert_each_refused(&[
            (
                "HOST",
                "localhost.example",
                "\"localhost.example\" is not an IP address",
            ),
            ("HOST", "999.0.0.1", "is not an IP address"),
            ("PORT", "80a", "\"80a\" is not a port number (1-65535)"),
            ("PORT", "0", "\"0\" is not a port number (1-65535)"),
            ("PORT", "65536", "is not a port number (1-65535)"),
            ("PORT", "-1", "is not a port number"),
            ("PORT", "+80", "is not a port number"),
            (
                "MAX_CONCURRENT_REQUESTS",
                "0",
                "is not a number of requests (1-100000)",
            ),
            ("MAX_CONCURRENT_REQUESTS", "100001", "(1-100000)"),
            (
                "MAX_CONNECTIONS",
                "0",
                "is not a number of connections (1-1000000)",
            ),
            (
                "SHUTDOWN_GRACE_SECONDS",
                "301",
                "is not a number of seconds (0-300)",
            ),
            ("SHUTDOWN_GRACE_SECONDS", "2.5", "(0-300)"),
        ]);
    }

    /// Every validation rule of this area, accepted side.
    #[test]
    fn each_valid_server_value_is_accepted() {
        assert_each_accepted(&[
            ("HOST", "127.0.0.1"),
            ("HOST", "::"),
            ("HOST", "[::1]"),
            ("HOST", "localhost"),
            ("HOST", "LocalHost"),
            ("PORT", "1"),
            ("PORT", "65535"),
            ("PORT", " 8080 "),
            ("MAX_CONCURRENT_REQUESTS", "100000"),
            ("SHUTDOWN_GRACE_SECONDS", "0"),
            ("SHUTDOWN_DELAY_SECONDS", "300"),
        ]);
    }

    #[test]
    fn host_localhost_binds_the_ipv4_loopback() {
        assert_eq!(
            ok(&[("HOST", "localhost")]).server.host,
            IpAddr::from([127, 0, 0, 1])
        );
    }

    #[test]
    fn shutdown_delay_seconds_is_bounded() {
        assert_eq!(
            ok(&[("SHUTDOWN_DELAY_SECONDS", "15")])
                .server
                .shutdown_delay,
            Duration::from_secs(15)
        );
        assert_problem(
            &[("SHUTDOWN_DELAY_SECONDS", "301")],
            "SHUTDOWN_DELAY_SECONDS",
            "(0-300)",
        );
    }

    #[test]
    fn tls_files_go_together_and_tls_client_auth_needs_them_and_a_known_value() {
        assert_eq!(
            variables_with_problems(&[("TLS_CERT_FILE", "/c.pem")]),
            ["TLS_KEY_FILE"]
        );
        assert_eq!(
            variables_with_problems(&[("TLS_KEY_FILE", "/k.pem")]),
            ["TLS_CERT_FILE"]
        );
        assert_eq!(
            variables_with_problems(&[("TLS_CLIENT_AUTH", "required")]),
            ["TLS_CLIENT_AUTH"]
        );
        let found = problems(&[
            ("TLS_CERT_FILE", "/c.pem"),
            ("TLS_KEY_FILE", "/k.pem"),
            ("TLS_CLIENT_AUTH", "sometimes"),
        ]);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.contains("optional, required, none"),
            "{found:?}"
        );
        assert!(ok(&[]).server.tls.is_none());
    }

    #[test]
    fn the_lambda_binary_ignores_the_tls_variables() {
        for name in ["TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CLIENT_AUTH"] {
            assert!(SERVER_ONLY_VARIABLES.contains(&name), "{name}");
            assert!(VARIABLES.contains(&name), "{name}");
        }
    }
}
