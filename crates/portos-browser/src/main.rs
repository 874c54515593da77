//! `portos-browser`: the browser host binary. Settings from the environment
//! (`CDP_HOST`, `CDP_PORT`, `PORTOS_DATA_DIR`), the service frame from
//! `portos-rt`, and Chromium closed cleanly on the way out.

use std::path::PathBuf;
use std::process::ExitCode;

use portos_browser::{Host, Settings};
use portos_rt::{App, ServiceInfo};

const INFO: ServiceInfo = ServiceInfo {
    name: "portos-browser",
    description: "PortOS browser host: a persistent headless Chromium",
    default_host: "127.0.0.1",
    default_port: 5557,
};

fn main() -> ExitCode {
    portos_rt::main(INFO, |ctx| async move {
        let settings = Settings {
            cdp_host: portos_rt::env_or("CDP_HOST", "127.0.0.1"),
            cdp_port: portos_rt::env_port("CDP_PORT", 5556)?,
            health_port: ctx.addr.port(),
            data_dir: PathBuf::from(portos_rt::env_or("PORTOS_DATA_DIR", "data")),
        };
        ctx.readiness.set_not_serving("launching Chromium").await;
        let about = portos_browser::rest::about(&settings);
        let host = Host::new(settings, ctx.readiness.clone());
        let keeper = tokio::spawn(host.clone().keep(ctx.shutdown.clone()));
        let (grpc, grpc_names) = portos_browser::grpc::routes(host.clone());
        Ok(App {
            rest: portos_browser::rest::routes(host),
            grpc: Some(grpc),
            grpc_names,
            wrap: Some(portos_rt::internal::wrap_from_env()),
            about,
            drain: Some(Box::pin(async move {
                let _ = keeper.await;
            })),
            ..App::default()
        })
    })
}
