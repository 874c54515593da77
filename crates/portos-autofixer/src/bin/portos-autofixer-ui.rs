//! `portos-autofixer-ui`: the autofixer's page (5560). For now its frame: the
//! autofixer's status (its `/healthz`, asked on each view), in the UI's look,
//! with the way back to the dashboard; fix history and live logs come with the
//! autofixer's own work.
//! Must not depend on: the supervisor or any other service crate.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use portos_rt::{App, ServiceInfo};

const INFO: ServiceInfo = ServiceInfo {
    name: "portos-autofixer-ui",
    description: "PortOS autofixer UI: fix history and live logs",
    default_host: "0.0.0.0",
    default_port: 5560,
};

#[derive(Template)]
#[template(path = "autofixer-ui.html")]
struct Page {
    dashboard: String,
    address: String,
    serving: bool,
    state: String,
    checked: String,
}

struct Ctx {
    autofixer: String,
    ui_port: String,
    http: reqwest::Client,
}

fn main() -> ExitCode {
    portos_rt::main(INFO, |_ctx| async {
        let ctx = Arc::new(Ctx {
            autofixer: format!(
                "http://127.0.0.1:{}",
                portos_rt::env_or("PORTOS_AUTOFIXER_PORT", "5559")
            ),
            ui_port: portos_rt::env_or("PORTOS_UI_PORT", "5555"),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap_or_default(),
        });
        let gate = portos_login::Gate::from_env();
        Ok(App {
            rest: axum::Router::new()
                .route("/", axum::routing::get(page))
                .route("/assets/autofixer.css", axum::routing::get(stylesheet))
                .route("/assets/app.css", axum::routing::get(stylesheet))
                .with_state(ctx)
                .merge(gate.routes())
                .layer(axum::middleware::from_fn_with_state(
                    gate,
                    portos_login::Gate::check,
                ))
                .layer(axum::middleware::from_fn(portos_rt::hosts::page_headers)),
            wrap: Some(portos_rt::hosts::wrap_from_env()),
            serves_root: true,
            ..App::default()
        })
    })
}

/// The page's styles, served from this origin (the page's CSP allows no inline style).
async fn stylesheet() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../templates/autofixer-ui.css"),
    )
}

async fn page(State(ctx): State<Arc<Ctx>>, headers: HeaderMap) -> Response {
    let state = match ctx
        .http
        .get(format!("{}/healthz", ctx.autofixer))
        .send()
        .await
    {
        Ok(r) => r.json::<serde_json::Value>().await.ok(),
        Err(_) => None,
    };
    let (serving, state) = match state {
        Some(v) if v["status"] == "serving" => (true, "serving".to_string()),
        Some(v) => (
            false,
            v["reason"].as_str().unwrap_or("not serving").to_string(),
        ),
        None => (false, format!("no answer from {}", ctx.autofixer)),
    };
    // The dashboard is on the same machine, under the name this page was reached by.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let name = match host.rsplit_once(':') {
        Some((n, p)) if p.chars().all(|c| c.is_ascii_digit()) => n,
        _ => host,
    };
    let page = Page {
        dashboard: format!("http://{name}:{}/", ctx.ui_port),
        address: ctx.autofixer.clone(),
        serving,
        state,
        checked: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
