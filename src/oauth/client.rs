//! Calls to the OAuth providers' token and revocation endpoints.
//!
//! One [`ProviderClient`] is built at start-up and shared by every request: pooled connections, rustls
//! with the bundled Mozilla roots (no system CA files), a total timeout of `OAUTH_HTTP_TIMEOUT_SECONDS`
//! per call, 5 s to connect, no redirects followed and no retries (authorization codes are single-use).
//! Provider answers are mapped to [`OAuthError`] without ever keeping their bodies, `error_description`
//! or URLs in an error message. Each call runs in an `oauth.<provider>.<operation>` span and, with
//! OpenTelemetry enabled, carries that span's `X-Amzn-Trace-Id` and `traceparent`.

use std::time::Duration;

use serde_json::Value;
use tracing::Instrument;

use crate::config::{OAuthConfig, ProviderId, SecretValue};
use crate::oauth::authorize::ONEDRIVE_SCOPE;
use crate::telemetry::otel;

/// Provider answers larger than this are invalid.
pub const MAX_PROVIDER_BODY: usize = 64 * 1024;

/// Tokens as returned to the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// The access token.
    pub access_token: String,
    /// The refresh token, when the provider issued one.
    pub refresh_token: Option<String>,
    /// Lifetime in seconds; 3600 when the provider omits it.
    pub expires_in: i64,
    /// Token type; `Bearer` when the provider omits it.
    pub token_type: String,
}

/// How a provider call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The provider rejected the request (4xx): 400 with the provider's error code.
    #[error("the provider rejected the request: {code}")]
    Rejected {
        /// The provider's `error`, when it is a safe token, else `provider_error`.
        code: String,
    },
    /// The provider rejected this service's client credentials: 502.
    #[error("the provider rejected the client credentials")]
    RejectedClient,
    /// The answer was not usable (not JSON, no access token, too large): 502.
    #[error("the provider returned an invalid response")]
    InvalidResponse,
    /// The provider could not be reached, redirected, throttled or failed (3xx, 429, 5xx): 502.
    #[error("the provider is unavailable: {0}")]
    Unavailable(&'static str),
    /// No answer within `OAUTH_HTTP_TIMEOUT_SECONDS`: 504.
    #[error("the provider did not answer in time")]
    Timeout,
    /// The provider is configured without the credential this call needs (a start-up bug).
    #[error("a credential of this provider is not available")]
    MissingCredential,
}

/// Whether a provider `error` code may be echoed: `^[A-Za-z0-9_.-]{1,64}$`.
pub fn is_safe_error_code(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The shared outbound client.
#[derive(Debug, Clone)]
pub struct ProviderClient {
    http: reqwest::Client,
}

/// A provider's answer, read whole (at most [`MAX_PROVIDER_BODY`] bytes).
struct Answer {
    status: u16,
    body: Option<Vec<u8>>,
}

impl ProviderClient {
    /// Builds the client; no network I/O happens here.
    pub fn new(timeout: Duration) -> Result<ProviderClient, String> {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("apuntador/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .build()
            .map_err(|e| format!("could not build the outbound HTTP client: {e}"))?;
        Ok(ProviderClient { http })
    }

    /// Sends `request` inside `span`, the `oauth.<provider>.<operation>` span, with the span's
    /// `X-Amzn-Trace-Id` and `traceparent` when it is exported.
    async fn send(
        &self,
        mut request: reqwest::RequestBuilder,
        span: tracing::Span,
    ) -> Result<Answer, OAuthError> {
        for (name, value) in otel::outgoing_headers(&span) {
            request = request.header(name, value);
        }
        let result = self.receive(request).instrument(span.clone()).await;
        match &result {
            Ok(answer) => {
                span.record("http.response.status_code", answer.status);
                if answer.status >= 400 {
                    span.record("otel.status_code", "error");
                }
            }
            Err(_) => {
                span.record("otel.status_code", "error");
            }
        }
        result
    }

    async fn receive(&self, request: reqwest::RequestBuilder) -> Result<Answer, OAuthError> {
        let mut response = request.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_PROVIDER_BODY {
                        return Ok(Answer { status, body: None });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(err) => return Err(transport_error(err)),
            }
        }
        Ok(Answer {
            status,
            body: Some(body),
        })
    }

    /// Exchanges an authorization code at the provider's token endpoint.
    pub async fn exchange_code(
        &self,
        config: &OAuthConfig,
        provider: ProviderId,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<Tokens, OAuthError> {
        let creds = Credentials::of(config, provider)?;
        let mut form: Vec<(&str, &str)> = vec![("client_id", &creds.client_id)];
        if let Some(secret) = creds
            .client_secret
            .as_deref()
            .filter(|_| provider != ProviderId::Dropbox)
        {
            form.push(("client_secret", secret));
        }
        form.extend([
            ("code", code),
            ("code_verifier", code_verifier),
            ("grant_type", "authorization_code"),
            ("redirect_uri", redirect_uri),
        ]);
        if provider == ProviderId::OneDrive {
            form.push(("scope", ONEDRIVE_SCOPE));
        }
        if let Some(secret) = creds
            .client_secret
            .as_deref()
            .filter(|_| provider == ProviderId::Dropbox)
        {
            form.push(("client_secret", secret));
        }
        let answer = self
            .send(
                self.http.post(creds.token_url).form(&form),
                provider_span(provider, "token"),
            )
            .await?;
        tokens_from(answer)
    }

    /// Refreshes an access token at the provider's token endpoint.
    pub async fn refresh(
        &self,
        config: &OAuthConfig,
        provider: ProviderId,
        refresh_token: &str,
    ) -> Result<Tokens, OAuthError> {
        let creds = Credentials::of(config, provider)?;
        let mut form: Vec<(&str, &str)> = vec![("client_id", &creds.client_id)];
        if let Some(secret) = creds
            .client_secret
            .as_deref()
            .filter(|_| provider != ProviderId::Dropbox)
        {
            form.push(("client_secret", secret));
        }
        form.extend([
            ("refresh_token", refresh_token),
            ("grant_type", "refresh_token"),
        ]);
        if provider == ProviderId::OneDrive {
            form.push(("scope", ONEDRIVE_SCOPE));
        }
        if let Some(secret) = creds
            .client_secret
            .as_deref()
            .filter(|_| provider == ProviderId::Dropbox)
        {
            form.push(("client_secret", secret));
        }
        let answer = self
            .send(
                self.http.post(creds.token_url).form(&form),
                provider_span(provider, "refresh"),
            )
            .await?;
        tokens_from(answer)
    }

    /// Revokes a token: `Ok(true)` iff the provider answered 200; `Ok(false)` for any other
    /// answer. OneDrive has no revocation endpoint and is never called (`Ok(false)`).
    pub async fn revoke(
        &self,
        config: &OAuthConfig,
        provider: ProviderId,
        token: &str,
    ) -> Result<bool, OAuthError> {
        let request = match provider {
            ProviderId::GoogleDrive => self
                .http
                .post(&config.google.revoke_url)
                .query(&[("token", token)])
                .header(reqwest::header::CONTENT_LENGTH, "0"),
            ProviderId::Dropbox => self
                .http
                .post(&config.dropbox.revoke_url)
                .bearer_auth(token),
            ProviderId::OneDrive => return Ok(false),
        };
        let answer = self
            .send(request, provider_span(provider, "revoke"))
            .await?;
        Ok(answer.status == 200)
    }
}

/// The span of one provider call, `oauth.<provider>.<token|refresh|revoke>`. Its
/// attributes are the provider id, the operation and the answer's status: never the URL, a token or
/// a code.
fn provider_span(provider: ProviderId, operation: &'static str) -> tracing::Span {
    tracing::info_span!(
        "oauth.provider_call",
        otel.name = format!("oauth.{}.{operation}", provider.as_str()),
        otel.kind = "client",
        oauth.provider = provider.as_str(),
        oauth.operation = operation,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    )
}

/// A provider's client id, optional secret and token URL.
struct Credentials<'a> {
    client_id: String,
    client_secret: Option<String>,
    token_url: &'a str,
}

impl<'a> Credentials<'a> {
    fn of(config: &'a OAuthConfig, provider: ProviderId) -> Result<Credentials<'a>, OAuthError> {
        let expose =
            |v: &Option<SecretValue>| v.as_ref().and_then(|s| s.expose()).map(str::to_owned);
        let (id, secret, token_url) = match provider {
            ProviderId::GoogleDrive => (
                &config.google.client_id,
                &config.google.client_secret,
                config.google.token_url.as_str(),
            ),
            ProviderId::Dropbox => (
                &config.dropbox.client_id,
                &config.dropbox.client_secret,
                config.dropbox.token_url.as_str(),
            ),
            ProviderId::OneDrive => (
                &config.onedrive.client_id,
                &config.onedrive.client_secret,
                config.onedrive.token_url.as_str(),
            ),
        };
        let client_id = expose(id).ok_or(OAuthError::MissingCredential)?;
        let client_secret = expose(secret);
        if client_secret.is_none() && provider != ProviderId::Dropbox {
            return Err(OAuthError::MissingCredential);
        }
        Ok(Credentials {
            client_id,
            client_secret,
            token_url,
        })
    }
}

fn transport_error(err: reqwest::Error) -> OAuthError {
    if err.is_timeout() {
        OAuthError::Timeout
    } else if err.is_connect() {
        OAuthError::Unavailable("connection failed")
    } else {
        OAuthError::Unavailable("transport failure")
    }
}

/// Maps a token or refresh answer.
fn tokens_from(answer: Answer) -> Result<Tokens, OAuthError> {
    let body = match answer.body {
        Some(body) => body,
        None if (200..300).contains(&answer.status) => return Err(OAuthError::InvalidResponse),
        // An oversized error answer is mapped by its status alone.
        None => Vec::new(),
    };
    match answer.status {
        200..=299 => {
            let json: Value =
                serde_json::from_slice(&body).map_err(|_| OAuthError::InvalidResponse)?;
            let access_token = json
                .get("access_token")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .ok_or(OAuthError::InvalidResponse)?;
            let refresh_token = json
                .get("refresh_token")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let expires_in = match json.get("expires_in") {
                Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
                Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
                _ => None,
            }
            .unwrap_or(3600);
            let token_type = json
                .get("token_type")
                .and_then(Value::as_str)
                .unwrap_or("Bearer")
                .to_owned();
            Ok(Tokens {
                access_token: access_token.to_owned(),
                refresh_token,
                expires_in,
                token_type,
            })
        }
        400..=499 if answer.status != 429 => {
            let code = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
            match code.as_deref() {
                Some("invalid_client" | "unauthorized_client") => Err(OAuthError::RejectedClient),
                Some(c) if is_safe_error_code(c) => {
                    Err(OAuthError::Rejected { code: c.to_owned() })
                }
                _ => Err(OAuthError::Rejected {
                    code: "provider_error".into(),
                }),
            }
        }
        _ => Err(OAuthError::Unavailable("unexpected status")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: Some(body.as_bytes().to_vec()),
        }
    }

    #[test]
    fn token_answers_fill_defaults_and_accept_string_lifetimes() {
        let t = tokens_from(answer(
            200,
            r#"{"access_token":"a","expires_in":"120","extra":1}"#,
        ))
        .unwrap();
        assert_eq!(
            t,
            Tokens {
                access_token: "a".into(),
                refresh_token: None,
                expires_in: 120,
                token_type: "Bearer".into()
            }
        );
        let t = tokens_from(answer(
            200,
            r#"{"access_token":"a","refresh_token":"r","token_type":"bearer"}"#,
        ))
        .unwrap();
        assert_eq!(
            (
                t.expires_in,
                t.token_type.as_str(),
                t.refresh_token.as_deref()
            ),
            (3600, "bearer", Some("r"))
        );
    }

    #[test]
    fn unusable_success_answers_are_invalid_responses() {
        for body in [
            "not json",
            r#"{"access_token":""}"#,
            r#"{"token":"x"}"#,
            "[]",
        ] {
            assert_eq!(
                tokens_from(answer(200, body)),
                Err(OAuthError::InvalidResponse),
                "{body}"
            );
        }
        assert_eq!(
            tokens_from(Answer {
                status: 200,
                body: None
            }),
            Err(OAuthError::InvalidResponse)
        );
    }

    #[test]
    fn client_errors_map_per_the_provider_error_code() {
        assert_eq!(
            tokens_from(answer(400, r#"{"error":"invalid_grant"}"#)),
            Err(OAuthError::Rejected {
                code: "invalid_grant".into()
            })
        );
        assert_eq!(
            tokens_from(answer(401, r#"{"error":"invalid_client"}"#)),
            Err(OAuthError::RejectedClient)
        );
        assert_eq!(
            tokens_from(answer(400, r#"{"error":"unauthorized_client"}"#)),
            Err(OAuthError::RejectedClient)
        );
        assert_eq!(
            tokens_from(answer(400, r#"{"error":"bad code <script>"}"#)),
            Err(OAuthError::Rejected {
                code: "provider_error".into()
            })
        );
        assert_eq!(
            tokens_from(answer(400, "<html>")),
            Err(OAuthError::Rejected {
                code: "provider_error".into()
            })
        );
    }

    #[test]
    fn redirects_throttling_and_server_errors_are_unavailable() {
        for status in [302, 429, 500, 503] {
            assert!(
                matches!(
                    tokens_from(answer(status, "{}")),
                    Err(OAuthError::Unavailable(_))
                ),
                "{status}"
            );
        }
    }
}
