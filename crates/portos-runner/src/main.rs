//! `portos-runner`: the chief-of-staff runner (127.0.0.1:5558). A thin shell
//! over the library: settings from the environment, the service frame from
//! `portos-rt`, and on the way out every running agent stopped.

use std::path::PathBuf;
use std::process::ExitCode;

use portos_rt::{App, RtError, ServiceInfo};
use portos_runner::{DEFAULT_GRACE, Runner};

const INFO: ServiceInfo = ServiceInfo {
    name: "portos-runner",
    description: "PortOS chief-of-staff runner: spawns and tracks AI agent processes",
    default_host: "127.0.0.1",
    default_port: 5558,
};

fn main() -> ExitCode {
    portos_rt::main(INFO, |_ctx| async {
        let data_dir = PathBuf::from(portos_rt::env_or("PORTOS_DATA_DIR", "data"));
        let runner = Runner::open(data_dir)
            .await
            .map_err(|e| RtError::Service(Box::new(e)))?;
        let shells = portos_runner::shell::Shells::new(portos_store::JsonStore::new(
            PathBuf::from(portos_rt::env_or("PORTOS_DATA_DIR", "data")),
        ));
        let (grpc, grpc_names) = portos_runner::grpc::routes(runner.clone(), shells.clone());
        Ok(App {
            grpc: Some(grpc),
            grpc_names,
            wrap: Some(portos_rt::internal::wrap_from_env()),
            drain: Some(Box::pin(async move {
                tokio::join!(runner.stop_all(DEFAULT_GRACE), shells.close_all());
            })),
            ..App::default()
        })
    })
}
