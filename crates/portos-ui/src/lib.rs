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
}
