//! `portos-runner`: the chief-of-staff runner (127.0.0.1:5558), which spawns and tracks AI agents.
//!
//! For now it carries its frame only (settings, shutdown, gRPC health and
//! reflection, `/healthz`); its own routes arrive with later work.
//! Must not depend on: the supervisor or any other service crate.

use std::process::ExitCode;

use portos_rt::{App, ServiceInfo};

const INFO: ServiceInfo = ServiceInfo {
    name: "portos-runner",
    description: "PortOS chief-of-staff runner: spawns and tracks AI agent processes",
    default_host: "127.0.0.1",
    default_port: 5558,
};

fn main() -> ExitCode {
    portos_rt::main(INFO, |_ctx| async { Ok(App::default()) })
}
