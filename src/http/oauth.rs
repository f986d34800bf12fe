//! OAuth proxy routes: authorize, the provider callback, token exchange, refresh and
//! revocation, for the providers enabled in `ENABLED_CLOUD_PROVIDERS`.

use axum::extract::RawQuery;
use axum::extract::{FromRequestParts, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::config::ProviderId;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::{Fields, FromJsonObject, JsonBody};
use crate::http::{guarded, guarded_write, rules};
use crate::oauth::authorize::{self, AuthorizeError};
use crate::oauth::client::{OAuthError, Tokens};
use crate::oauth::flow::{self, CallbackQuery, ExchangeError};
use crate::oauth::redirect;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/oauth/authorize/{provider}",
            post(guarded_write(authorize_oauth)),
        )
        .route("/oauth/callback/{provider}", get(guarded(oauth_callback)))
        .route(
            "/oauth/token/{provider}",
            post(guarded_write(exchange_token)),
        )
        .route("/oauth/refresh/{provider}", post(guarded(refresh_token)))
        .route("/oauth/revoke/{provider}", post(guarded(revoke_token)))
}

/// A provider path segment that names an enabled provider; anything else is 404
/// `provider_not_enabled`, before the body is looked at.
///
/// The segment is compared exactly as sent: axum's `Path` would percent-decode it, so
/// `/oauth/authorize/%67oogledrive` would be served as `googledrive` while every log names the path
/// that was sent. Every OAuth route ends in `{provider}`, so it is the routed path's last segment.
#[derive(Debug, Clone, Copy)]
pub struct EnabledProvider(pub ProviderId);

impl FromRequestParts<AppState> for EnabledProvider {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let segment = parts.uri.path().rsplit('/').next().unwrap_or_default();
        match ProviderId::parse(segment) {
            Some(p) if state.config.oauth.enabled_providers.contains(&p) => Ok(EnabledProvider(p)),
            _ => Err(ApiError::NotFound {
                code: "provider_not_enabled",
                // The segment is echoed as documented; it is a path value, never a secret.
                detail: format!("OAuth provider '{}' is not enabled", truncate(segment, 64)),
            }),
        }
    }
}

/// `location` as a header value when it is printable ASCII (never raw UTF-8 bytes in `Location`).
fn ascii_location(location: &str) -> Option<HeaderValue> {
    if !location.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    HeaderValue::from_str(location).ok()
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Body of `POST /oauth/authorize/{provider}` (fields and rules: [`rules::AUTHORIZE`]).
#[derive(Debug)]
pub struct AuthorizeRequest {
    /// RFC 7636 verifier.
    pub code_verifier: String,
    /// Where the app wants the result; must be allow-listed.
    pub redirect_uri: String,
    /// Optional client state, stored, never sent to the provider.
    pub state: Option<String>,
}

rules::body_schema!(AuthorizeRequest, rules::AUTHORIZE);

impl FromJsonObject for AuthorizeRequest {
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(object);
        let code_verifier = rules::CODE_VERIFIER.read(&mut f, object);
        let redirect_uri = rules::REDIRECT_URI.read(&mut f, object);
        let state = rules::CLIENT_STATE.read(&mut f, object);
        f.finish(|| {
            Some(AuthorizeRequest {
                code_verifier: code_verifier?,
                redirect_uri: redirect_uri?,
                state,
            })
        })
    }
}

/// Body of a successful authorize answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizeResponse {
    /// The provider URL to open.
    pub authorization_url: String,
    /// The one-time state token.
    pub state: String,
}

/// Starts an authorization: stores a one-time session and returns the provider URL.
#[utoipa::path(
    post,
    path = "/oauth/authorize/{provider}",
    tag = "oauth",
    params(("provider" = String, Path, description = "An OAuth provider this deployment serves")),
    request_body(content = AuthorizeRequest, content_type = "application/json"),
    responses(
        (status = 200, body = AuthorizeResponse),
        (status = 400, description = "redirect_uri not allowed (`invalid_redirect_uri`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 404, description = "Provider not enabled", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
    )
)]
pub async fn authorize_oauth(
    EnabledProvider(provider): EnabledProvider,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<AuthorizeRequest>,
) -> ApiResult<Json<AuthorizeResponse>> {
    let oauth = &state.config.oauth;
    let detail = match redirect::check(&oauth.allowed_redirect_uris, &body.redirect_uri) {
        redirect::Verdict::Allowed => None,
        redirect::Verdict::UnsafePath => Some(redirect::REDIRECT_URI_PATH_RULE),
        redirect::Verdict::NotAllowed => Some("redirect_uri is not allowed"),
    };
    if let Some(detail) = detail {
        return Err(ApiError::BadRequest {
            code: "invalid_redirect_uri",
            detail: detail.into(),
        });
    }
    let started = authorize::start(
        oauth,
        state.sessions.as_ref(),
        provider,
        body.code_verifier,
        body.redirect_uri,
        body.state,
    )
    .await
    .map_err(|err| match err {
        AuthorizeError::Store(e) => ApiError::from(e),
        other => ApiError::Internal {
            cause: other.to_string(),
        },
    })?;
    tracing::info!(provider = provider.as_str(), "authorization started");
    Ok(Json(AuthorizeResponse {
        authorization_url: started.authorization_url,
        state: started.state,
    }))
}

/// The provider's redirect back to this service: for an enabled provider, always a 302 to the app (or to
/// the fallback URI), with every value percent-encoded; it never answers 422.
///
/// `HEAD` answers exactly like `GET` but changes nothing: a link checker or prefetcher that probes the
/// callback URL never deletes the session a provider error would delete. The `Location` is ASCII only;
/// a session holding anything else (stored before redirect_uri had to be ASCII) goes to the fallback
/// URI with `server_error`.
#[utoipa::path(
    get,
    path = "/oauth/callback/{provider}",
    tag = "oauth",
    params(
        ("provider" = String, Path, description = "An OAuth provider this deployment serves"),
        ("code" = Option<String>, Query, description = "Authorization code"),
        ("state" = Option<String>, Query, description = "State token"),
        ("error" = Option<String>, Query, description = "Provider error code"),
        ("error_description" = Option<String>, Query, description = "Provider error description"),
    ),
    responses(
        (status = 302, description = "Redirect to the app's redirect_uri, or to the fallback URI", headers(("Location" = String, description = "Where to go"))),
        (status = 404, description = "Provider not enabled", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
    )
)]
pub async fn oauth_callback(
    EnabledProvider(provider): EnabledProvider,
    State(state): State<AppState>,
    method: http::Method,
    RawQuery(query): RawQuery,
) -> Response {
    let query = CallbackQuery::parse(query.as_deref().unwrap_or(""));
    let effects = if method == http::Method::HEAD {
        flow::SessionEffects::ReadOnly
    } else {
        flow::SessionEffects::Apply
    };
    let location = flow::callback_location(
        &state.config.oauth,
        state.sessions.as_ref(),
        provider,
        &query,
        effects,
    )
    .await;
    let value = ascii_location(&location).unwrap_or_else(|| {
        let fallback = crate::oauth::append_query(
            &state.config.oauth.fallback_redirect_uri,
            &[("error", "server_error"), ("provider", provider.as_str())],
        );
        ascii_location(&fallback).unwrap_or(HeaderValue::from_static("/"))
    });
    let mut res = StatusCode::FOUND.into_response();
    let headers = res.headers_mut();
    headers.insert(header::LOCATION, value);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// Body of `POST /oauth/token/{provider}` (fields and rules: [`rules::TOKEN_EXCHANGE`]).
#[derive(Debug)]
pub struct TokenRequest {
    /// The authorization code.
    pub code: String,
    /// The verifier sent to authorize.
    pub code_verifier: String,
    /// The state token returned by authorize.
    pub state: String,
}

rules::body_schema!(TokenRequest, rules::TOKEN_EXCHANGE);

impl FromJsonObject for TokenRequest {
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(object);
        let code = rules::CODE.read(&mut f, object);
        let code_verifier = rules::CODE_VERIFIER.read(&mut f, object);
        let state = rules::STATE_TOKEN.read(&mut f, object);
        f.finish(|| {
            Some(TokenRequest {
                code: code?,
                code_verifier: code_verifier?,
                state: state?,
            })
        })
    }
}

/// Body of `POST /oauth/refresh/{provider}` (fields and rules: [`rules::REFRESH`]).
#[derive(Debug)]
pub struct RefreshRequest {
    /// The refresh token.
    pub refresh_token: String,
}

rules::body_schema!(RefreshRequest, rules::REFRESH);

impl FromJsonObject for RefreshRequest {
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(object);
        let refresh_token = rules::REFRESH_TOKEN.read(&mut f, object);
        f.finish(|| {
            Some(RefreshRequest {
                refresh_token: refresh_token?,
            })
        })
    }
}

/// Body of `POST /oauth/revoke/{provider}` (fields and rules: [`rules::TOKEN_REVOKE`]); named
/// `TokenRevokeRequest` in the document, apart from the device revocation body.
#[derive(Debug)]
pub struct RevokeRequest {
    /// The token to revoke.
    pub token: String,
}

rules::body_schema!(RevokeRequest, rules::TOKEN_REVOKE);

impl FromJsonObject for RevokeRequest {
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(object);
        let token = rules::TOKEN.read(&mut f, object);
        f.finish(|| Some(RevokeRequest { token: token? }))
    }
}

/// Tokens returned to the app.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// The refresh token, or null when the provider issued none.
    pub refresh_token: Option<String>,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// Token type, as the provider sent it (`Bearer` when omitted).
    pub token_type: String,
}

impl From<Tokens> for TokenResponse {
    fn from(t: Tokens) -> Self {
        TokenResponse {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            expires_in: t.expires_in,
            token_type: t.token_type,
        }
    }
}

/// Answer of `POST /oauth/revoke/{provider}` (`TokenRevokeResponse` in the document).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TokenRevokeResponse)]
pub struct RevokeResponse {
    /// Whether the provider confirmed the revocation.
    pub success: bool,
    /// What happened.
    pub message: String,
}

/// Maps a provider failure to its problem; nothing the provider said beyond a safe error
/// code reaches the answer or the log.
fn provider_failure(provider: ProviderId, err: OAuthError) -> ApiError {
    match err {
        OAuthError::Rejected { code } => {
            let detail = format!("{} rejected the request: {code}", provider.as_str());
            ApiError::ProviderRejected { code, detail }
        }
        OAuthError::RejectedClient => {
            tracing::error!(
                provider = provider.as_str(),
                "the provider rejected this service's client credentials"
            );
            ApiError::BadGateway {
                code: "provider_rejected_client",
                detail: "The OAuth provider rejected this service's client credentials".into(),
            }
        }
        OAuthError::InvalidResponse => ApiError::BadGateway {
            code: "provider_invalid_response",
            detail: "The OAuth provider returned an invalid response".into(),
        },
        OAuthError::Unavailable(why) => {
            tracing::warn!(
                provider = provider.as_str(),
                reason = why,
                "the provider call failed"
            );
            ApiError::BadGateway {
                code: "provider_unavailable",
                detail: "The OAuth provider is unavailable".into(),
            }
        }
        OAuthError::Timeout => ApiError::GatewayTimeout {
            code: "provider_timeout",
            detail: "The OAuth provider did not respond in time".into(),
        },
        OAuthError::MissingCredential => ApiError::Internal {
            cause: format!("{} credentials are not available", provider.as_str()),
        },
    }
}

/// Exchanges the authorization code for tokens, consuming the one-time session.
///
/// The session is consumed whatever happens next: a failed exchange needs a new authorization.
#[utoipa::path(
    post,
    path = "/oauth/token/{provider}",
    tag = "oauth",
    params(("provider" = String, Path, description = "An OAuth provider this deployment serves")),
    request_body(content = TokenRequest, content_type = "application/json"),
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "`invalid_state`, `provider_mismatch`, `code_verifier_mismatch`, or the provider's error code", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 404, description = "Provider not enabled", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 502, description = "`provider_unavailable`, `provider_invalid_response` or `provider_rejected_client`", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 504, description = "`provider_timeout`", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
    )
)]
pub async fn exchange_token(
    EnabledProvider(provider): EnabledProvider,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<TokenRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let result = flow::exchange(
        &state.config.oauth,
        state.sessions.as_ref(),
        &state.providers,
        provider,
        &body.code,
        &body.code_verifier,
        &body.state,
    )
    .await;
    match result {
        Ok(tokens) => Ok(Json(tokens.into())),
        Err(ExchangeError::InvalidState) => Err(ApiError::BadRequest {
            code: "invalid_state",
            detail: "Invalid state".into(),
        }),
        Err(ExchangeError::ProviderMismatch) => Err(ApiError::BadRequest {
            code: "provider_mismatch",
            detail: "State was issued for another provider".into(),
        }),
        Err(ExchangeError::VerifierMismatch) => Err(ApiError::BadRequest {
            code: "code_verifier_mismatch",
            detail: "Code verifier mismatch".into(),
        }),
        Err(ExchangeError::Provider(err)) => Err(provider_failure(provider, err)),
        Err(ExchangeError::Store(err)) => Err(err.into()),
    }
}

/// Refreshes an access token.
#[utoipa::path(
    post,
    path = "/oauth/refresh/{provider}",
    tag = "oauth",
    params(("provider" = String, Path, description = "An OAuth provider this deployment serves")),
    request_body(content = RefreshRequest, content_type = "application/json"),
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "The provider's error code", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 404, description = "Provider not enabled", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 502, description = "Provider failure", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 504, description = "`provider_timeout`", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
    )
)]
pub async fn refresh_token(
    EnabledProvider(provider): EnabledProvider,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    state
        .providers
        .refresh(&state.config.oauth, provider, &body.refresh_token)
        .await
        .map(|t| Json(t.into()))
        .map_err(|err| provider_failure(provider, err))
}

/// Revokes a token at the provider.
///
/// OneDrive offers no revocation: its answer is `success: false` without a provider call.
#[utoipa::path(
    post,
    path = "/oauth/revoke/{provider}",
    tag = "oauth",
    params(("provider" = String, Path, description = "An OAuth provider this deployment serves")),
    request_body(content = RevokeRequest, content_type = "application/json"),
    responses(
        (status = 200, body = RevokeResponse),
        (status = 404, description = "Provider not enabled", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 502, description = "Provider unreachable", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 504, description = "`provider_timeout`", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_token(
    EnabledProvider(provider): EnabledProvider,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RevokeRequest>,
) -> ApiResult<Json<RevokeResponse>> {
    if provider == ProviderId::OneDrive {
        return Ok(Json(RevokeResponse {
            success: false,
            message: "Token revocation is not supported by onedrive".into(),
        }));
    }
    let revoked = state
        .providers
        .revoke(&state.config.oauth, provider, &body.token)
        .await
        .map_err(|err| provider_failure(provider, err))?;
    Ok(Json(if revoked {
        RevokeResponse {
            success: true,
            message: "Token revoked successfully".into(),
        }
    } else {
        RevokeResponse {
            success: false,
            message: "Failed to revoke token".into(),
        }
    }))
}
