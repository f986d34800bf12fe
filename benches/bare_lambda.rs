//! `bare-lambda`: the comparison floor for the Lambda cold-start figures — a `lambda_http` hello-world
//! with no configuration, state, logging or AWS clients, answering every event with the same small JSON
//! document `GET /health` returns. Spawn → first response against the Runtime API emulator is then the
//! cost of process start, the tokio runtime and `lambda_http`'s event loop alone; the gap to
//! `apuntador-lambda` is the cost of apuntador's own INIT and first request.
//!
//! Built like `apuntador-lambda` (same release profile, same `#[tokio::main]` multi-thread runtime), so
//! the ratio compares like with like.

use lambda_http::{Body, Error, Request, Response, service_fn};

async fn health(_request: Request) -> Result<Response<Body>, Error> {
    let body = r#"{"status":"ok","version":"0.1.0","message":"Service is healthy"}"#;
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::Text(body.to_owned()))?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(health)).await
}
