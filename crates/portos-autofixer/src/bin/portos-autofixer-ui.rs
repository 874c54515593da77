//! `portos-autofixer-ui`: the autofixer's page (5560): fix history, live logs.
//!
//! For now it carries its frame only (settings, shutdown, gRPC health and
//! reflection, `/healthz`); its own routes arrive with later work.
//! Must not depend on: the supervisor or any other service crate.

use std::process::ExitCode;

use portos_rt::{App, ServiceInfo};

const INFO: ServiceInfo = ServiceInfo {
    name: "portos-autofixer-ui",
    description: "PortOS autofixer UI: fix history and live logs",
    default_host: "0.0.0.0",
    default_port: 5560,
};

fn main() -> ExitCode {
    portos_rt::main(INFO, |_ctx| async { Ok(App::default()) })
}
