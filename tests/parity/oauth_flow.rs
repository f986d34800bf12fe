//! A stateful sequence through every transport: authorize → callback → token → refresh → revoke
//! against a wiremock provider. Each transport runs the sequence on a fresh app; the
//! random state token is replaced by a placeholder before the answers are compared.

use std::collections::BTreeMap;

use apuntador::AppState;
use apuntador::config::Config;
use axum::Router;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::exchanges::{Exchange, Profile, XRAY};
use crate::transport::{self, EventKind, Normalised, TcpServer};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn step(method: &'static str, path: String, body: Option<String>) -> Exchange {
    let headers: &'static [(&'static str, &'static str)] = if body.is_some() {
        &[
            ("content-type", "application/json"),
            ("x-amzn-trace-id", XRAY),
        ]
    } else {
        &[("x-amzn-trace-id", XRAY)]
    };
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (leak(p.to_owned()), leak(q.to_owned())),
        None => (leak(path), ""),
    };
    Exchange {
        name: "oauth flow step",
        profile: Profile::Standard,
        method,
        path,
        query,
        headers,
        body: body.map(|b| &*Box::leak(b.into_bytes().into_boxed_slice())),
        status: 0,
        body_contains: &[],
        headers_expected: &[],
    }
}

fn app(provider_base: &str) -> Router {
    let mut env = Profile::Standard.env();
    env.insert("GOOGLE_TOKEN_URL".into(), format!("{provider_base}/token"));
    env.insert(
        "GOOGLE_REVOKE_URL".into(),
        format!("{provider_base}/revoke"),
    );
    let config = Config::from_lookup(|name| env.get(name).cloned()).expect("valid");
    apuntador::router(AppState::in_memory(config))
}

fn redact(mut n: Normalised, state: &str) -> Normalised {
    n.body = String::from_utf8_lossy(&n.body)
        .replace(state, "<state>")
        .into_bytes();
    let headers: BTreeMap<String, Vec<String>> = n
        .headers
        .into_iter()
        .map(|(k, vs)| {
            (
                k,
                vs.into_iter()
                    .map(|v| v.replace(state, "<state>"))
                    .collect(),
            )
        })
        .collect();
    n.headers = headers;
    n
}

#[derive(Clone, Copy, Debug)]
enum Via {
    InProcess,
    Tcp,
    Lambda(EventKind),
}

async fn run(via: Via, provider_base: &str) -> Vec<Normalised> {
    let app = app(provider_base);
    let server = match via {
        Via::Tcp => Some(TcpServer::start(app.clone()).await),
        _ => None,
    };
    let send = |ex: Exchange| {
        let app = app.clone();
        let server = &server;
        async move {
            match via {
                Via::InProcess => transport::in_process(&app, &ex).await,
                Via::Tcp => transport::tcp(server.as_ref().expect("server"), &ex).await,
                Via::Lambda(kind) => transport::lambda(&app, &ex, kind).await,
            }
        }
    };
    let authorize = send(step(
        "POST",
        "/oauth/authorize/googledrive".into(),
        Some(format!(
            r#"{{"code_verifier":"{VERIFIER}","redirect_uri":"https://app.example.com/cb"}}"#
        )),
    ))
    .await;
    assert_eq!(authorize.status, 200, "{via:?}: {}", authorize.text());
    let json: serde_json::Value = serde_json::from_slice(&authorize.body).unwrap();
    let state = json["state"].as_str().unwrap().to_owned();
    let mut answers = vec![authorize];
    answers.push(
        send(step(
            "GET",
            format!("/oauth/callback/googledrive?code=4%2F0Ab%26x&state={state}"),
            None,
        ))
        .await,
    );
    let token = format!(r#"{{"code":"4/0Ab&x","code_verifier":"{VERIFIER}","state":"{state}"}}"#);
    answers.push(
        send(step(
            "POST",
            "/oauth/token/googledrive".into(),
            Some(token.clone()),
        ))
        .await,
    );
    answers.push(send(step("POST", "/oauth/token/googledrive".into(), Some(token))).await);
    answers.push(
        send(step(
            "POST",
            "/oauth/refresh/googledrive".into(),
            Some(r#"{"refresh_token":"1//r"}"#.into()),
        ))
        .await,
    );
    answers.push(
        send(step(
            "POST",
            "/oauth/revoke/googledrive".into(),
            Some(r#"{"token":"ya29.a"}"#.into()),
        ))
        .await,
    );
    answers.into_iter().map(|a| redact(a, &state)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oauth_flow_answers_identically_on_every_transport() {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"access_token": "ya29.a", "refresh_token": "1//r", "expires_in": 3599, "token_type": "Bearer"})))
        .mount(&provider)
        .await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&provider)
        .await;

    let reference = run(Via::InProcess, &provider.uri()).await;
    let statuses: Vec<u16> = reference.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 302, 200, 400, 200, 200]);
    assert_eq!(
        reference[1].header("location"),
        Some("https://app.example.com/cb?code=4%2F0Ab%26x&state=<state>&provider=googledrive")
    );
    assert!(
        reference[2]
            .text()
            .starts_with(r#"{"access_token":"ya29.a","refresh_token":"1//r","expires_in":3599"#)
    );
    assert!(
        reference[3].text().contains(r#""error":"invalid_state""#),
        "the replayed exchange is refused"
    );

    let mut vias = vec![Via::Tcp];
    vias.extend(EventKind::ALL.into_iter().map(Via::Lambda));
    for via in vias {
        let answers = run(via, &provider.uri()).await;
        for (i, (got, want)) in answers.iter().zip(&reference).enumerate() {
            assert_eq!(got, want, "{via:?} step {i} differs");
        }
    }
}
