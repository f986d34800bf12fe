//! The OAuth proxy: which providers are served, the redirect URIs an app may ask for, session and
//! outbound timeouts, and each provider's credentials, callback URL and endpoints. A listed provider
//! without credentials is dropped in development and refused in production; every URL must be https in
//! production.

use std::time::Duration;

use super::values::{
    check_authority, check_endpoint, check_url, has_bad_chars, is_https, parse_http_url,
    split_scheme,
};
use super::{Reader, SecretValue};

/// OAuth provider ids, in the fixed order used by `/config/providers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderId {
    /// `googledrive`
    GoogleDrive,
    /// `dropbox`
    Dropbox,
    /// `onedrive`
    OneDrive,
}

impl ProviderId {
    /// All providers, in the documented order.
    pub const ALL: [ProviderId; 3] = [
        ProviderId::GoogleDrive,
        ProviderId::Dropbox,
        ProviderId::OneDrive,
    ];

    /// The exact, case-sensitive path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderId::GoogleDrive => "googledrive",
            ProviderId::Dropbox => "dropbox",
            ProviderId::OneDrive => "onedrive",
        }
    }

    /// Parses an exact path segment.
    pub fn parse(segment: &str) -> Option<ProviderId> {
        ProviderId::ALL.into_iter().find(|p| p.as_str() == segment)
    }
}

/// OAuth proxy settings.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// Providers that are served: listed in `ENABLED_CLOUD_PROVIDERS` (default `googledrive,dropbox`)
    /// AND having their required credentials. In development a listed provider without credentials is
    /// dropped from here and named in `disabled_for_missing_credentials`; in production that is a problem.
    pub enabled_providers: Vec<ProviderId>,
    /// Listed providers dropped in development for missing credentials, with the missing variable names.
    pub disabled_for_missing_credentials: Vec<(ProviderId, Vec<&'static str>)>,
    /// `ALLOWED_REDIRECT_URIS`, default `apuntador://oauth-callback`: the redirect URIs an app may ask for.
    pub allowed_redirect_uris: Vec<RedirectRule>,
    /// `OAUTH_FALLBACK_REDIRECT_URI`, default `apuntador://oauth-callback`.
    pub fallback_redirect_uri: String,
    /// `OAUTH_SESSION_TTL_SECONDS`, default 600 s, 60-3600.
    pub session_ttl: Duration,
    /// `OAUTH_HTTP_TIMEOUT_SECONDS`, default 10 s, 1-60.
    pub http_timeout: Duration,
    /// Google Drive.
    pub google: GoogleConfig,
    /// Dropbox.
    pub dropbox: DropboxConfig,
    /// OneDrive (Microsoft identity platform).
    pub onedrive: OneDriveConfig,
}

/// One entry of the redirect_uri allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectRule {
    /// Byte-wise exact match.
    Exact(String),
    /// Entry ending in `*`: byte-wise prefix match on the text before the `*`.
    Prefix(String),
    /// A lone `*` (development only).
    Any,
}

/// Google Drive settings.
#[derive(Debug, Clone)]
pub struct GoogleConfig {
    /// `GOOGLE_CLIENT_ID` (S).
    pub client_id: Option<SecretValue>,
    /// `GOOGLE_CLIENT_SECRET` (S).
    pub client_secret: Option<SecretValue>,
    /// `GOOGLE_REDIRECT_URI`, default `http://localhost:$PORT/oauth/callback/googledrive`
    /// (`https://` when the server terminates TLS itself, `TLS_CERT_FILE`).
    pub redirect_uri: String,
    /// `GOOGLE_AUTHORIZE_URL`, default `https://accounts.google.com/o/oauth2/v2/auth`.
    pub authorize_url: String,
    /// `GOOGLE_TOKEN_URL`, default `https://oauth2.googleapis.com/token`.
    pub token_url: String,
    /// `GOOGLE_REVOKE_URL`, default `https://oauth2.googleapis.com/revoke`.
    pub revoke_url: String,
}

/// Dropbox settings (PKCE; the client secret is optional).
#[derive(Debug, Clone)]
pub struct DropboxConfig {
    /// `DROPBOX_CLIENT_ID` (S).
    pub client_id: Option<SecretValue>,
    /// `DROPBOX_CLIENT_SECRET` (S), optional.
    pub client_secret: Option<SecretValue>,
    /// `DROPBOX_AUTHORIZE_URL`, default `https://www.dropbox.com/oauth2/authorize`.
    pub authorize_url: String,
    /// `DROPBOX_TOKEN_URL`, default `https://api.dropboxapi.com/oauth2/token`.
    pub token_url: String,
    /// `DROPBOX_REVOKE_URL`, default `https://api.dropboxapi.com/2/auth/token/revoke`.
    pub revoke_url: String,
}

/// OneDrive settings.
#[derive(Debug, Clone)]
pub struct OneDriveConfig {
    /// `ONEDRIVE_CLIENT_ID` (S).
    pub client_id: Option<SecretValue>,
    /// `ONEDRIVE_CLIENT_SECRET` (S).
    pub client_secret: Option<SecretValue>,
    /// `ONEDRIVE_REDIRECT_URI`, default `http://localhost:$PORT/oauth/callback/onedrive`
    /// (`https://` when the server terminates TLS itself, `TLS_CERT_FILE`).
    pub redirect_uri: String,
    /// `ONEDRIVE_TENANT`, default `common`.
    pub tenant: String,
    /// `ONEDRIVE_AUTHORIZE_URL`, default `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/authorize`.
    pub authorize_url: String,
    /// `ONEDRIVE_TOKEN_URL`, default `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`.
    pub token_url: String,
}

/// Default `ALLOWED_REDIRECT_URIS` and `OAUTH_FALLBACK_REDIRECT_URI`: the app's own callback.
const DEFAULT_REDIRECT_URI: &str = "apuntador://oauth-callback";

impl Reader<'_> {
    /// The OAuth settings; a listed provider without its credentials is dropped in development and a
    /// problem in production.
    pub(super) fn oauth(&mut self) -> OAuthConfig {
        let listed = self.providers();
        let allowed_redirect_uris = self.redirect_rules();
        let fallback_redirect_uri = self.value(
            "OAUTH_FALLBACK_REDIRECT_URI",
            DEFAULT_REDIRECT_URI.to_owned(),
            |raw| check_absolute_uri(raw).map(|()| raw.to_owned()),
        );
        let session_ttl = self.seconds("OAUTH_SESSION_TTL_SECONDS", 600, 60..=3600);
        let http_timeout = self.seconds("OAUTH_HTTP_TIMEOUT_SECONDS", 10, 1..=60);

        let google = GoogleConfig {
            client_id: self.secret("GOOGLE_CLIENT_ID"),
            client_secret: self.secret("GOOGLE_CLIENT_SECRET"),
            redirect_uri: self.provider_redirect_uri(
                "GOOGLE_REDIRECT_URI",
                &self.default_callback("googledrive"),
                listed.contains(&ProviderId::GoogleDrive),
            ),
            authorize_url: self.endpoint(
                "GOOGLE_AUTHORIZE_URL",
                "https://accounts.google.com/o/oauth2/v2/auth",
            ),
            token_url: self.endpoint("GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com/token"),
            revoke_url: self.endpoint("GOOGLE_REVOKE_URL", "https://oauth2.googleapis.com/revoke"),
        };
        // DROPBOX_REDIRECT_URI is accepted for compatibility and never read: the Dropbox flow uses the
        // redirect URI of the authorize request.
        let dropbox = DropboxConfig {
            client_id: self.secret("DROPBOX_CLIENT_ID"),
            client_secret: self.secret("DROPBOX_CLIENT_SECRET"),
            authorize_url: self.endpoint(
                "DROPBOX_AUTHORIZE_URL",
                "https://www.dropbox.com/oauth2/authorize",
            ),
            token_url: self.endpoint(
                "DROPBOX_TOKEN_URL",
                "https://api.dropboxapi.com/oauth2/token",
            ),
            revoke_url: self.endpoint(
                "DROPBOX_REVOKE_URL",
                "https://api.dropboxapi.com/2/auth/token/revoke",
            ),
        };
        let tenant = self.value("ONEDRIVE_TENANT", "common".to_owned(), check_tenant);
        let microsoft = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0");
        let onedrive = OneDriveConfig {
            client_id: self.secret("ONEDRIVE_CLIENT_ID"),
            client_secret: self.secret("ONEDRIVE_CLIENT_SECRET"),
            redirect_uri: self.provider_redirect_uri(
                "ONEDRIVE_REDIRECT_URI",
                &self.default_callback("onedrive"),
                listed.contains(&ProviderId::OneDrive),
            ),
            authorize_url: self
                .endpoint("ONEDRIVE_AUTHORIZE_URL", &format!("{microsoft}/authorize")),
            token_url: self.endpoint("ONEDRIVE_TOKEN_URL", &format!("{microsoft}/token")),
            tenant,
        };

        let mut enabled_providers = Vec::new();
        let mut disabled_for_missing_credentials = Vec::new();
        for provider in listed {
            let required: &[(&'static str, bool)] = match provider {
                ProviderId::GoogleDrive => &[
                    ("GOOGLE_CLIENT_ID", google.client_id.is_some()),
                    ("GOOGLE_CLIENT_SECRET", google.client_secret.is_some()),
                ],
                ProviderId::Dropbox => &[("DROPBOX_CLIENT_ID", dropbox.client_id.is_some())],
                ProviderId::OneDrive => &[
                    ("ONEDRIVE_CLIENT_ID", onedrive.client_id.is_some()),
                    ("ONEDRIVE_CLIENT_SECRET", onedrive.client_secret.is_some()),
                ],
            };
            let missing: Vec<&'static str> = required
                .iter()
                .filter(|(_, present)| !present)
                .map(|(name, _)| *name)
                .collect();
            if missing.is_empty() {
                enabled_providers.push(provider);
            } else if self.production {
                for name in missing {
                    self.problem(
                        name,
                        format!(
                            "must be set in production because {} is enabled",
                            provider.as_str()
                        ),
                    );
                }
                enabled_providers.push(provider);
            } else {
                disabled_for_missing_credentials.push((provider, missing));
            }
        }

        OAuthConfig {
            enabled_providers,
            disabled_for_missing_credentials,
            allowed_redirect_uris,
            fallback_redirect_uri,
            session_ttl,
            http_timeout,
            google,
            dropbox,
            onedrive,
        }
    }

    /// `ENABLED_CLOUD_PROVIDERS`: lower-cased, deduplicated, in the fixed order of [`ProviderId::ALL`];
    /// `none` alone turns the OAuth proxy off.
    fn providers(&mut self) -> Vec<ProviderId> {
        let mut providers = Vec::new();
        let items = self.list("ENABLED_CLOUD_PROVIDERS", "googledrive,dropbox");
        if let [only] = items.as_slice()
            && only.eq_ignore_ascii_case("none")
        {
            return providers;
        }
        for item in items {
            match ProviderId::parse(&item.to_ascii_lowercase()) {
                Some(provider) => providers.push(provider),
                None => self.problem(
                    "ENABLED_CLOUD_PROVIDERS",
                    format!(
                        "{item:?} is not a provider (googledrive, dropbox, onedrive, or none alone)"
                    ),
                ),
            }
        }
        providers.sort();
        providers.dedup();
        providers
    }

    /// `ALLOWED_REDIRECT_URIS`: each entry parsed by [`parse_redirect_rule`].
    fn redirect_rules(&mut self) -> Vec<RedirectRule> {
        let mut rules = Vec::new();
        for entry in self.list("ALLOWED_REDIRECT_URIS", DEFAULT_REDIRECT_URI) {
            match parse_redirect_rule(&entry, self.production) {
                Ok(rule) => rules.push(rule),
                Err(message) => self.problem("ALLOWED_REDIRECT_URIS", message),
            }
        }
        rules
    }

    /// The default callback URL of `provider` on this server: `localhost` at `PORT`, over https when the
    /// server terminates TLS itself.
    fn default_callback(&self, provider: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!(
            "{scheme}://localhost:{}/oauth/callback/{provider}",
            self.port
        )
    }

    /// A provider's own callback URL: absolute http/https, no fragment; https in production when enabled.
    fn provider_redirect_uri(&mut self, name: &str, default: &str, enabled: bool) -> String {
        if !self.is_set(name) {
            if self.production && enabled {
                self.problem(
                    name,
                    format!("must be set to an https URL in production (the default is {default})"),
                );
            }
            return default.to_owned();
        }
        let Some(uri) = self.optional(name, |raw| check_url(raw).map(|()| raw.to_owned())) else {
            return default.to_owned();
        };
        if self.production && enabled && !is_https(&uri) {
            self.problem(name, format!("{uri:?} must be an https URL in production"));
        }
        uri
    }

    /// A provider endpoint override: absolute http/https, no query, no fragment; https in production.
    fn endpoint(&mut self, name: &str, default: &str) -> String {
        let Some(url) = self.optional(name, |raw| check_endpoint(raw).map(|()| raw.to_owned()))
        else {
            return default.to_owned();
        };
        if self.production && !is_https(&url) {
            self.problem(name, format!("{url:?} must be an https URL in production"));
        }
        url
    }
}

/// An RFC 3986 absolute URI (scheme, no fragment); http/https ones also need a valid host.
fn check_absolute_uri(raw: &str) -> Result<(), String> {
    let fail = |why: &str| Err(format!("{raw:?} is not an absolute URI: {why}"));
    if has_bad_chars(raw) {
        return fail("it contains spaces or control characters");
    }
    if !raw.is_ascii() {
        return fail("it contains non-ASCII characters (percent-encode them)");
    }
    let Some((scheme, rest)) = split_scheme(raw) else {
        return fail("it has no scheme");
    };
    if rest.is_empty() {
        return fail("it has nothing after the scheme");
    }
    if raw.contains('#') {
        return fail("it must not contain a fragment (#)");
    }
    if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
        parse_http_url(raw)?;
    }
    Ok(())
}

/// The hosts for which a plain-http redirect URI is accepted in production.
fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1" || host == "[::1]"
}

/// One `ALLOWED_REDIRECT_URIS` entry: an exact URI, a prefix ending in `*`, or a lone `*` (development
/// only); http entries in production only for loopback hosts.
fn parse_redirect_rule(entry: &str, production: bool) -> Result<RedirectRule, String> {
    if entry == "*" {
        return if production {
            Err("a lone * (any redirect URI) is refused in production".to_owned())
        } else {
            Ok(RedirectRule::Any)
        };
    }
    let (text, prefix) = match entry.find('*') {
        None => (entry, false),
        Some(i) if i == entry.len() - 1 => (&entry[..i], true),
        Some(_) => {
            return Err(format!(
                "{entry:?}: * may appear only once, as the last character"
            ));
        }
    };
    let fail = |why: &str| Err(format!("{entry:?} is not an absolute URI: {why}"));
    if has_bad_chars(text) {
        return fail("it contains spaces or control characters");
    }
    if !text.is_ascii() {
        return fail("it contains non-ASCII characters (percent-encode them)");
    }
    let Some((scheme, rest)) = split_scheme(text) else {
        return fail("it has no scheme");
    };
    if text.contains('#') {
        return fail("it must not contain a fragment (#)");
    }
    let http = scheme.eq_ignore_ascii_case("http");
    if http || scheme.eq_ignore_ascii_case("https") {
        let Some(after) = rest.strip_prefix("//") else {
            return fail("it has no host");
        };
        let authority = if prefix {
            match after.find('/') {
                Some(slash) => &after[..slash],
                None => {
                    return Err(format!(
                        "{entry:?}: an http/https prefix rule must contain the host and a / after it"
                    ));
                }
            }
        } else {
            &after[..after.find(['/', '?']).unwrap_or(after.len())]
        };
        let host = match check_authority(authority) {
            Ok(host) => host,
            Err(why) => return fail(why),
        };
        if production && http && !is_loopback_host(host) {
            return Err(format!(
                "{entry:?}: http redirect URIs are accepted in production only for localhost, 127.0.0.1 and [::1]"
            ));
        }
    } else if rest.is_empty() && !prefix {
        return fail("it has nothing after the scheme");
    }
    Ok(if prefix {
        RedirectRule::Prefix(text.to_owned())
    } else {
        RedirectRule::Exact(text.to_owned())
    })
}

/// `ONEDRIVE_TENANT`: `common`, `organizations`, `consumers`, a GUID or a domain; stored lower-cased.
fn check_tenant(raw: &str) -> Result<String, String> {
    let tenant = raw.trim().to_ascii_lowercase();
    if matches!(tenant.as_str(), "common" | "organizations" | "consumers")
        || is_guid(&tenant)
        || is_domain(&tenant)
    {
        Ok(tenant)
    } else {
        Err(format!(
            "{raw:?} is not common, organizations, consumers, a tenant GUID or a domain name"
        ))
    }
}

/// A GUID in its 8-4-4-4-12 hexadecimal form.
fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// A DNS name of two or more labels whose last label has a letter.
fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    s.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().any(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::*;

    #[test]
    fn an_empty_lookup_gives_every_documented_oauth_default() {
        let c = ok(&[]);
        assert!(c.oauth.enabled_providers.is_empty());
        assert_eq!(
            c.oauth.disabled_for_missing_credentials,
            vec![
                (
                    ProviderId::GoogleDrive,
                    vec!["GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"]
                ),
                (ProviderId::Dropbox, vec!["DROPBOX_CLIENT_ID"]),
            ]
        );
        assert_eq!(
            c.oauth.allowed_redirect_uris,
            [RedirectRule::Exact("apuntador://oauth-callback".into())]
        );
        assert_eq!(c.oauth.fallback_redirect_uri, "apuntador://oauth-callback");
        assert_eq!(c.oauth.session_ttl, Duration::from_secs(600));
        assert_eq!(c.oauth.http_timeout, Duration::from_secs(10));
        assert_eq!(
            c.oauth.google.redirect_uri,
            "http://localhost:8000/oauth/callback/googledrive"
        );
        assert_eq!(
            c.oauth.google.authorize_url,
            "https://accounts.google.com/o/oauth2/v2/auth"
        );
        assert_eq!(
            c.oauth.google.token_url,
            "https://oauth2.googleapis.com/token"
        );
        assert_eq!(
            c.oauth.google.revoke_url,
            "https://oauth2.googleapis.com/revoke"
        );
        assert_eq!(
            c.oauth.dropbox.authorize_url,
            "https://www.dropbox.com/oauth2/authorize"
        );
        assert_eq!(
            c.oauth.dropbox.token_url,
            "https://api.dropboxapi.com/oauth2/token"
        );
        assert_eq!(
            c.oauth.dropbox.revoke_url,
            "https://api.dropboxapi.com/2/auth/token/revoke"
        );
        assert_eq!(
            c.oauth.onedrive.redirect_uri,
            "http://localhost:8000/oauth/callback/onedrive"
        );
        assert_eq!(c.oauth.onedrive.tenant, "common");
        assert_eq!(
            c.oauth.onedrive.authorize_url,
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
        );
        assert_eq!(
            c.oauth.onedrive.token_url,
            "https://login.microsoftonline.com/common/oauth2/v2.0/token"
        );
    }

    /// Every validation rule of this area, refused side: (variable, value, part of the message).
    #[test]
    fn each_invalid_oauth_value_is_reported_against_its_variable() {
        assert_each_refused(&[
            (
                "ENABLED_CLOUD_PROVIDERS",
                "googledrive,icloud",
                "\"icloud\" is not a provider",
            ),
            (
                "ALLOWED_REDIRECT_URIS",
                "oauth-callback",
                "is not an absolute URI",
            ),
            (
                "ALLOWED_REDIRECT_URIS",
                "https://app.example.com*",
                "must contain the host and a / after it",
            ),
            (
                "ALLOWED_REDIRECT_URIS",
                "https://*.example.com/",
                "may appear only once, as the last character",
            ),
            (
                "ALLOWED_REDIRECT_URIS",
                "https://app.example.com/**",
                "may appear only once",
            ),
            (
                "ALLOWED_REDIRECT_URIS",
                "https://app.example.com/cb#x",
                "must not contain a fragment",
            ),
            ("ALLOWED_REDIRECT_URIS", "https:///cb", "has no host"),
            (
                "ALLOWED_REDIRECT_URIS",
                "myapp:",
                "nothing after the scheme",
            ),
            (
                "OAUTH_FALLBACK_REDIRECT_URI",
                "/relative",
                "is not an absolute URI",
            ),
            (
                "OAUTH_FALLBACK_REDIRECT_URI",
                "apuntador://cb#frag",
                "must not contain a fragment",
            ),
            (
                "OAUTH_SESSION_TTL_SECONDS",
                "59",
                "is not a number of seconds (60-3600)",
            ),
            ("OAUTH_SESSION_TTL_SECONDS", "3601", "(60-3600)"),
            (
                "OAUTH_HTTP_TIMEOUT_SECONDS",
                "61",
                "is not a number of seconds (1-60)",
            ),
            (
                "GOOGLE_REDIRECT_URI",
                "/oauth/callback/googledrive",
                "is not an absolute http/https URL",
            ),
            (
                "GOOGLE_REDIRECT_URI",
                "ftp://example.com/cb",
                "scheme must be http or https",
            ),
            (
                "GOOGLE_REDIRECT_URI",
                "https://example.com/cb#x",
                "must not contain a fragment",
            ),
            (
                "GOOGLE_AUTHORIZE_URL",
                "https://example.com/auth?x=1",
                "must not contain a query",
            ),
            (
                "GOOGLE_TOKEN_URL",
                "https://example.com/token#x",
                "or a fragment",
            ),
            (
                "GOOGLE_REVOKE_URL",
                "example.com/revoke",
                "is not an absolute http/https URL",
            ),
            (
                "DROPBOX_AUTHORIZE_URL",
                "ws://example.com/auth",
                "scheme must be http or https",
            ),
            (
                "DROPBOX_TOKEN_URL",
                "http://exa mple.com/token",
                "spaces or control characters",
            ),
            (
                "DROPBOX_REVOKE_URL",
                "http://user:pw@example.com/",
                "must not contain user information",
            ),
            (
                "ONEDRIVE_REDIRECT_URI",
                "onedrive-callback",
                "is not an absolute http/https URL",
            ),
            (
                "ONEDRIVE_TENANT",
                "my tenant",
                "is not common, organizations, consumers, a tenant GUID or a domain",
            ),
            ("ONEDRIVE_TENANT", "contoso", "a domain name"),
            (
                "ONEDRIVE_TENANT",
                "1234567-89ab-cdef-0123-456789abcdef",
                "a tenant GUID",
            ),
            (
                "ONEDRIVE_AUTHORIZE_URL",
                "https://login.example.com/auth?p=1",
                "must not contain a query",
            ),
            (
                "ONEDRIVE_TOKEN_URL",
                "login.example.com/token",
                "is not an absolute http/https URL",
            ),
        ]);
    }

    /// Every validation rule of this area, accepted side.
    #[test]
    fn each_valid_oauth_value_is_accepted() {
        assert_each_accepted(&[
            ("ENABLED_CLOUD_PROVIDERS", "GoogleDrive, ONEDRIVE"),
            ("ENABLED_CLOUD_PROVIDERS", ","),
            ("ENABLED_CLOUD_PROVIDERS", "None"),
            ("ALLOWED_REDIRECT_URIS", "*"),
            (
                "ALLOWED_REDIRECT_URIS",
                "https://app.example.com/*,apuntador://oauth-callback",
            ),
            (
                "ALLOWED_REDIRECT_URIS",
                "http://example.com/callback,com.example.app:/oauth2redirect",
            ),
            (
                "ALLOWED_REDIRECT_URIS",
                "apuntador:*,http://localhost:3000/*",
            ),
            (
                "OAUTH_FALLBACK_REDIRECT_URI",
                "https://app.example.com/done?x=1",
            ),
            ("OAUTH_SESSION_TTL_SECONDS", "60"),
            ("OAUTH_SESSION_TTL_SECONDS", "3600"),
            ("OAUTH_HTTP_TIMEOUT_SECONDS", "1"),
            ("GOOGLE_CLIENT_ID", "google-id"),
            (
                "GOOGLE_REDIRECT_URI",
                "https://api.example.com/oauth/callback/googledrive",
            ),
            ("GOOGLE_AUTHORIZE_URL", "http://127.0.0.1:9000/auth"),
            ("GOOGLE_TOKEN_URL", "https://example.com"),
            ("GOOGLE_REVOKE_URL", "https://example.com/revoke"),
            ("DROPBOX_CLIENT_SECRET", "dropbox-secret"),
            ("DROPBOX_REDIRECT_URI", "anything at all: it is unused"),
            (
                "DROPBOX_AUTHORIZE_URL",
                "http://localhost:9001/oauth2/authorize",
            ),
            ("ONEDRIVE_TENANT", "organizations"),
            ("ONEDRIVE_TENANT", "Consumers"),
            ("ONEDRIVE_TENANT", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
            ("ONEDRIVE_TENANT", "contoso.onmicrosoft.com"),
            ("ONEDRIVE_AUTHORIZE_URL", "http://localhost:9002/authorize"),
        ]);
    }

    /// Every production-only refusal of this area: (extra variables over a valid production base,
    /// variable, message part); then the accepted side of the same rules.
    #[test]
    fn each_production_refusal_of_the_oauth_settings_is_a_problem() {
        assert_each_refused_in_production(&[
            (
                &[("ALLOWED_REDIRECT_URIS", "*")],
                "ALLOWED_REDIRECT_URIS",
                "a lone * (any redirect URI) is refused",
            ),
            (
                &[("ALLOWED_REDIRECT_URIS", "http://app.example.com/callback")],
                "ALLOWED_REDIRECT_URIS",
                "only for localhost, 127.0.0.1 and [::1]",
            ),
            (
                &[("ALLOWED_REDIRECT_URIS", "http://localhost.example.com/*")],
                "ALLOWED_REDIRECT_URIS",
                "only for localhost",
            ),
            (
                &[("ALLOWED_REDIRECT_URIS", "HTTP://evil.example.com/cb")],
                "ALLOWED_REDIRECT_URIS",
                "only for localhost",
            ),
            (
                &[
                    ("ENABLED_CLOUD_PROVIDERS", "googledrive"),
                    ("GOOGLE_CLIENT_ID", "g"),
                    ("GOOGLE_CLIENT_SECRET", "gs"),
                    (
                        "GOOGLE_REDIRECT_URI",
                        "http://api.example.com/oauth/callback/googledrive",
                    ),
                ],
                "GOOGLE_REDIRECT_URI",
                "must be an https URL in production",
            ),
            (
                &[
                    ("ENABLED_CLOUD_PROVIDERS", "googledrive"),
                    ("GOOGLE_CLIENT_ID", "g"),
                    ("GOOGLE_CLIENT_SECRET", "gs"),
                ],
                "GOOGLE_REDIRECT_URI",
                "must be set to an https URL in production",
            ),
            (
                &[
                    ("ENABLED_CLOUD_PROVIDERS", "onedrive"),
                    ("ONEDRIVE_CLIENT_ID", "o"),
                    ("ONEDRIVE_CLIENT_SECRET", "os"),
                    (
                        "ONEDRIVE_REDIRECT_URI",
                        "http://api.example.com/oauth/callback/onedrive",
                    ),
                ],
                "ONEDRIVE_REDIRECT_URI",
                "must be an https URL in production",
            ),
            (
                &[("GOOGLE_AUTHORIZE_URL", "http://auth.example.com/")],
                "GOOGLE_AUTHORIZE_URL",
                "https URL in production",
            ),
            (
                &[("GOOGLE_TOKEN_URL", "http://auth.example.com/t")],
                "GOOGLE_TOKEN_URL",
                "https URL in production",
            ),
            (
                &[("GOOGLE_REVOKE_URL", "http://auth.example.com/r")],
                "GOOGLE_REVOKE_URL",
                "https URL in production",
            ),
            (
                &[("DROPBOX_AUTHORIZE_URL", "http://db.example.com/a")],
                "DROPBOX_AUTHORIZE_URL",
                "https URL in production",
            ),
            (
                &[("DROPBOX_TOKEN_URL", "http://db.example.com/t")],
                "DROPBOX_TOKEN_URL",
                "https URL in production",
            ),
            (
                &[("DROPBOX_REVOKE_URL", "http://db.example.com/r")],
                "DROPBOX_REVOKE_URL",
                "https URL in production",
            ),
            (
                &[("ONEDRIVE_AUTHORIZE_URL", "http://ms.example.com/a")],
                "ONEDRIVE_AUTHORIZE_URL",
                "https URL in production",
            ),
            (
                &[("ONEDRIVE_TOKEN_URL", "http://ms.example.com/t")],
                "ONEDRIVE_TOKEN_URL",
                "https URL in production",
            ),
            (
                &[("DROPBOX_CLIENT_ID", "")],
                "DROPBOX_CLIENT_ID",
                "must be set in production because dropbox is enabled",
            ),
            (
                &[
                    ("ENABLED_CLOUD_PROVIDERS", "googledrive"),
                    ("GOOGLE_CLIENT_ID", "g"),
                    (
                        "GOOGLE_REDIRECT_URI",
                        "https://api.example.com/oauth/callback/googledrive",
                    ),
                ],
                "GOOGLE_CLIENT_SECRET",
                "must be set in production because googledrive is enabled",
            ),
            (
                &[
                    ("ENABLED_CLOUD_PROVIDERS", "dropbox,onedrive"),
                    ("ONEDRIVE_CLIENT_SECRET", "os"),
                    (
                        "ONEDRIVE_REDIRECT_URI",
                        "https://api.example.com/oauth/callback/onedrive",
                    ),
                ],
                "ONEDRIVE_CLIENT_ID",
                "because onedrive is enabled",
            ),
        ]);
        assert_each_accepted_in_production(&[
            &[(
                "ALLOWED_REDIRECT_URIS",
                "http://localhost:3000/cb,http://127.0.0.1/*,http://[::1]:8080/cb",
            )],
            &[(
                "ALLOWED_REDIRECT_URIS",
                "https://app.example.com/*,apuntador://oauth-callback",
            )],
            &[("GOOGLE_REDIRECT_URI", "http://not-enabled.example.com/cb")],
            &[("GOOGLE_AUTHORIZE_URL", "https://auth.example.com/authorize")],
            &[
                ("ENABLED_CLOUD_PROVIDERS", "googledrive"),
                ("GOOGLE_CLIENT_ID", "g"),
                ("GOOGLE_CLIENT_SECRET", "gs"),
                (
                    "GOOGLE_REDIRECT_URI",
                    "https://api.example.com/oauth/callback/googledrive",
                ),
            ],
        ]);
    }

    #[test]
    fn enabled_providers_are_lowercased_deduplicated_and_in_fixed_order() {
        let c = ok(&[
            (
                "ENABLED_CLOUD_PROVIDERS",
                "OneDrive, dropbox, GOOGLEDRIVE, dropbox",
            ),
            ("GOOGLE_CLIENT_ID", "g"),
            ("GOOGLE_CLIENT_SECRET", "gs"),
            ("DROPBOX_CLIENT_ID", "d"),
            ("ONEDRIVE_CLIENT_ID", "o"),
            ("ONEDRIVE_CLIENT_SECRET", "os"),
        ]);
        assert_eq!(c.oauth.enabled_providers, ProviderId::ALL);
        assert!(c.oauth.disabled_for_missing_credentials.is_empty());
    }

    #[test]
    fn a_provider_without_credentials_is_disabled_in_development() {
        let c = ok(&[
            ("ENABLED_CLOUD_PROVIDERS", "googledrive,dropbox,onedrive"),
            ("GOOGLE_CLIENT_ID", "g"),
            ("DROPBOX_CLIENT_ID", "d"),
            ("ONEDRIVE_CLIENT_SECRET", "os"),
        ]);
        assert_eq!(c.oauth.enabled_providers, [ProviderId::Dropbox]);
        assert_eq!(
            c.oauth.disabled_for_missing_credentials,
            vec![
                (ProviderId::GoogleDrive, vec!["GOOGLE_CLIENT_SECRET"]),
                (ProviderId::OneDrive, vec!["ONEDRIVE_CLIENT_ID"]),
            ]
        );
    }

    #[test]
    fn dropbox_needs_only_its_client_id() {
        let c = ok(&[
            ("ENABLED_CLOUD_PROVIDERS", "dropbox"),
            ("DROPBOX_CLIENT_ID", "d"),
        ]);
        assert_eq!(c.oauth.enabled_providers, [ProviderId::Dropbox]);
        assert!(c.oauth.dropbox.client_secret.is_none());
    }

    #[test]
    fn redirect_uris_in_the_configuration_must_be_ascii() {
        for (name, value) in [
            ("ALLOWED_REDIRECT_URIS", "https://app.example.com/café/*"),
            ("ALLOWED_REDIRECT_URIS", "apuntador://callback-ñ"),
            ("OAUTH_FALLBACK_REDIRECT_URI", "apuntador://oauth-callbäck"),
        ] {
            let found = problems(&[(name, value)]);
            assert_eq!(found.len(), 1, "{name}={value}: {found:?}");
            assert_eq!(found[0].variable, name);
            assert!(found[0].message.contains("non-ASCII"), "{found:?}");
        }
    }

    #[test]
    fn redirect_rules_are_parsed_into_exact_prefix_and_any() {
        let c = ok(&[(
            "ALLOWED_REDIRECT_URIS",
            "apuntador://oauth-callback, https://app.example.com/oauth/*,*",
        )]);
        assert_eq!(
            c.oauth.allowed_redirect_uris,
            [
                RedirectRule::Exact("apuntador://oauth-callback".into()),
                RedirectRule::Prefix("https://app.example.com/oauth/".into()),
                RedirectRule::Any,
            ]
        );
    }

    #[test]
    fn onedrive_default_urls_are_built_from_the_tenant() {
        let c = ok(&[("ONEDRIVE_TENANT", "Contoso.OnMicrosoft.com")]);
        assert_eq!(c.oauth.onedrive.tenant, "contoso.onmicrosoft.com");
        assert_eq!(
            c.oauth.onedrive.authorize_url,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize"
        );
        assert_eq!(
            c.oauth.onedrive.token_url,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
    }

    #[test]
    fn endpoint_overrides_replace_the_defaults() {
        let c = ok(&[
            ("ONEDRIVE_TENANT", "consumers"),
            ("ONEDRIVE_TOKEN_URL", "http://127.0.0.1:9999/token"),
            ("GOOGLE_TOKEN_URL", "http://127.0.0.1:9998/token"),
        ]);
        assert_eq!(c.oauth.onedrive.token_url, "http://127.0.0.1:9999/token");
        assert_eq!(
            c.oauth.onedrive.authorize_url,
            "https://login.microsoftonline.com/consumers/oauth2/v2.0/authorize"
        );
        assert_eq!(c.oauth.google.token_url, "http://127.0.0.1:9998/token");
    }

    #[test]
    fn enabled_cloud_providers_none_turns_oauth_off_even_in_production() {
        assert!(
            ok(&[("ENABLED_CLOUD_PROVIDERS", "none")])
                .oauth
                .enabled_providers
                .is_empty()
        );
        let pairs = production(&[("ENABLED_CLOUD_PROVIDERS", "NONE")]);
        assert!(ok(&as_refs(&pairs)).oauth.enabled_providers.is_empty());
        assert_problem(
            &[("ENABLED_CLOUD_PROVIDERS", "none,dropbox")],
            "ENABLED_CLOUD_PROVIDERS",
            "\"none\" is not a provider",
        );
    }

    #[test]
    fn provider_redirect_uris_default_to_the_configured_port() {
        let c = ok(&[("PORT", "9123")]);
        assert_eq!(
            c.oauth.google.redirect_uri,
            "http://localhost:9123/oauth/callback/googledrive"
        );
        assert_eq!(
            c.oauth.onedrive.redirect_uri,
            "http://localhost:9123/oauth/callback/onedrive"
        );
    }

    #[test]
    fn provider_redirect_uris_default_to_https_when_the_server_terminates_tls() {
        let c = ok(&[
            ("PORT", "8443"),
            ("TLS_CERT_FILE", "/etc/apuntador/server.crt"),
            ("TLS_KEY_FILE", "/etc/apuntador/server.key"),
            ("CLIENT_CERT_SOURCES", "tls"),
        ]);
        assert_eq!(
            c.oauth.google.redirect_uri,
            "https://localhost:8443/oauth/callback/googledrive"
        );
        assert_eq!(
            c.oauth.onedrive.redirect_uri,
            "https://localhost:8443/oauth/callback/onedrive"
        );
    }
}
