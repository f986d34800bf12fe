//! `bare-authorize`: the floor of `scripts/bench-overload` — `POST /oauth/authorize/googledrive` on a
//! bare axum server with load shedding and no store. It reads the JSON body, makes a random state and
//! answers the authorization URL, and sheds like `apuntador-server` (at most `MAX_CONCURRENT_REQUESTS`
//! requests in flight, default 256; beyond that 503 with `Retry-After: 1`). `GET /health` answers 200.
//! Listens on `127.0.0.1:$PORT` (default 8001). What the overload bench measures against it is what
//! hyper, axum and the closed loop alone give on the machine; the gap to `apuntador-server` is the cost
//! of apuntador's own stack, the session write above all.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

#[derive(Deserialize)]
struct Authorize {
    code_verifier: String,
    redirect_uri: String,
}

#[derive(Serialize)]
struct Started {
    authorization_url: String,
    state: String,
}

async fn authorize(Json(req): Json<Authorize>) -> Response {
    if req.code_verifier.len() < 43 || req.redirect_uri.is_empty() {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let state = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let authorization_url = format!(
        "https://accounts.google.com/o/oauth2/v2/auth?client_id=bench&redirect_uri={}&response_type=code&state={state}",
        req.redirect_uri
    );
    Json(Started {
        authorization_url,
        state,
    })
    .into_response()
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn shed(State(limit): State<Arc<Semaphore>>, req: Request, next: Next) -> Response {
    let Ok(_permit) = limit.try_acquire() else {
        let mut res = (
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"type":"about:blank","title":"Service Unavailable","status":503}"#,
        )
            .into_response();
        let headers = res.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        return res;
    };
    next.run(req).await
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(default)
    };
    let port = env("PORT", 8001) as u16;
    let limit = Arc::new(Semaphore::new(env("MAX_CONCURRENT_REQUESTS", 256) as usize));
    let app = Router::new()
        .route("/oauth/authorize/googledrive", post(authorize))
        .route_layer(middleware::from_fn_with_state(limit, shed))
        .route("/health", get(health));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}
