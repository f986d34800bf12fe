//! redirect_uri hardening and a side-effect-free HEAD on the callback: ASCII only (422), no
//! dot-segments or backslashes under prefix rules (400), and `HEAD /oauth/callback/*` answering like GET
//! without consuming or deleting the session.

use apuntador::AppState;
use serde_json::json;

use crate::helpers::{Answer, config, send};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const JSON: [(&str, &str); 1] = [("content-type", "application/json")];

fn state() -> AppState {
    AppState::in_memory(config(&[
        ("ENABLED_CLOUD_PROVIDERS", "dropbox"),
        ("DROPBOX_CLIENT_ID", "dropbox-id"),
        (
            "ALLOWED_REDIRECT_URIS",
            "apuntador://oauth-callback,https://app.example.com/cb/*,https://exact.example.com/a/../b",
        ),
    ]))
}

async fn authorize(state: &AppState, redirect_uri: &str) -> Answer {
    let body = json!({"code_verifier": VERIFIER, "redirect_uri": redirect_uri}).to_string();
    send(
        &apuntador::router(state.clone()),
        "POST",
        "/oauth/authorize/dropbox",
        &JSON,
        Some(&body),
    )
    .await
}

#[tokio::test]
async fn prefix_matched_redirect_uris_with_dot_segments_or_backslashes_are_400_in_every_spelling() {
    let state = state();
    let refused = [
        "https://app.example.com/cb/../evil",
        "https://app.example.com/cb/./x",
        "https://app.example.com/cb/x/..",
        "https://app.example.com/cb/x/.",
        "https://app.example.com/cb/%2e%2e/evil",
        "https://app.example.com/cb/%2E%2E/evil",
        "https://app.example.com/cb/.%2e/evil",
        "https://app.example.com/cb/%2E./evil",
        "https://app.example.com/cb/%2e/x",
        "https://app.example.com/cb/x/%2E%2e",
        "https://app.example.com/cb/x/%2e?y=1",
        "https://app.example.com/cb/\\evil",
        "https://app.example.com/cb/%5Cevil",
        "https://app.example.com/cb/%5c%5cevil.example",
    ];
    for uri in refused {
        let answer = authorize(&state, uri).await;
        assert_eq!(answer.status, 400, "{uri}");
        let body = answer.json();
        assert_eq!(body["error"], "invalid_redirect_uri", "{uri}");
        assert_eq!(
            body["detail"],
            "redirect_uri is not allowed: it contains a dot-segment or a backslash"
        );
    }
    for uri in [
        "https://app.example.com/cb/done",
        "https://app.example.com/cb/..hidden/a.b",
        "https://app.example.com/cb/x?next=/../y",
        // An exact rule is the operator's own text, matched byte for byte.
        "https://exact.example.com/a/../b",
    ] {
        assert_eq!(authorize(&state, uri).await.status, 200, "{uri}");
    }
    let answer = authorize(&state, "https://other.example.com/cb/x").await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["detail"], "redirect_uri is not allowed");
}

#[tokio::test]
async fn a_non_ascii_redirect_uri_is_a_422_value_error_and_stores_nothing() {
    let state = state();
    for uri in [
        "https://app.example.com/cb/café",
        "https://app.example.com/cb/\u{2215}evil",
        "apuntador://oauth-callback\u{00a0}",
        "https://bücher.example/cb/",
    ] {
        let answer = authorize(&state, uri).await;
        assert_eq!(answer.status, 422, "{uri}");
        let errors = answer.json()["errors"].clone();
        assert_eq!(errors.as_array().unwrap().len(), 1, "{errors}");
        assert_eq!(errors[0]["type"], "value_error");
        assert_eq!(errors[0]["loc"], json!(["body", "redirect_uri"]));
        assert!(
            errors[0]["msg"].as_str().unwrap().contains("ASCII"),
            "{errors}"
        );
    }
}

#[tokio::test]
async fn head_on_the_callback_answers_like_get_and_never_consumes_or_deletes_the_session() {
    let state = state();
    let app = apuntador::router(state.clone());
    let answer = authorize(&state, "apuntador://oauth-callback").await;
    let token = answer.json()["state"].as_str().unwrap().to_owned();

    for query in [
        format!("error=access_denied&error_description=no&state={token}"),
        format!("code=abc&state={token}"),
        format!("state={token}"),
    ] {
        let path = format!("/oauth/callback/dropbox?{query}");
        let head = send(&app, "HEAD", &path, &[], None).await;
        assert_eq!(head.status, 302, "{query}");
        assert!(head.body.is_empty());
        assert!(
            state.sessions.peek(&token).await.unwrap().is_some(),
            "HEAD left the session: {query}"
        );
        // GET gives the same Location.
        let location = head.header("location").unwrap().to_owned();
        if query.starts_with("error=") {
            continue;
        }
        let get = send(&app, "GET", &path, &[], None).await;
        assert_eq!(get.header("location"), Some(location.as_str()));
    }
    // The error callback through GET does delete it, with the same Location HEAD announced.
    let path =
        format!("/oauth/callback/dropbox?error=access_denied&error_description=no&state={token}");
    let head = send(&app, "HEAD", &path, &[], None).await;
    let get = send(&app, "GET", &path, &[], None).await;
    assert_eq!(get.status, 302);
    assert_eq!(get.header("location"), head.header("location"));
    assert!(state.sessions.peek(&token).await.unwrap().is_none());
}

#[tokio::test]
async fn a_stored_non_ascii_redirect_uri_never_reaches_the_location_header() {
    use apuntador::store::OAuthSession;
    let state = state();
    let app = apuntador::router(state.clone());
    // A session written before redirect_uri had to be ASCII.
    let answer = authorize(&state, "https://app.example.com/cb/ok").await;
    let token = answer.json()["state"].as_str().unwrap().to_owned();
    let mut session: OAuthSession = state.sessions.peek(&token).await.unwrap().unwrap();
    session.redirect_uri = "https://app.example.com/cb/café".into();
    state.sessions.delete(&token).await.unwrap();
    state.sessions.create(&session).await.unwrap();

    let get = send(
        &app,
        "GET",
        &format!("/oauth/callback/dropbox?code=abc&state={token}"),
        &[],
        None,
    )
    .await;
    assert_eq!(get.status, 302);
    let location = get.header("location").unwrap();
    assert!(location.is_ascii());
    assert_eq!(
        location,
        "apuntador://oauth-callback?error=server_error&provider=dropbox"
    );
}
