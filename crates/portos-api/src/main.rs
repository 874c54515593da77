//! `portos-api`: the api server of PortOS (REST, live events and gRPC on one port, 5554).
//!
//! For now it carries its frame only (settings, shutdown, gRPC health and
//! reflection, `/healthz`); its own routes arrive with later work.
//! Must not depend on: the supervisor or any other service crate.

use std::process::ExitCode;

use portos_rt::{App, ServiceInfo};

const INFO: ServiceInfo = ServiceInfo {
    name: "portos-api",
    description: "PortOS api server: REST, live events and gRPC on one port",
    default_host: "0.0.0.0",
    default_port: 5554,
};

fn main() -> ExitCode {
    portos_rt::main(INFO, |_ctx| async { Ok(App::default()) })
}
