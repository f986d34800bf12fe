//! OAuth proxy routes (SPEC §3.5-3.9). Today: `POST /oauth/authorize/{provider}`.

use axum::extract::{FromRequestParts, Path, State};
use axum::routing::post;
use axum::{Json, Router};
use http::request::Parts;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::config::ProviderId;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::{Fields, FromJsonObject, JsonBody};
use crate::http::guarded;
use crate::oauth::authorize::{self, AuthorizeError};
use crate::oauth::{pkce, redirect};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/oauth/authorize/{provider}",
        guarded(post(authorize_oauth)),
    )
}

/// A provider path segment that names an enabled provider; anything else is 404 `provider_not_enabled`
/// (SPEC §4.1), before the body is looked at.
#[derive(Debug, Clone, Copy)]
pub struct EnabledProvider(pub ProviderId);

impl FromRequestParts<AppState> for EnabledProvider {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let segment = Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| p.0)
            .unwrap_or_default();
        match ProviderId::parse(&segment) {
            Some(p) if state.config.oauth.enabled_providers.contains(&p) => Ok(EnabledProvider(p)),
            _ => Err(ApiError::NotFound {
                code: "provider_not_enabled",
                // The segment is echoed as documented; it is a path value, never a secret.
                detail: format!("OAuth provider '{}' is not enabled", truncate(&segment, 64)),
            }),
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Body of `POST /oauth/authorize/{provider}`.
#[derive(Debug, ToSchema)]
pub struct AuthorizeRequest {
    /// RFC 7636 verifier: 43-128 characters of `A-Z a-z 0-9 - . _ ~`.
    pub code_verifier: String,
    /// Where the app wants the result; must be allow-listed.
    pub redirect_uri: String,
    /// Optional client state (at most 512 characters), stored, never sent to the provider.
    pub state: Option<String>,
}

impl FromJsonObject for AuthorizeRequest {
    fn from_object(object: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(object);
        let code_verifier = match object.get("code_verifier") {
            Some(Value::String(v)) if !pkce::is_valid_verifier(v) => {
                f.value_error("code_verifier", pkce::VERIFIER_RULE);
                None
            }
            _ => f.required_str("code_verifier", 0, usize::MAX),
        };
        let redirect_uri = f.required_str("redirect_uri", 1, 2048);
        let redirect_uri = match redirect_uri {
            Some(uri) if !redirect::is_absolute_without_fragment(&uri) => {
                f.value_error("redirect_uri", redirect::REDIRECT_URI_RULE);
                None
            }
            other => other,
        };
        let state = f.optional_str("state", 512);
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
    params(("provider" = String, Path, description = "googledrive, dropbox or onedrive")),
    request_body(content = AuthorizeRequest, content_type = "application/json"),
    responses(
        (status = 200, body = AuthorizeResponse),
        (status = 400, description = "redirect_uri not allowed (`invalid_redirect_uri`)", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 404, description = "Provider not enabled", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 415, description = "Not a JSON body", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
        (status = 422, description = "Validation error", body = crate::http::docs::ProblemDetail, content_type = "application/problem+json"),
    )
)]
pub async fn authorize_oauth(
    EnabledProvider(provider): EnabledProvider,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<AuthorizeRequest>,
) -> ApiResult<Json<AuthorizeResponse>> {
    let oauth = &state.config.oauth;
    if !redirect::is_allowed(&oauth.allowed_redirect_uris, &body.redirect_uri) {
        return Err(ApiError::BadRequest {
            code: "invalid_redirect_uri",
            detail: "redirect_uri is not allowed".into(),
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
    tracing::info!(oauth.provider = provider.as_str(), "authorization started");
    Ok(Json(AuthorizeResponse {
        authorization_url: started.authorization_url,
        state: started.state,
    }))
}
