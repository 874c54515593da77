//! `portos-autofixer-ui` (5560): the autofixer's page and the original's
//! routes behind the owner's login — the apps' processes with their state,
//! their live logs (SSE), restart and stop, the fix history with each
//! session's prompt, output, diff and verdict, and "fix now".
//! Reads the history through `portos-healer` (the same files the autofixer
//! writes, so it shows even while the autofixer is down), reaches the
//! supervisor over its control socket and the autofixer over gRPC with the
//! internal token.
//! Must not depend on: the supervisor or any other service crate.

mod routes;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use portos_rt::{App, ServiceInfo};

const INFO: ServiceInfo = ServiceInfo {
    name: "portos-autofixer-ui",
    description: "PortOS autofixer UI: fix history and live logs",
    default_host: "0.0.0.0",
    default_port: 5560,
};

fn main() -> ExitCode {
    portos_rt::main(INFO, |_ctx| async {
        let data_dir = PathBuf::from(portos_rt::env_or("PORTOS_DATA_DIR", "data"));
        let store = Arc::new(portos_store::JsonStore::new(&data_dir));
        let ctx = Arc::new(routes::Ctx {
            fixer: portos_autofixer_client::AutofixerLink::new(
                match std::env::var("PORTOS_AUTOFIXER_PORT") {
                    Ok(p) => format!("http://127.0.0.1:{p}"),
                    Err(_) => portos_core::siblings::url(
                        "PORTOS_AUTOFIXER_URL",
                        "portos-autofixer",
                        "api",
                        5559,
                    ),
                },
                portos_rt::internal::Auth::from_env(),
            ),
            ui_port: portos_rt::env_or(
                "PORTOS_UI_PORT",
                &portos_core::siblings::port("portos-ui", "ui")
                    .unwrap_or(5555)
                    .to_string(),
            ),
            sessions: portos_healer::sessions::Sessions::new(store.clone()),
            store,
            link: portos_supervisor_client::SupervisorLink::in_data_dir(&data_dir),
        });
        let gate = portos_login::Gate::from_env();
        Ok(App {
            rest: routes::router(ctx)
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
