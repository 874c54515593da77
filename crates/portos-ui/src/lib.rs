//! The web UI of PortOS: server-rendered pages (askama templates compiled into
//! the binary), one stylesheet and one script embedded with rust-embed, and
//! `/api` and the live-event socket `/ws` passed through to the api server, as
//! the original's dev server did. No Node toolchain anywhere in the build.
//!
//! Owns: the pages and their assets, the pass-through, and the same-origin rule
//! for requests that change something. Must not depend on: the api server's
//! crate, the supervisor, or any other service crate (it speaks HTTP to the api).

mod assets;
mod pages;
mod proxy;

use axum::Router;
use axum::routing::{any, get};

pub use proxy::Upstream;

/// Every route of the UI server, behind the owner's login.
pub fn router(upstream: Upstream, gate: portos_login::Gate) -> Router {
    Router::new()
        .route("/assets/{*file}", get(assets::serve))
        .route("/api/{*rest}", any(proxy::http))
        .route("/ws", get(proxy::ws))
        .merge(pages::routes(gate.is_open()))
        .with_state(upstream)
        .merge(gate.routes())
        .layer(axum::middleware::from_fn_with_state(
            gate,
            portos_login::Gate::check,
        ))
        .layer(axum::middleware::from_fn(portos_rt::hosts::page_headers))
        .layer(axum::middleware::from_fn(shell_csp))
}

/// The Shell page's policy: the pages' own, but xterm.js draws its theme
/// with a `<style>` element it makes, so inline styles are allowed there
/// (scripts stay this origin's only).
async fn shell_csp(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let shell = req.uri().path() == "/shell";
    let mut resp = next.run(req).await;
    if shell {
        let csp = portos_rt::hosts::PAGE_CSP
            .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'");
        if let Ok(v) = axum::http::HeaderValue::from_str(&csp) {
            resp.headers_mut()
                .insert(axum::http::header::CONTENT_SECURITY_POLICY, v);
        }
    }
    resp
}
