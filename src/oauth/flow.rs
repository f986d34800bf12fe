//! The OAuth session flows: the provider callback and the one-time token exchange.

use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::config::{OAuthConfig, ProviderId};
use crate::oauth::append_query;
use crate::oauth::client::{OAuthError, ProviderClient, Tokens, is_safe_error_code};
use crate::store::{OAuthSessionStore, StoreError};

/// The callback's query parameters; everything else is ignored.
#[derive(Debug, Default, Clone)]
pub struct CallbackQuery {
    /// The authorization code.
    pub code: Option<String>,
    /// The state token.
    pub state: Option<String>,
    /// The provider's error code.
    pub error: Option<String>,
    /// The provider's error description.
    pub error_description: Option<String>,
}

impl CallbackQuery {
    /// Parses a raw query string (`application/x-www-form-urlencoded`); the first occurrence of a key wins.
    pub fn parse(raw: &str) -> CallbackQuery {
        let mut q = CallbackQuery::default();
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            let slot = match key.as_ref() {
                "code" => &mut q.code,
                "state" => &mut q.state,
                "error" => &mut q.error,
                "error_description" => &mut q.error_description,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value.into_owned());
            }
        }
        q
    }
}

/// The longest `code` the callback forwards.
const MAX_CODE_CHARS: usize = 4096;

/// Whether a callback may change the session it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEffects {
    /// `GET`: a provider error deletes the session.
    Apply,
    /// `HEAD`: the same answer, and the session is left exactly as it was.
    ReadOnly,
}

/// Where the provider callback redirects to; never fails — an internal failure redirects
/// to the fallback URI with `error=server_error`. With [`SessionEffects::ReadOnly`] nothing is
/// written or deleted.
pub async fn callback_location(
    config: &OAuthConfig,
    sessions: &dyn OAuthSessionStore,
    provider: ProviderId,
    query: &CallbackQuery,
    effects: SessionEffects,
) -> String {
    let p = provider.as_str();
    let fallback = |error: &str| {
        append_query(
            &config.fallback_redirect_uri,
            &[("error", error), ("provider", p)],
        )
    };
    let Some(state) = query.state.as_deref().filter(|s| !s.is_empty()) else {
        return fallback("invalid_state");
    };
    let session = match sessions.peek(state).await {
        Ok(Some(session)) => session,
        Ok(None) => return fallback("invalid_state"),
        Err(err) => {
            tracing::error!(error = %err, provider = p, "callback could not read the session");
            return fallback("server_error");
        }
    };
    if session.provider != provider {
        return append_query(
            &session.redirect_uri,
            &[("error", "provider_mismatch"), ("provider", p)],
        );
    }
    if let Some(error) = query.error.as_deref() {
        if effects == SessionEffects::Apply
            && let Err(err) = sessions.delete(state).await
        {
            tracing::error!(error = %err, provider = p, "callback could not delete the session");
            return fallback("server_error");
        }
        let code = if is_safe_error_code(error) {
            error
        } else {
            "provider_error"
        };
        let description: Option<String> = query
            .error_description
            .as_deref()
            .map(|d| d.chars().take(256).collect());
        let mut pairs = vec![("error", code)];
        if let Some(d) = description.as_deref() {
            pairs.push(("error_description", d));
        }
        pairs.extend([("state", state), ("provider", p)]);
        return append_query(&session.redirect_uri, &pairs);
    }
    match query.code.as_deref() {
        Some(code) if !code.is_empty() && code.chars().count() <= MAX_CODE_CHARS => append_query(
            &session.redirect_uri,
            &[("code", code), ("state", state), ("provider", p)],
        ),
        _ => append_query(
            &session.redirect_uri,
            &[
                ("error", "invalid_request"),
                ("state", state),
                ("provider", p),
            ],
        ),
    }
}

/// Why a token exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The state is unknown, expired or already used: 400 `invalid_state`.
    #[error("invalid state")]
    InvalidState,
    /// The state was issued for another provider: 400 `provider_mismatch`.
    #[error("state issued for another provider")]
    ProviderMismatch,
    /// The verifier differs from the stored one: 400 `code_verifier_mismatch`.
    #[error("code verifier mismatch")]
    VerifierMismatch,
    /// The provider call failed.
    #[error(transparent)]
    Provider(#[from] OAuthError),
    /// The session store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The token exchange: consume the session (whatever happens next), check provider and
/// verifier, then call the provider with the session's provider redirect_uri.
pub async fn exchange(
    config: &OAuthConfig,
    sessions: &dyn OAuthSessionStore,
    client: &ProviderClient,
    provider: ProviderId,
    code: &str,
    code_verifier: &str,
    state: &str,
) -> Result<Tokens, ExchangeError> {
    let session = sessions
        .consume(state)
        .await?
        .ok_or(ExchangeError::InvalidState)?;
    if session.provider != provider {
        return Err(ExchangeError::ProviderMismatch);
    }
    let stored = session.code_verifier.expose_secret().as_bytes();
    if !bool::from(stored.ct_eq(code_verifier.as_bytes())) {
        return Err(ExchangeError::VerifierMismatch);
    }
    Ok(client
        .exchange_code(
            config,
            provider,
            code,
            code_verifier,
            &session.provider_redirect_uri,
        )
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_queries_decode_values_and_keep_the_first_occurrence() {
        let q = CallbackQuery::parse(
            "code=a%26x%3D1&state=s1&state=s2&error_description=hello+world&other=1",
        );
        assert_eq!(q.code.as_deref(), Some("a&x=1"));
        assert_eq!(q.state.as_deref(), Some("s1"));
        assert_eq!(q.error_description.as_deref(), Some("hello world"));
        assert_eq!(q.error, None);
    }
}
