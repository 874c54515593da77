//! `portos-autofixer`: watches the supervisor's crash events and runs a fixing agent (127.0.0.1:5559).
//!
//! For now it carries its frame only (settings, shutdown, gRPC health and
//! reflection, `/healthz`); its own routes arrive with later work.
//! Must not depend on: the supervisor or any other service crate.

use std::process::ExitCode;

use portos_rt::{App, ServiceInfo};

const INFO: ServiceInfo = ServiceInfo {
    name: "portos-autofixer",
    description: "PortOS autofixer: watches crashes and runs a fixing agent",
    default_host: "127.0.0.1",
    default_port: 5559,
};

fn main() -> ExitCode {
    portos_rt::main(INFO, |_ctx| async {
        Ok(App {
            wrap: Some(portos_rt::internal::wrap_from_env()),
            ..App::default()
        })
    })
}
