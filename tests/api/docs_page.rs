//! `/docs`: the Swagger UI page and its files come from the binary (no other origin), `/docs/`
//! redirects, unknown files are 404 problems, and nothing is served with docs disabled.

use apuntador::AppState;
use axum::Router;

use crate::helpers::{config, send};

fn app(extra: &[(&str, &str)]) -> Router {
    apuntador::router(AppState::in_memory(config(extra)))
}

#[tokio::test]
async fn the_docs_page_loads_only_files_served_by_this_service() {
    let app = app(&[("ENABLE_DOCS", "true")]);
    let page = send(&app, "GET", "/docs", &[], None).await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    for (path, content_type, needle) in [
        (
            "/docs/swagger-ui-bundle.js",
            "text/javascript; charset=utf-8",
            "SwaggerUIBundle",
        ),
        (
            "/docs/swagger-ui.css",
            "text/css; charset=utf-8",
            ".swagger-ui",
        ),
        (
            "/docs/apuntador-docs.js",
            "text/javascript; charset=utf-8",
            "openapi.json",
        ),
        (
            "/docs/LICENSE",
            "text/plain; charset=utf-8",
            "Apache License",
        ),
    ] {
        assert!(
            html.contains(&path[1..]) || path.ends_with("LICENSE"),
            "{path}"
        );
        let asset = send(&app, "GET", path, &[], None).await;
        assert_eq!(asset.status, 200, "{path}");
        assert_eq!(asset.header("content-type"), Some(content_type), "{path}");
        assert_eq!(asset.header("cache-control"), Some("public, max-age=300"));
        assert!(
            String::from_utf8_lossy(&asset.body).contains(needle),
            "{path}"
        );
    }
    let icon = send(&app, "GET", "/docs/favicon-32x32.png", &[], None).await;
    assert_eq!(icon.header("content-type"), Some("image/png"));
    assert!(icon.body.starts_with(b"\x89PNG"));
}

#[tokio::test]
async fn docs_with_a_trailing_slash_redirect_relatively_and_unknown_files_are_404() {
    let app = app(&[("ENABLE_DOCS", "true")]);
    let slash = send(&app, "GET", "/docs/", &[], None).await;
    assert_eq!(slash.status, 308);
    assert_eq!(slash.header("location"), Some("../docs"));
    let missing = send(&app, "GET", "/docs/swagger-ui.js.map", &[], None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
}

#[tokio::test]
async fn docs_under_a_base_path_keep_the_prefix() {
    let app = app(&[("ENABLE_DOCS", "true"), ("BASE_PATH", "/prod")]);
    let slash = send(&app, "GET", "/prod/docs/", &[], None).await;
    assert_eq!(
        slash.status, 308,
        "relative ../docs from /prod/docs/ is /prod/docs"
    );
    assert_eq!(slash.header("location"), Some("../docs"));
    assert_eq!(
        send(&app, "GET", "/prod/docs/swagger-ui.css", &[], None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn nothing_under_docs_is_served_when_docs_are_disabled() {
    let app = app(&[]);
    for path in ["/docs", "/docs/", "/docs/swagger-ui-bundle.js"] {
        assert_eq!(
            send(&app, "GET", path, &[], None).await.status,
            404,
            "{path}"
        );
    }
}
