//! `bare-axum`: the comparison floor for `scripts/measure-foundation` — an axum hello-world with no
//! middleware, state or configuration, answering `GET /health` with a small JSON document on
//! `127.0.0.1:$PORT` (default 8001). What `wrk` measures against it is the cost of hyper, axum routing and
//! JSON serialisation alone; the gap to `apuntador-server` is the cost of apuntador's own stack.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

async fn health() -> Json<Value> {
    Json(json!({"status": "ok", "version": "2.0.0", "message": "Service is healthy"}))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.trim().parse::<u16>().ok())
        .unwrap_or(8001);
    let app = Router::new().route("/health", get(health));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}
