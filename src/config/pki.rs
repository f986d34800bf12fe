//! Device PKI: how long issued certificates are valid per platform, how long their records are kept, and
//! where a device's client certificate is taken from (the server's own TLS handshake, or what the edge in
//! front of the service forwards).

use super::{Reader, TlsClientAuth};

/// Device platforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    /// `android`
    Android,
    /// `ios`
    Ios,
    /// `desktop`
    Desktop,
    /// `web`
    Web,
}

impl Platform {
    /// All platforms, in the documented order.
    pub const ALL: [Platform; 4] = [
        Platform::Android,
        Platform::Ios,
        Platform::Desktop,
        Platform::Web,
    ];

    /// The lower-case name used in requests, records and variable names.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Android => "android",
            Platform::Ios => "ios",
            Platform::Desktop => "desktop",
            Platform::Web => "web",
        }
    }

    /// Parses a platform name, case-insensitively.
    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
    }
}

/// Where a device's client certificate is taken from, in the fixed priority order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CertSource {
    /// `tls`: the certificate of the server's own TLS handshake (`TLS_CERT_FILE`); first of all.
    Tls,
    /// `lambda-context`: the API Gateway request context.
    LambdaContext,
    /// `alb`: ALB mutual TLS headers.
    Alb,
    /// `header`: the `CLIENT_CERT_HEADER` header.
    Header,
    /// `xfcc`: `X-Forwarded-Client-Cert`.
    Xfcc,
}

impl CertSource {
    /// All sources, in priority order.
    pub const ALL: [CertSource; 5] = [
        CertSource::Tls,
        CertSource::LambdaContext,
        CertSource::Alb,
        CertSource::Header,
        CertSource::Xfcc,
    ];

    /// The default without TLS termination: every source an edge can deliver (development only).
    pub const DEVELOPMENT_DEFAULT: [CertSource; 4] = [
        CertSource::LambdaContext,
        CertSource::Alb,
        CertSource::Header,
        CertSource::Xfcc,
    ];

    /// The id used in `CLIENT_CERT_SOURCES`.
    pub fn as_str(self) -> &'static str {
        match self {
            CertSource::Tls => "tls",
            CertSource::LambdaContext => "lambda-context",
            CertSource::Alb => "alb",
            CertSource::Header => "header",
            CertSource::Xfcc => "xfcc",
        }
    }

    /// Parses a source id, case-insensitively.
    pub fn parse(s: &str) -> Option<CertSource> {
        CertSource::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
    }
}

/// Device PKI settings.
#[derive(Debug, Clone)]
pub struct PkiConfig {
    /// `CERT_VALIDITY_DAYS_ANDROID`, default 30, 1-365.
    pub validity_days_android: u32,
    /// `CERT_VALIDITY_DAYS_IOS`, default 30, 1-365.
    pub validity_days_ios: u32,
    /// `CERT_VALIDITY_DAYS_DESKTOP`, default 7, 1-365.
    pub validity_days_desktop: u32,
    /// `CERT_VALIDITY_DAYS_WEB`, default 1, 1-365.
    pub validity_days_web: u32,
    /// `CERT_RECORD_RETENTION_DAYS`, default 30, 1-3650.
    pub record_retention_days: u32,
    /// `CLIENT_CERT_HEADER`, default `X-Client-Cert` (stored lower-cased, a valid header name).
    pub client_cert_header: ::http::HeaderName,
    /// `CLIENT_CERT_SOURCES`: sorted in priority order, deduplicated. Default `tls` when the server
    /// terminates TLS itself, else `lambda-context,alb,header,xfcc` (development only: production
    /// requires the variable).
    pub client_cert_sources: Vec<CertSource>,
}

impl PkiConfig {
    /// Validity, in days, of certificates issued to `platform` (`CERT_VALIDITY_DAYS_*`).
    pub fn validity_days(&self, platform: Platform) -> u32 {
        match platform {
            Platform::Android => self.validity_days_android,
            Platform::Ios => self.validity_days_ios,
            Platform::Desktop => self.validity_days_desktop,
            Platform::Web => self.validity_days_web,
        }
    }
}

// What `Reader::number` calls this area's numbers in its problems.
const DAYS: &str = "number of days";

impl Reader<'_> {
    /// The PKI settings; `tls_client_auth` is `Some` when the server terminates TLS itself.
    pub(super) fn pki(&mut self, tls_client_auth: Option<TlsClientAuth>) -> PkiConfig {
        PkiConfig {
            validity_days_android: self.number("CERT_VALIDITY_DAYS_ANDROID", 30, 1..=365, DAYS),
            validity_days_ios: self.number("CERT_VALIDITY_DAYS_IOS", 30, 1..=365, DAYS),
            validity_days_desktop: self.number("CERT_VALIDITY_DAYS_DESKTOP", 7, 1..=365, DAYS),
            validity_days_web: self.number("CERT_VALIDITY_DAYS_WEB", 1, 1..=365, DAYS),
            record_retention_days: self.number("CERT_RECORD_RETENTION_DAYS", 30, 1..=3650, DAYS),
            client_cert_header: self.value(
                "CLIENT_CERT_HEADER",
                ::http::HeaderName::from_static("x-client-cert"),
                |raw| {
                    ::http::HeaderName::from_bytes(raw.trim().as_bytes())
                        .map_err(|_| format!("{raw:?} is not a valid header name"))
                },
            ),
            client_cert_sources: self.cert_sources(tls_client_auth),
        }
    }

    /// `CLIENT_CERT_SOURCES`: a non-empty subset, sorted into priority order, deduplicated.
    ///
    /// Unset, it is `tls` when the server terminates TLS itself (`tls_client_auth` is `Some`), else the
    /// development list `lambda-context,alb,header,xfcc`, which production refuses: a deployment must
    /// name the one source its edge controls. With TLS on, only `tls` is accepted: no edge sits in
    /// front of the server to overwrite or remove certificate headers, so any header would be the
    /// client's own word. `tls` without TLS termination can never be present and is refused as well.
    fn cert_sources(&mut self, tls_client_auth: Option<TlsClientAuth>) -> Vec<CertSource> {
        const NAMES: &str = "tls, lambda-context, alb, header, xfcc";
        let tls_on = tls_client_auth.is_some();
        if !self.is_set("CLIENT_CERT_SOURCES") {
            if tls_on {
                return vec![CertSource::Tls];
            }
            if self.production {
                self.problem(
                    "CLIENT_CERT_SOURCES",
                    "must be set in production to the one source this deployment's edge controls \
                     (lambda-context behind API Gateway mutual TLS, header behind an edge that \
                     overwrites it, tls when the server terminates TLS itself); the default list \
                     is for development only",
                );
            }
            return CertSource::DEVELOPMENT_DEFAULT.to_vec();
        }
        let items = self.list("CLIENT_CERT_SOURCES", "");
        let mut sources = Vec::new();
        for item in &items {
            match CertSource::parse(item) {
                Some(source) => sources.push(source),
                None => self.problem(
                    "CLIENT_CERT_SOURCES",
                    format!("{item:?} is not a certificate source ({NAMES})"),
                ),
            }
        }
        if items.is_empty() {
            self.problem(
                "CLIENT_CERT_SOURCES",
                format!("must name at least one source ({NAMES})"),
            );
        }
        sources.sort();
        sources.dedup();
        if tls_on && sources.iter().any(|s| *s != CertSource::Tls) {
            self.problem(
                "CLIENT_CERT_SOURCES",
                "must be tls alone when the server terminates TLS itself (TLS_CERT_FILE): no edge \
                 in front of it can vouch for a certificate header, so any header would be the \
                 client's own claim",
            );
        }
        if !tls_on && sources.contains(&CertSource::Tls) {
            self.problem(
                "CLIENT_CERT_SOURCES",
                "tls needs the server to terminate TLS itself: set TLS_CERT_FILE and TLS_KEY_FILE",
            );
        }
        if sources.is_empty() {
            CertSource::DEVELOPMENT_DEFAULT.to_vec()
        } else {
            sources
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::Config;
    use crate::config::testing::*;

    #[test]
    fn an_empty_lookup_gives_every_documented_pki_default() {
        let c = ok(&[]);
        assert_eq!(
            [
                Platform::Android,
                Platform::Ios,
                Platform::Desktop,
                Platform::Web
            ]
            .map(|p| c.pki.validity_days(p)),
            [30, 30, 7, 1]
        );
        assert_eq!(c.pki.record_retention_days, 30);
        assert_eq!(c.pki.client_cert_header, "x-client-cert");
        assert_eq!(c.pki.client_cert_sources, CertSource::DEVELOPMENT_DEFAULT);
    }

    /// Every validation rule of this area, refused side: (variable, value, part of the message).
    #[test]
    fn each_invalid_pki_value_is_reported_against_its_variable() {
        assert_each_refused(&[
            (
                "CERT_VALIDITY_DAYS_ANDROID",
                "0",
                "is not a number of days (1-365)",
            ),
            ("CERT_VALIDITY_DAYS_IOS", "366", "(1-365)"),
            ("CERT_VALIDITY_DAYS_DESKTOP", "seven", "(1-365)"),
            ("CERT_VALIDITY_DAYS_WEB", "-1", "(1-365)"),
            (
                "CERT_RECORD_RETENTION_DAYS",
                "3651",
                "is not a number of days (1-3650)",
            ),
            (
                "CLIENT_CERT_HEADER",
                "X Client Cert",
                "is not a valid header name",
            ),
            (
                "CLIENT_CERT_HEADER",
                "X-Client-Cert:",
                "is not a valid header name",
            ),
            (
                "CLIENT_CERT_SOURCES",
                "alb,mtls",
                "\"mtls\" is not a certificate source",
            ),
            ("CLIENT_CERT_SOURCES", ",", "must name at least one source"),
        ]);
    }

    /// Every validation rule of this area, accepted side.
    #[test]
    fn each_valid_pki_value_is_accepted() {
        assert_each_accepted(&[
            ("CERT_VALIDITY_DAYS_ANDROID", "365"),
            ("CERT_VALIDITY_DAYS_WEB", "1"),
            ("CERT_RECORD_RETENTION_DAYS", "3650"),
            ("CLIENT_CERT_HEADER", "X-SSL-Client-Cert"),
            ("CLIENT_CERT_SOURCES", "header"),
            ("CLIENT_CERT_SOURCES", "XFCC, alb"),
        ]);
    }

    #[test]
    fn production_requires_an_explicit_client_cert_sources() {
        let mut pairs = production(&[]);
        pairs.retain(|(k, _)| k != "CLIENT_CERT_SOURCES");
        let found = problems(&as_refs(&pairs));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].variable, "CLIENT_CERT_SOURCES");
        assert!(
            found[0].message.contains("must be set in production"),
            "{found:?}"
        );
        for explicit in ["lambda-context", "header", "alb", "xfcc", "header,xfcc"] {
            let pairs = production(&[("CLIENT_CERT_SOURCES", explicit)]);
            assert!(parse(&as_refs(&pairs)).is_ok(), "{explicit}");
        }
        // Development keeps the old default list.
        assert_eq!(
            ok(&[]).pki.client_cert_sources,
            CertSource::DEVELOPMENT_DEFAULT
        );
    }

    #[test]
    fn with_tls_on_the_default_source_is_tls_alone_also_in_production() {
        let tls = [
            ("TLS_CERT_FILE", "/etc/tls/cert.pem"),
            ("TLS_KEY_FILE", "/etc/tls/key.pem"),
        ];
        let c = ok(&tls);
        assert_eq!(c.pki.client_cert_sources, [CertSource::Tls]);
        let tls_config = c.server.tls.unwrap();
        assert_eq!(tls_config.client_auth, TlsClientAuth::Optional);
        assert_eq!(tls_config.cert_file, PathBuf::from("/etc/tls/cert.pem"));
        let mut pairs = production(&tls);
        pairs.retain(|(k, _)| k != "CLIENT_CERT_SOURCES");
        let c = Config::from_lookup(lookup(&as_refs(&pairs))).unwrap();
        assert_eq!(c.pki.client_cert_sources, [CertSource::Tls]);
        for (value, mode) in [
            ("required", TlsClientAuth::Required),
            ("NONE", TlsClientAuth::None),
            ("optional", TlsClientAuth::Optional),
        ] {
            let c = ok(&[tls[0], tls[1], ("TLS_CLIENT_AUTH", value)]);
            assert_eq!(c.server.tls.unwrap().client_auth, mode);
        }
    }

    #[test]
    fn with_tls_on_header_sources_are_refused_and_tls_needs_tls_on() {
        let tls = [("TLS_CERT_FILE", "/c.pem"), ("TLS_KEY_FILE", "/k.pem")];
        for sources in ["tls,header", "header", "lambda-context", "xfcc,tls", "alb"] {
            let found = problems(&[tls[0], tls[1], ("CLIENT_CERT_SOURCES", sources)]);
            assert_eq!(found.len(), 1, "{sources}: {found:?}");
            assert!(found[0].message.contains("must be tls alone"), "{found:?}");
        }
        assert_eq!(
            ok(&[tls[0], tls[1], ("CLIENT_CERT_SOURCES", "TLS")])
                .pki
                .client_cert_sources,
            [CertSource::Tls]
        );
        let found = problems(&[("CLIENT_CERT_SOURCES", "tls,header")]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("TLS_CERT_FILE"), "{found:?}");
    }

    #[test]
    fn client_cert_sources_are_sorted_into_priority_order_and_deduplicated() {
        let c = ok(&[("CLIENT_CERT_SOURCES", "xfcc,header,Header,lambda-context")]);
        assert_eq!(
            c.pki.client_cert_sources,
            [
                CertSource::LambdaContext,
                CertSource::Header,
                CertSource::Xfcc
            ]
        );
    }

    #[test]
    fn client_cert_header_is_stored_lower_cased() {
        let c = ok(&[("CLIENT_CERT_HEADER", "X-SSL-Client-Cert")]);
        assert_eq!(c.pki.client_cert_header.as_str(), "x-ssl-client-cert");
    }

    #[test]
    fn platform_helpers_round_trip_case_insensitively() {
        for platform in Platform::ALL {
            assert_eq!(Platform::parse(platform.as_str()), Some(platform));
            assert_eq!(
                Platform::parse(&platform.as_str().to_uppercase()),
                Some(platform)
            );
        }
        assert_eq!(
            Platform::ALL.map(Platform::as_str),
            ["android", "ios", "desktop", "web"]
        );
        assert_eq!(Platform::parse("linux"), None);
    }

    #[test]
    fn cert_source_helpers_use_the_documented_names() {
        assert_eq!(
            CertSource::ALL.map(CertSource::as_str),
            ["tls", "lambda-context", "alb", "header", "xfcc"]
        );
    }
}
