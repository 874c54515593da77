//! `portos-api`: the api server of PortOS (REST, live events and gRPC on one
//! port, 5554). A thin shell over the library: settings from the environment,
//! the service frame from `portos-rt`.

use std::path::PathBuf;
use std::process::ExitCode;

use portos_api::{AppState, guard::HostPolicy, router};
use portos_rt::{App, ServiceInfo};

const INFO: ServiceInfo = ServiceInfo {
    name: "portos-api",
    description: "PortOS api server: REST, live events and gRPC on one port",
    default_host: "0.0.0.0",
    default_port: 5554,
};

fn main() -> ExitCode {
    portos_rt::main(INFO, |_ctx| async {
        let data_dir = PathBuf::from(portos_rt::env_or("PORTOS_DATA_DIR", "data"));
        let state = AppState::new(data_dir, HostPolicy::from_env());
        let (grpc, grpc_names) = portos_api::grpc::routes(state.clone());
        Ok(App {
            rest: router(state),
            grpc: Some(grpc),
            grpc_names,
        })
    })
}
