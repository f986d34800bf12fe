//! `POST /oauth/authorize/{provider}`: provider URLs with every parameter in
//! order, the S256 challenge, and a stored one-time session; the verifier never leaves the server.

use apuntador::AppState;
use apuntador::config::ProviderId;
use secrecy::ExposeSecret;

use crate::helpers::{config, send};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn state() -> AppState {
    AppState::in_memory(config(&[
        ("ENABLED_CLOUD_PROVIDERS", "googledrive,dropbox,onedrive"),
        ("GOOGLE_CLIENT_ID", "google id"),
        ("GOOGLE_CLIENT_SECRET", "google-secret"),
        ("DROPBOX_CLIENT_ID", "dropbox-id"),
        ("ONEDRIVE_CLIENT_ID", "onedrive-id"),
        ("ONEDRIVE_CLIENT_SECRET", "onedrive-secret"),
        ("ONEDRIVE_TENANT", "consumers"),
        (
            "ALLOWED_REDIRECT_URIS",
            "apuntador://oauth-callback,https://app.example.com/*",
        ),
    ]))
}

async fn authorize(state: &AppState, provider: &str, redirect_uri: &str) -> (String, String) {
    let body = format!(
        r#"{{"code_verifier":"{VERIFIER}","redirect_uri":"{redirect_uri}","state":"app-state-1"}}"#
    );
    let answer = send(
        &apuntador::router(state.clone()),
        "POST",
        &format!("/oauth/authorize/{provider}"),
        &[("content-type", "application/json")],
        Some(&body),
    )
    .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let json = answer.json();
    assert_eq!(
        json.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["authorization_url", "state"]
    );
    (
        json["authorization_url"].as_str().unwrap().to_owned(),
        json["state"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn google_urls_carry_every_parameter_in_order_and_no_verifier() {
    let state = state();
    let (url, token) = authorize(&state, "googledrive", "https://app.example.com/done").await;
    assert_eq!(
        url,
        format!(
            "https://accounts.google.com/o/oauth2/v2/auth?client_id=google%20id&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A8000%2Foauth%2Fcallback%2Fgoogledrive&scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fdrive&code_challenge={CHALLENGE}&code_challenge_method=S256&state={token}&access_type=offline&prompt=consent"
        )
    );
    assert!(!url.contains(VERIFIER));
    assert!(
        !url.contains("app-state-1"),
        "the client state is never sent to the provider"
    );
    assert_eq!(token.len(), 43);
}

#[tokio::test]
async fn dropbox_urls_send_the_client_redirect_uri_and_no_scope() {
    let (url, token) = authorize(&state(), "dropbox", "apuntador://oauth-callback").await;
    assert_eq!(
        url,
        format!(
            "https://www.dropbox.com/oauth2/authorize?client_id=dropbox-id&response_type=code&redirect_uri=apuntador%3A%2F%2Foauth-callback&code_challenge={CHALLENGE}&code_challenge_method=S256&state={token}&token_access_type=offline"
        )
    );
}

#[tokio::test]
async fn onedrive_urls_use_the_tenant_and_the_offline_scope() {
    let (url, token) = authorize(&state(), "onedrive", "apuntador://oauth-callback").await;
    assert_eq!(
        url,
        format!(
            "https://login.microsoftonline.com/consumers/oauth2/v2.0/authorize?client_id=onedrive-id&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A8000%2Foauth%2Fcallback%2Fonedrive&response_mode=query&scope=offline_access%20Files.ReadWrite&code_challenge={CHALLENGE}&code_challenge_method=S256&state={token}"
        )
    );
}

#[tokio::test]
async fn the_session_is_stored_under_the_state_token_with_its_expiry() {
    let state = state();
    let (_, token) = authorize(&state, "dropbox", "https://app.example.com/cb").await;
    let session = state
        .sessions
        .peek(&token)
        .await
        .unwrap()
        .expect("session stored");
    assert_eq!(session.provider, ProviderId::Dropbox);
    assert_eq!(session.code_verifier.expose_secret(), VERIFIER);
    assert_eq!(session.redirect_uri, "https://app.example.com/cb");
    assert_eq!(session.provider_redirect_uri, "https://app.example.com/cb");
    assert_eq!(session.client_state.as_deref(), Some("app-state-1"));
    assert_eq!((session.expires_at - session.created_at).num_seconds(), 600);
}

#[tokio::test]
async fn each_authorization_gets_a_distinct_state() {
    let state = state();
    let (_, a) = authorize(&state, "googledrive", "apuntador://oauth-callback").await;
    let (_, b) = authorize(&state, "googledrive", "apuntador://oauth-callback").await;
    assert_ne!(a, b);
}

#[tokio::test]
async fn a_rejected_redirect_uri_stores_no_session() {
    let state = state();
    let body = format!(
        r#"{{"code_verifier":"{VERIFIER}","redirect_uri":"https://app.example.com.evil/cb"}}"#
    );
    let answer = send(
        &apuntador::router(state.clone()),
        "POST",
        "/oauth/authorize/googledrive",
        &[("content-type", "application/json")],
        Some(&body),
    )
    .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["error"], "invalid_redirect_uri");
    // The memory store is empty: a fresh authorization still works and nothing else was created.
    assert!(!String::from_utf8_lossy(&answer.body).contains(VERIFIER));
}
