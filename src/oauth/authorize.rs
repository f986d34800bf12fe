//! Starting an authorization: create the one-time session, then build the
//! provider's authorization URL with its exact parameters, in order.

use chrono::Utc;
use secrecy::SecretString;

use crate::config::{OAuthConfig, ProviderId};
use crate::oauth::{append_query, pkce, random_token};
use crate::store::{OAuthSession, OAuthSessionStore, StoreError};

/// The Google Drive scope.
pub const GOOGLE_SCOPE: &str = "https://www.googleapis.com/auth/drive";
/// The OneDrive scope.
pub const ONEDRIVE_SCOPE: &str = "offline_access Files.ReadWrite";

/// What `POST /oauth/authorize/{provider}` returns.
#[derive(Debug)]
pub struct Authorization {
    /// The provider URL the client opens.
    pub authorization_url: String,
    /// The state token (also inside the URL).
    pub state: String,
}

/// Why an authorization could not start.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// The provider's client id is an unresolved secret reference (a start-up bug).
    #[error("the {0} client id is not available")]
    MissingClientId(&'static str),
    /// The session store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The redirect_uri this service sends to the provider.
pub fn provider_redirect_uri(
    config: &OAuthConfig,
    provider: ProviderId,
    client_redirect_uri: &str,
) -> String {
    match provider {
        ProviderId::GoogleDrive => config.google.redirect_uri.clone(),
        ProviderId::Dropbox => client_redirect_uri.to_owned(),
        ProviderId::OneDrive => config.onedrive.redirect_uri.clone(),
    }
}

/// Builds the provider's authorization URL.
pub fn authorization_url(
    config: &OAuthConfig,
    provider: ProviderId,
    challenge: &str,
    state: &str,
    provider_redirect: &str,
) -> Result<String, AuthorizeError> {
    let client_id = |v: &Option<crate::config::SecretValue>| {
        v.as_ref()
            .and_then(|s| s.expose())
            .map(str::to_owned)
            .ok_or(AuthorizeError::MissingClientId(provider.as_str()))
    };
    Ok(match provider {
        ProviderId::GoogleDrive => append_query(
            &config.google.authorize_url,
            &[
                ("client_id", &client_id(&config.google.client_id)?),
                ("response_type", "code"),
                ("redirect_uri", provider_redirect),
                ("scope", GOOGLE_SCOPE),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
                ("state", state),
                ("access_type", "offline"),
                ("prompt", "consent"),
            ],
        ),
        ProviderId::Dropbox => append_query(
            &config.dropbox.authorize_url,
            &[
                ("client_id", &client_id(&config.dropbox.client_id)?),
                ("response_type", "code"),
                ("redirect_uri", provider_redirect),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
                ("state", state),
                ("token_access_type", "offline"),
            ],
        ),
        ProviderId::OneDrive => append_query(
            &config.onedrive.authorize_url,
            &[
                ("client_id", &client_id(&config.onedrive.client_id)?),
                ("response_type", "code"),
                ("redirect_uri", provider_redirect),
                ("response_mode", "query"),
                ("scope", ONEDRIVE_SCOPE),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
                ("state", state),
            ],
        ),
    })
}

/// Creates the session (a fresh state token; regenerated on the astronomically unlikely collision)
/// and returns the authorization URL. The caller has validated the verifier and the redirect_uri.
pub async fn start(
    config: &OAuthConfig,
    sessions: &dyn OAuthSessionStore,
    provider: ProviderId,
    code_verifier: String,
    redirect_uri: String,
    client_state: Option<String>,
) -> Result<Authorization, AuthorizeError> {
    let challenge = pkce::s256_challenge(&code_verifier);
    let provider_redirect = provider_redirect_uri(config, provider, &redirect_uri);
    let now = Utc::now();
    let ttl =
        chrono::Duration::from_std(config.session_ttl).unwrap_or(chrono::Duration::minutes(10));
    let mut session = OAuthSession {
        state: random_token(),
        provider,
        code_verifier: SecretString::from(code_verifier),
        redirect_uri,
        provider_redirect_uri: provider_redirect.clone(),
        client_state,
        created_at: now,
        expires_at: now + ttl,
    };
    let mut attempts = 0;
    loop {
        match sessions.create(&session).await {
            Ok(()) => break,
            Err(StoreError::Conflict(_)) if attempts < 3 => {
                attempts += 1;
                session.state = random_token();
            }
            Err(err) => return Err(err.into()),
        }
    }
    let authorization_url = authorization_url(
        config,
        provider,
        &challenge,
        &session.state,
        &provider_redirect,
    )?;
    Ok(Authorization {
        authorization_url,
        state: session.state,
    })
}
