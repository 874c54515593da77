//! `portos-ui`: serves the PortOS web UI (5555).
//!
//! For now it carries its frame only (settings, shutdown, gRPC health and
//! reflection, `/healthz`); its own routes arrive with later work.
//! Must not depend on: the supervisor or any other service crate.

use std::process::ExitCode;

use portos_rt::{App, ServiceInfo};

const INFO: ServiceInfo = ServiceInfo {
    name: "portos-ui",
    description: "PortOS web UI",
    default_host: "0.0.0.0",
    default_port: 5555,
};

fn main() -> ExitCode {
    portos_rt::main(INFO, |_ctx| async { Ok(App::default()) })
}
