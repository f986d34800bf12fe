//! The OAuth proxy against wiremock servers standing in for Google, Dropbox and Microsoft: the
//! callback, token exchange, refresh and revocation, one-time sessions, upstream error mapping, and
//! the OAuth security rules, one named test each.

use std::time::Duration;

use apuntador::AppState;
use axum::Router;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{Answer, config, send};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const JSON: [(&str, &str); 1] = [("content-type", "application/json")];

/// An app whose three providers talk to one wiremock server.
struct Harness {
    server: MockServer,
    state: AppState,
    app: Router,
}

impl Harness {
    async fn start() -> Harness {
        Harness::start_with(&[]).await
    }

    async fn start_with(extra: &[(&str, &str)]) -> Harness {
        let server = MockServer::start().await;
        let base = server.uri();
        let urls: Vec<(String, String)> = vec![
            ("GOOGLE_TOKEN_URL".into(), format!("{base}/google/token")),
            ("GOOGLE_REVOKE_URL".into(), format!("{base}/google/revoke")),
            ("DROPBOX_TOKEN_URL".into(), format!("{base}/dropbox/token")),
            (
                "DROPBOX_REVOKE_URL".into(),
                format!("{base}/dropbox/revoke"),
            ),
            (
                "ONEDRIVE_TOKEN_URL".into(),
                format!("{base}/onedrive/token"),
            ),
        ];
        let mut overrides: Vec<(&str, &str)> = vec![
            ("ENABLED_CLOUD_PROVIDERS", "googledrive,dropbox,onedrive"),
            ("GOOGLE_CLIENT_ID", "google-id"),
            ("GOOGLE_CLIENT_SECRET", "google-secret"),
            ("DROPBOX_CLIENT_ID", "dropbox-id"),
            ("DROPBOX_CLIENT_SECRET", "dropbox-secret"),
            ("ONEDRIVE_CLIENT_ID", "onedrive-id"),
            ("ONEDRIVE_CLIENT_SECRET", "onedrive-secret"),
            (
                "ALLOWED_REDIRECT_URIS",
                "apuntador://oauth-callback,https://app.example.com/*",
            ),
            ("OAUTH_HTTP_TIMEOUT_SECONDS", "1"),
        ];
        overrides.extend(urls.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        overrides.extend_from_slice(extra);
        let state = AppState::in_memory(config(&overrides));
        let app = apuntador::router(state.clone());
        Harness { server, state, app }
    }

    async fn authorize(&self, provider: &str, redirect_uri: &str) -> String {
        let body = format!(r#"{{"code_verifier":"{VERIFIER}","redirect_uri":"{redirect_uri}"}}"#);
        let answer = send(
            &self.app,
            "POST",
            &format!("/oauth/authorize/{provider}"),
            &JSON,
            Some(&body),
        )
        .await;
        assert_eq!(answer.status, 200);
        answer.json()["state"].as_str().unwrap().to_owned()
    }

    async fn token(&self, provider: &str, state: &str, verifier: &str) -> Answer {
        let body =
            json!({"code": "auth-code-1", "code_verifier": verifier, "state": state}).to_string();
        send(
            &self.app,
            "POST",
            &format!("/oauth/token/{provider}"),
            &JSON,
            Some(&body),
        )
        .await
    }

    async fn callback(&self, provider: &str, query: &str) -> Answer {
        send(
            &self.app,
            "GET",
            &format!("/oauth/callback/{provider}?{query}"),
            &[],
            None,
        )
        .await
    }

    async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }
}

fn form(req: &Request) -> Vec<(String, String)> {
    form_urlencoded::parse(&req.body).into_owned().collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn token_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"access_token": "ya29.access", "refresh_token": "1//refresh", "expires_in": 3599, "token_type": "Bearer", "id_token": "dropped"}))
}

// ---- token exchange, per provider -------------------------------------------------------------

#[tokio::test]
async fn google_token_exchange_posts_the_documented_form_and_returns_the_tokens() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/google/token"))
        .respond_with(token_ok())
        .expect(1)
        .mount(&h.server)
        .await;
    let state = h
        .authorize("googledrive", "apuntador://oauth-callback")
        .await;
    let answer = h.token("googledrive", &state, VERIFIER).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        String::from_utf8_lossy(&answer.body),
        r#"{"access_token":"ya29.access","refresh_token":"1//refresh","expires_in":3599,"token_type":"Bearer"}"#
    );
    let reqs = h.requests().await;
    assert_eq!(
        reqs[0].headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(reqs[0].headers["accept"], "application/json");
    assert!(
        reqs[0].headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("apuntador/")
    );
    assert_eq!(
        form(&reqs[0]),
        pairs(&[
            ("client_id", "google-id"),
            ("client_secret", "google-secret"),
            ("code", "auth-code-1"),
            ("code_verifier", VERIFIER),
            ("grant_type", "authorization_code"),
            (
                "redirect_uri",
                "http://localhost:8000/oauth/callback/googledrive"
            ),
        ])
    );
}

#[tokio::test]
async fn dropbox_token_exchange_sends_the_session_redirect_uri_and_the_secret_last() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/dropbox/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "sl.x", "token_type": "bearer"})),
        )
        .mount(&h.server)
        .await;
    let state = h.authorize("dropbox", "https://app.example.com/done").await;
    let answer = h.token("dropbox", &state, VERIFIER).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json(),
        json!({"access_token": "sl.x", "refresh_token": null, "expires_in": 3600, "token_type": "bearer"})
    );
    assert_eq!(
        form(&h.requests().await[0]),
        pairs(&[
            ("client_id", "dropbox-id"),
            ("code", "auth-code-1"),
            ("code_verifier", VERIFIER),
            ("grant_type", "authorization_code"),
            ("redirect_uri", "https://app.example.com/done"),
            ("client_secret", "dropbox-secret"),
        ])
    );
}

#[tokio::test]
async fn onedrive_token_exchange_adds_the_scope() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/onedrive/token"))
        .respond_with(token_ok())
        .mount(&h.server)
        .await;
    let state = h.authorize("onedrive", "apuntador://oauth-callback").await;
    assert_eq!(h.token("onedrive", &state, VERIFIER).await.status, 200);
    assert_eq!(
        form(&h.requests().await[0]),
        pairs(&[
            ("client_id", "onedrive-id"),
            ("client_secret", "onedrive-secret"),
            ("code", "auth-code-1"),
            ("code_verifier", VERIFIER),
            ("grant_type", "authorization_code"),
            (
                "redirect_uri",
                "http://localhost:8000/oauth/callback/onedrive"
            ),
            ("scope", "offline_access Files.ReadWrite"),
        ])
    );
}

// ---- refresh and revoke -----------------------------------------------------------------------

#[tokio::test]
async fn refresh_posts_each_providers_form() {
    let h = Harness::start().await;
    for p in ["google", "dropbox", "onedrive"] {
        Mock::given(method("POST"))
            .and(path(format!("/{p}/token")))
            .respond_with(token_ok())
            .mount(&h.server)
            .await;
    }
    for provider in ["googledrive", "dropbox", "onedrive"] {
        let answer = send(
            &h.app,
            "POST",
            &format!("/oauth/refresh/{provider}"),
            &JSON,
            Some(r#"{"refresh_token":"1//refresh"}"#),
        )
        .await;
        assert_eq!(answer.status, 200, "{provider}");
        assert_eq!(answer.json()["access_token"], "ya29.access");
    }
    let reqs = h.requests().await;
    assert_eq!(
        form(&reqs[0]),
        pairs(&[
            ("client_id", "google-id"),
            ("client_secret", "google-secret"),
            ("refresh_token", "1//refresh"),
            ("grant_type", "refresh_token")
        ])
    );
    assert_eq!(
        form(&reqs[1]),
        pairs(&[
            ("client_id", "dropbox-id"),
            ("refresh_token", "1//refresh"),
            ("grant_type", "refresh_token"),
            ("client_secret", "dropbox-secret")
        ])
    );
    assert_eq!(
        form(&reqs[2]),
        pairs(&[
            ("client_id", "onedrive-id"),
            ("client_secret", "onedrive-secret"),
            ("refresh_token", "1//refresh"),
            ("grant_type", "refresh_token"),
            ("scope", "offline_access Files.ReadWrite")
        ])
    );
}

#[tokio::test]
async fn google_revoke_sends_the_token_in_the_query_with_an_empty_body() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/google/revoke"))
        .and(query_param("token", "tok/1+2"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&h.server)
        .await;
    let answer = send(
        &h.app,
        "POST",
        "/oauth/revoke/googledrive",
        &JSON,
        Some(r#"{"token":"tok/1+2"}"#),
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&answer.body),
        r#"{"success":true,"message":"Token revoked successfully"}"#
    );
    assert!(h.requests().await[0].body.is_empty());
}

#[tokio::test]
async fn dropbox_revoke_sends_a_bearer_header_and_reports_failure_on_other_statuses() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/dropbox/revoke"))
        .and(header("authorization", "Bearer sl.token"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&h.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/dropbox/revoke"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&h.server)
        .await;
    let ok = send(
        &h.app,
        "POST",
        "/oauth/revoke/dropbox",
        &JSON,
        Some(r#"{"token":"sl.token"}"#),
    )
    .await;
    assert_eq!(
        ok.json(),
        json!({"success": true, "message": "Token revoked successfully"})
    );
    let failed = send(
        &h.app,
        "POST",
        "/oauth/revoke/dropbox",
        &JSON,
        Some(r#"{"token":"other"}"#),
    )
    .await;
    assert_eq!(failed.status, 200);
    assert_eq!(
        failed.json(),
        json!({"success": false, "message": "Failed to revoke token"})
    );
}

#[tokio::test]
async fn onedrive_revoke_makes_no_upstream_call() {
    let h = Harness::start().await;
    let answer = send(
        &h.app,
        "POST",
        "/oauth/revoke/onedrive",
        &JSON,
        Some(r#"{"token":"t"}"#),
    )
    .await;
    assert_eq!(
        answer.json(),
        json!({"success": false, "message": "Token revocation is not supported by onedrive"})
    );
    assert!(h.requests().await.is_empty());
}

// ---- upstream error mapping, per provider -----------------------------------------------------

async fn token_error(provider: &str, upstream: &str, response: ResponseTemplate) -> Answer {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{upstream}/token")))
        .respond_with(response)
        .mount(&h.server)
        .await;
    let state = h.authorize(provider, "apuntador://oauth-callback").await;
    h.token(provider, &state, VERIFIER).await
}

const PROVIDERS: [(&str, &str); 3] = [
    ("googledrive", "google"),
    ("dropbox", "dropbox"),
    ("onedrive", "onedrive"),
];

#[tokio::test]
async fn invalid_grant_is_a_400_carrying_the_provider_code_for_every_provider() {
    for (provider, upstream) in PROVIDERS {
        let a = token_error(
            provider,
            upstream,
            ResponseTemplate::new(400).set_body_json(
                json!({"error": "invalid_grant", "error_description": "Bad Request secret-detail"}),
            ),
        )
        .await;
        assert_eq!(a.status, 400, "{provider}");
        let body = a.json();
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(
            body["detail"],
            format!("{provider} rejected the request: invalid_grant")
        );
        assert!(
            !String::from_utf8_lossy(&a.body).contains("secret-detail"),
            "error_description never reaches the answer"
        );
    }
}

#[tokio::test]
async fn invalid_client_is_a_502_for_every_provider() {
    for (provider, upstream) in PROVIDERS {
        let a = token_error(
            provider,
            upstream,
            ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})),
        )
        .await;
        assert_eq!(
            (a.status, a.json()["error"].as_str()),
            (502, Some("provider_rejected_client")),
            "{provider}"
        );
    }
}

#[tokio::test]
async fn provider_server_errors_are_502_for_every_provider() {
    for (provider, upstream) in PROVIDERS {
        let a = token_error(
            provider,
            upstream,
            ResponseTemplate::new(500).set_body_string("stack trace at db.internal"),
        )
        .await;
        assert_eq!(
            (a.status, a.json()["error"].as_str()),
            (502, Some("provider_unavailable")),
            "{provider}"
        );
        assert!(!String::from_utf8_lossy(&a.body).contains("db.internal"));
    }
}

#[tokio::test]
async fn non_json_and_oversized_answers_are_502_invalid_response_for_every_provider() {
    for (provider, upstream) in PROVIDERS {
        let a = token_error(
            provider,
            upstream,
            ResponseTemplate::new(200).set_body_string("<html>not json</html>"),
        )
        .await;
        assert_eq!(
            (a.status, a.json()["error"].as_str()),
            (502, Some("provider_invalid_response")),
            "{provider}"
        );
        let huge = json!({"access_token": "x", "padding": "p".repeat(70 * 1024)});
        let a = token_error(
            provider,
            upstream,
            ResponseTemplate::new(200).set_body_json(huge),
        )
        .await;
        assert_eq!(
            (a.status, a.json()["error"].as_str()),
            (502, Some("provider_invalid_response")),
            "{provider}"
        );
    }
}

#[tokio::test]
async fn a_slow_provider_is_a_504_for_every_provider() {
    for (provider, upstream) in PROVIDERS {
        let a = token_error(
            provider,
            upstream,
            token_ok().set_delay(Duration::from_millis(1600)),
        )
        .await;
        assert_eq!(a.status, 504, "{provider}");
        assert_eq!(a.json()["error"], "provider_timeout");
        assert_eq!(
            a.json()["detail"],
            "The OAuth provider did not respond in time"
        );
    }
}

#[tokio::test]
async fn a_refused_connection_is_a_502_for_every_provider() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{closed}/token");
    let h = Harness::start_with(&[
        ("GOOGLE_TOKEN_URL", &url),
        ("DROPBOX_TOKEN_URL", &url),
        ("ONEDRIVE_TOKEN_URL", &url),
    ])
    .await;
    for (provider, _) in PROVIDERS {
        let state = h.authorize(provider, "apuntador://oauth-callback").await;
        let a = h.token(provider, &state, VERIFIER).await;
        assert_eq!(
            (a.status, a.json()["error"].as_str()),
            (502, Some("provider_unavailable")),
            "{provider}"
        );
    }
}

// ---- callback ---------------------------------------------------------------------------------

fn location(a: &Answer) -> String {
    assert_eq!(a.status, 302, "{}", String::from_utf8_lossy(&a.body));
    assert!(a.body.is_empty());
    assert_eq!(a.header("cache-control"), Some("no-store"));
    assert_eq!(a.header("referrer-policy"), Some("no-referrer"));
    a.header("location").unwrap().to_owned()
}

#[tokio::test]
async fn callback_success_redirects_with_code_state_and_provider_for_every_provider() {
    let h = Harness::start().await;
    for (provider, _) in PROVIDERS {
        let state = h
            .authorize(provider, "https://app.example.com/cb?x=1")
            .await;
        let loc = location(
            &h.callback(provider, &format!("code=c%20d&state={state}"))
                .await,
        );
        assert_eq!(
            loc,
            format!("https://app.example.com/cb?x=1&code=c%20d&state={state}&provider={provider}")
        );
        assert!(
            h.state.sessions.peek(&state).await.unwrap().is_some(),
            "the session is kept for the exchange"
        );
    }
}

#[tokio::test]
async fn callback_forwards_provider_errors_and_deletes_the_session() {
    let h = Harness::start().await;
    for (provider, _) in PROVIDERS {
        let state = h.authorize(provider, "apuntador://oauth-callback").await;
        let loc = location(
            &h.callback(
                provider,
                &format!("error=access_denied&error_description=User+said+no&state={state}"),
            )
            .await,
        );
        assert_eq!(
            loc,
            format!(
                "apuntador://oauth-callback?error=access_denied&error_description=User%20said%20no&state={state}&provider={provider}"
            )
        );
        assert!(h.state.sessions.peek(&state).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn callback_replaces_unsafe_error_codes_and_truncates_descriptions() {
    let h = Harness::start().await;
    let state = h
        .authorize("googledrive", "apuntador://oauth-callback")
        .await;
    let long = "d".repeat(300);
    let loc = location(
        &h.callback(
            "googledrive",
            &format!("error=%3Cscript%3E&error_description={long}&state={state}"),
        )
        .await,
    );
    assert!(loc.starts_with("apuntador://oauth-callback?error=provider_error&error_description="));
    assert!(loc.contains(&format!("error_description={}&state=", "d".repeat(256))));
}

#[tokio::test]
async fn callback_without_a_code_is_invalid_request() {
    let h = Harness::start().await;
    let state = h.authorize("dropbox", "apuntador://oauth-callback").await;
    assert_eq!(
        location(&h.callback("dropbox", &format!("state={state}")).await),
        format!("apuntador://oauth-callback?error=invalid_request&state={state}&provider=dropbox")
    );
    let long = "c".repeat(4097);
    assert_eq!(
        location(
            &h.callback("dropbox", &format!("state={state}&code={long}"))
                .await
        ),
        format!("apuntador://oauth-callback?error=invalid_request&state={state}&provider=dropbox")
    );
}

#[tokio::test]
async fn callback_with_an_unknown_or_missing_state_goes_to_the_fallback() {
    let h = Harness::start().await;
    for query in ["code=x", "code=x&state=unknown", "", "state="] {
        assert_eq!(
            location(&h.callback("googledrive", query).await),
            "apuntador://oauth-callback?error=invalid_state&provider=googledrive",
            "{query:?}"
        );
    }
}

// ---- security rules ---------------------------------------------------------------------------

#[tokio::test]
async fn a_redirect_uri_outside_the_allow_list_is_400_and_never_stored() {
    let h = Harness::start().await;
    let body =
        format!(r#"{{"code_verifier":"{VERIFIER}","redirect_uri":"https://evil.example/cb"}}"#);
    let a = send(
        &h.app,
        "POST",
        "/oauth/authorize/googledrive",
        &JSON,
        Some(&body),
    )
    .await;
    assert_eq!(
        (a.status, a.json()["error"].as_str()),
        (400, Some("invalid_redirect_uri"))
    );
    assert!(
        !String::from_utf8_lossy(&a.body).contains("evil.example"),
        "the rejected URI is not echoed"
    );
}

#[tokio::test]
async fn prefix_rules_cannot_be_widened_by_host_suffixes() {
    let h = Harness::start().await;
    let body = format!(
        r#"{{"code_verifier":"{VERIFIER}","redirect_uri":"https://app.example.com.evil/cb"}}"#
    );
    assert_eq!(
        send(
            &h.app,
            "POST",
            "/oauth/authorize/dropbox",
            &JSON,
            Some(&body)
        )
        .await
        .status,
        400
    );
    let ok =
        format!(r#"{{"code_verifier":"{VERIFIER}","redirect_uri":"https://app.example.com/cb"}}"#);
    assert_eq!(
        send(&h.app, "POST", "/oauth/authorize/dropbox", &JSON, Some(&ok))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_verifier_violating_rfc_7636_is_422() {
    let h = Harness::start().await;
    for verifier in ["short", &"a".repeat(129), &format!("{}!", "a".repeat(43))] {
        let body = json!({"code_verifier": verifier, "redirect_uri": "apuntador://oauth-callback"})
            .to_string();
        let a = send(
            &h.app,
            "POST",
            "/oauth/authorize/googledrive",
            &JSON,
            Some(&body),
        )
        .await;
        assert_eq!(a.status, 422);
        assert_eq!(a.json()["errors"][0]["type"], "value_error");
        let token = json!({"code": "c", "code_verifier": verifier, "state": "s"}).to_string();
        assert_eq!(
            send(
                &h.app,
                "POST",
                "/oauth/token/googledrive",
                &JSON,
                Some(&token)
            )
            .await
            .status,
            422
        );
    }
}

#[tokio::test]
async fn the_verifier_never_appears_in_the_url_the_state_or_a_redirect() {
    let h = Harness::start().await;
    let body =
        format!(r#"{{"code_verifier":"{VERIFIER}","redirect_uri":"apuntador://oauth-callback"}}"#);
    let a = send(
        &h.app,
        "POST",
        "/oauth/authorize/googledrive",
        &JSON,
        Some(&body),
    )
    .await;
    let text = String::from_utf8_lossy(&a.body).into_owned();
    assert!(!text.contains(VERIFIER));
    let state = a.json()["state"].as_str().unwrap().to_owned();
    let loc = location(
        &h.callback("googledrive", &format!("code=c&state={state}"))
            .await,
    );
    assert!(!loc.contains(VERIFIER));
}

#[tokio::test]
async fn a_state_can_be_exchanged_once() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/google/token"))
        .respond_with(token_ok())
        .expect(1)
        .mount(&h.server)
        .await;
    let state = h
        .authorize("googledrive", "apuntador://oauth-callback")
        .await;
    assert_eq!(state.len(), 43, "256-bit token, base64url");
    assert_eq!(h.token("googledrive", &state, VERIFIER).await.status, 200);
    let replay = h.token("googledrive", &state, VERIFIER).await;
    assert_eq!(
        (replay.status, replay.json()["error"].as_str()),
        (400, Some("invalid_state"))
    );
    assert_eq!(replay.json()["detail"], "Invalid state");
    let late_callback = location(
        &h.callback("googledrive", &format!("code=c&state={state}"))
            .await,
    );
    assert_eq!(
        late_callback,
        "apuntador://oauth-callback?error=invalid_state&provider=googledrive"
    );
}

#[tokio::test]
async fn concurrent_exchanges_of_one_state_reach_the_provider_once() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/google/token"))
        .respond_with(token_ok())
        .expect(1)
        .mount(&h.server)
        .await;
    let state = h
        .authorize("googledrive", "apuntador://oauth-callback")
        .await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let app = h.app.clone();
        let body = json!({"code": "c", "code_verifier": VERIFIER, "state": state}).to_string();
        tasks.push(tokio::spawn(async move {
            send(&app, "POST", "/oauth/token/googledrive", &JSON, Some(&body))
                .await
                .status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 9);
}

#[tokio::test]
async fn an_expired_state_is_rejected_even_if_storage_still_holds_it() {
    let h = Harness::start().await;
    let state = h
        .authorize("googledrive", "apuntador://oauth-callback")
        .await;
    let mut session = h.state.sessions.consume(&state).await.unwrap().unwrap();
    session.expires_at = chrono::Utc::now() - chrono::Duration::seconds(1);
    h.state.sessions.create(&session).await.unwrap();
    let a = h.token("googledrive", &state, VERIFIER).await;
    assert_eq!(
        (a.status, a.json()["error"].as_str()),
        (400, Some("invalid_state"))
    );
    assert!(h.requests().await.is_empty());
}

#[tokio::test]
async fn a_state_issued_for_one_provider_cannot_be_exchanged_on_another() {
    let h = Harness::start().await;
    let state = h
        .authorize("googledrive", "https://app.example.com/cb")
        .await;
    let a = h.token("dropbox", &state, VERIFIER).await;
    assert_eq!(
        (a.status, a.json()["error"].as_str()),
        (400, Some("provider_mismatch"))
    );
    assert_eq!(a.json()["detail"], "State was issued for another provider");
    assert!(h.requests().await.is_empty());
    let state = h
        .authorize("googledrive", "https://app.example.com/cb")
        .await;
    let loc = location(
        &h.callback("onedrive", &format!("code=c&state={state}"))
            .await,
    );
    assert_eq!(
        loc,
        "https://app.example.com/cb?error=provider_mismatch&provider=onedrive"
    );
    assert!(
        h.state.sessions.peek(&state).await.unwrap().is_some(),
        "a mismatched callback leaves the session"
    );
}

#[tokio::test]
async fn a_wrong_verifier_is_rejected_and_consumes_the_state() {
    let h = Harness::start().await;
    let state = h
        .authorize("googledrive", "apuntador://oauth-callback")
        .await;
    let other = "x".repeat(43);
    let a = h.token("googledrive", &state, &other).await;
    assert_eq!(
        (a.status, a.json()["error"].as_str()),
        (400, Some("code_verifier_mismatch"))
    );
    assert_eq!(
        h.token("googledrive", &state, VERIFIER).await.json()["error"],
        "invalid_state"
    );
}

#[tokio::test]
async fn callback_values_are_percent_encoded_so_a_code_cannot_add_parameters() {
    let h = Harness::start().await;
    let state = h
        .authorize("googledrive", "apuntador://oauth-callback")
        .await;
    let loc = location(
        &h.callback("googledrive", &format!("code=abc%26x%3D1&state={state}"))
            .await,
    );
    assert_eq!(
        loc,
        format!("apuntador://oauth-callback?code=abc%26x%3D1&state={state}&provider=googledrive")
    );
    let query = loc.split_once('?').unwrap().1;
    let codes: Vec<_> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "code")
        .collect();
    assert_eq!(codes.len(), 1);
    assert_eq!(codes[0].1, "abc&x=1");
}

#[tokio::test]
async fn callbacks_go_only_to_the_session_uri_or_the_fallback() {
    let h = Harness::start_with(&[(
        "OAUTH_FALLBACK_REDIRECT_URI",
        "https://app.example.com/oauth-error",
    )])
    .await;
    let loc = location(
        &h.callback(
            "googledrive",
            "code=c&state=forged&redirect_uri=https://evil.example",
        )
        .await,
    );
    assert_eq!(
        loc,
        "https://app.example.com/oauth-error?error=invalid_state&provider=googledrive"
    );
}

#[tokio::test]
async fn disabled_or_unknown_providers_are_404_with_no_outbound_call() {
    let h = Harness::start_with(&[("ENABLED_CLOUD_PROVIDERS", "googledrive")]).await;
    for route in ["token", "refresh", "revoke", "authorize", "callback"] {
        for provider in ["dropbox", "icloud", "GoogleDrive"] {
            let method = if route == "callback" { "GET" } else { "POST" };
            let a = send(
                &h.app,
                method,
                &format!("/oauth/{route}/{provider}"),
                &JSON,
                Some("{}"),
            )
            .await;
            assert_eq!(
                (a.status, a.json()["error"].as_str()),
                (404, Some("provider_not_enabled")),
                "{route}/{provider}"
            );
        }
    }
    assert!(h.requests().await.is_empty());
}

#[tokio::test]
async fn provider_failures_expose_no_provider_body_or_secret() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/google/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_request", "error_description": "client_secret=google-secret is wrong"})))
        .mount(&h.server)
        .await;
    let state = h
        .authorize("googledrive", "apuntador://oauth-callback")
        .await;
    let a = h.token("googledrive", &state, VERIFIER).await;
    let text = String::from_utf8_lossy(&a.body).into_owned();
    for leak in [
        "google-secret",
        "client_secret",
        &h.server.uri(),
        "error_description",
    ] {
        assert!(!text.contains(leak), "{leak} leaked: {text}");
    }
}

#[tokio::test]
async fn outbound_calls_do_not_follow_redirects() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/google/token"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/elsewhere"))
        .mount(&h.server)
        .await;
    let state = h
        .authorize("googledrive", "apuntador://oauth-callback")
        .await;
    let a = h.token("googledrive", &state, VERIFIER).await;
    assert_eq!(
        (a.status, a.json()["error"].as_str()),
        (502, Some("provider_unavailable"))
    );
    assert_eq!(h.requests().await.len(), 1, "the redirect was not followed");
}

#[tokio::test]
async fn outbound_calls_time_out() {
    let a = token_error(
        "googledrive",
        "google",
        token_ok().set_delay(Duration::from_secs(3)),
    )
    .await;
    assert_eq!(a.status, 504);
}

#[tokio::test]
async fn oauth_bodies_are_validated_field_by_field() {
    let h = Harness::start().await;
    let a = send(
        &h.app,
        "POST",
        "/oauth/token/googledrive",
        &JSON,
        Some(r#"{"code":"","state":5}"#),
    )
    .await;
    let errors: Vec<Value> = a.json()["errors"].as_array().unwrap().clone();
    let kinds: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e["loc"][1].as_str().unwrap(), e["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("code", "string_too_short"),
            ("code_verifier", "missing"),
            ("state", "string_type")
        ]
    );
    let a = send(
        &h.app,
        "POST",
        "/oauth/refresh/dropbox",
        &JSON,
        Some(r#"{"refresh_token":null}"#),
    )
    .await;
    assert_eq!(a.json()["errors"][0]["type"], "string_type");
    let a = send(
        &h.app,
        "POST",
        "/oauth/revoke/dropbox",
        &JSON,
        Some(&json!({"token": "t".repeat(4097)}).to_string()),
    )
    .await;
    assert_eq!(
        a.json()["errors"][0]["msg"],
        "String should have at most 4096 characters"
    );
}

#[tokio::test]
async fn token_values_with_control_characters_are_422_without_a_provider_call_or_an_error_log() {
    let capture = crate::log_capture::Capture::default();
    let subscriber = apuntador::telemetry::subscriber(
        "debug",
        apuntador::config::LogFormat::Json,
        capture.clone(),
    )
    .unwrap();
    crate::helpers::reliable_log_capture();
    let _guard = tracing::subscriber::set_default(subscriber);
    let h = Harness::start().await;
    let state = h.authorize("dropbox", "apuntador://oauth-callback").await;
    let mut answers = Vec::new();
    for bad in [
        "tok\r\nen",
        "tok\nen",
        "tok\0en",
        "tok\u{7f}en",
        "tok\ten",
        "tok\u{1b}en",
    ] {
        for (route, body) in [
            ("/oauth/revoke/dropbox", json!({"token": bad})),
            ("/oauth/revoke/googledrive", json!({"token": bad})),
            ("/oauth/refresh/dropbox", json!({"refresh_token": bad})),
            (
                "/oauth/token/dropbox",
                json!({"code": bad, "code_verifier": VERIFIER, "state": state}),
            ),
            (
                "/oauth/token/dropbox",
                json!({"code": "auth-code-1", "code_verifier": VERIFIER, "state": format!("{state}{bad}")}),
            ),
        ] {
            let a = send(&h.app, "POST", route, &JSON, Some(&body.to_string())).await;
            answers.push((route, a.status, a.json()["errors"][0].clone()));
        }
    }
    for (route, status, error) in &answers {
        assert_eq!(*status, 422, "{route}: {error}");
        assert_eq!(error["type"], "value_error", "{route}");
        let field = error["loc"][1].as_str().unwrap();
        assert_eq!(
            error["msg"],
            format!("Value error, {field} must not contain control characters")
        );
    }
    assert!(h.requests().await.is_empty(), "a provider was called");
    // The session was not consumed by the refused exchanges.
    Mock::given(method("POST"))
        .and(path("/dropbox/token"))
        .respond_with(token_ok())
        .mount(&h.server)
        .await;
    assert_eq!(h.token("dropbox", &state, VERIFIER).await.status, 200);
    let errors: Vec<_> = capture
        .lines()
        .into_iter()
        .filter(|l| l["level"] == "ERROR")
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}
