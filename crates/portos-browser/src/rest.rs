//! The original's plain HTTP face on the health port: `GET /health` (200
//! `healthy` / 503 `unhealthy`) and Chromium's own `GET /json/version` passed
//! through. `GET /` (what this service is) comes from the frame, with [`about`].

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::Host;

pub fn routes(host: Arc<Host>) -> axum::Router {
    axum::Router::new()
        .route("/health", get(health))
        .route("/json/version", get(version))
        .with_state(host)
}

async fn health(State(host): State<Arc<Host>>) -> Response {
    let snap = host.snapshot();
    let s = &host.settings;
    let code = if snap.serving {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({
        "status": if snap.serving { "healthy" } else { "unhealthy" },
        "cdpPort": s.cdp_port,
        "cdpHost": s.cdp_host,
        "cdpEndpoint": s.cdp_endpoint(),
        "headless": snap.headless,
    });
    if !snap.serving {
        body["reason"] = json!(snap.reason);
    }
    (code, Json(body)).into_response()
}

/// The original's fields of `GET /`.
pub fn about(s: &crate::Settings) -> serde_json::Map<String, serde_json::Value> {
    [
        ("cdpPort", json!(s.cdp_port)),
        ("cdpHost", json!(s.cdp_host)),
        ("healthPort", json!(s.health_port)),
        (
            "endpoints",
            json!({ "health": "/health", "cdp": s.cdp_endpoint(), "grpc": "portos.browser.v1.Browser" }),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

async fn version(State(host): State<Arc<Host>>) -> Response {
    match host.cdp_version().await {
        Some(v) => Json(v).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "Browser not reachable", "code": "BROWSER_UNAVAILABLE" })),
        )
            .into_response(),
    }
}
