//! The HTTP layer: feature routers, extractors and the middleware stack.
//!
//! [`router`] merges the feature routers and applies [`middleware::apply`] — nothing else. Handlers
//! live in one module per area; extractors that turn requests into validated values (JSON bodies,
//! bearer keys) live in [`extract`]. Only this module touches axum; the domain modules it calls
//! (`store`, `oauth`, `devices`, `pki` and `attestation`) know nothing of HTTP.

pub mod admin;
pub mod attestation;
pub mod config;
pub mod device;
pub mod docs;
pub mod extract;
pub mod health;
pub mod middleware;
pub mod oauth;
pub mod rules;

use axum::Router;
use axum::handler::{Handler, Layered};

use crate::state::AppState;

/// Builds the application: every feature router, the 404/405 fallbacks and the middleware stack.
pub fn router(state: AppState) -> Router {
    let docs_enabled = state.config.http.enable_docs;
    let mut routes = Router::new()
        .merge(health::router())
        .merge(config::router())
        .merge(oauth::router())
        .merge(device::router())
        .merge(attestation::router())
        .merge(admin::router());
    if docs_enabled {
        routes = routes.merge(docs::router());
    }
    middleware::apply(routes, state)
}

/// Wraps a route's handler with the per-route guards that must run after routing (so that 404 and
/// 405 answer first) but before authentication: the declared `Content-Length` check. Every feature
/// router wraps its handlers with it, or with [`guarded_write`]: `get(guarded(handler))`.
///
/// On the handler rather than as a `route_layer` on the method router: that would box each route a
/// second time, and every request would clone and allocate the inner box.
pub fn guarded<H, T>(handler: H) -> Layered<middleware::RouteGuardLayer, H, T, AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    handler.layer(middleware::RouteGuardLayer { writes: false })
}

/// [`guarded`] for a route that writes to the store: under overload, while the embedded store's write
/// queue is full, it also answers 503 like a shed request before reading the body (see
/// [`middleware::WritesRefused`]).
pub fn guarded_write<H, T>(handler: H) -> Layered<middleware::RouteGuardLayer, H, T, AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    handler.layer(middleware::RouteGuardLayer { writes: true })
}
