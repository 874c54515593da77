//! `portos-autofixer` (127.0.0.1:5559): the healer of `portos-healer` run as a
//! service. It follows the supervisor's event stream (reconnecting when the
//! supervisor restarts), hands each event to the healer, which fixes crashing
//! app processes through the chief-of-staff runner, and answers
//! `portos.autofixer.v1` (internal token only).
//! Must not depend on: the supervisor or any other service crate (it reaches
//! them over their sockets).

mod grpc;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use portos_healer::Healer;
use portos_rt::{App, RtError, ServiceInfo};
use portos_store::JsonStore;
use portos_supervisor_client::SupervisorLink;
use tokio_util::sync::CancellationToken;

const INFO: ServiceInfo = ServiceInfo {
    name: "portos-autofixer",
    description: "PortOS autofixer: watches crashes and runs a fixing agent",
    default_host: "127.0.0.1",
    default_port: 5559,
};

fn main() -> ExitCode {
    portos_rt::main(INFO, |ctx| async move {
        let data_dir = PathBuf::from(portos_rt::env_or("PORTOS_DATA_DIR", "data"));
        let link = SupervisorLink::in_data_dir(&data_dir);
        let store = Arc::new(JsonStore::new(&data_dir));
        let runner = Arc::new(portos_runner_client::GrpcRunner::from_env());
        let healer = Healer::start(store, runner, Arc::new(link.clone()), ctx.shutdown.clone())
            .await
            .map_err(|e| RtError::Service(Box::new(e)))?;
        tokio::spawn(follow(link, healer.clone(), ctx.shutdown.clone()));
        let (grpc, grpc_names) = grpc::routes(healer.clone());
        Ok(App {
            grpc: Some(grpc),
            grpc_names,
            wrap: Some(portos_rt::internal::wrap_from_env()),
            drain: Some(Box::pin(async move { healer.drain().await })),
            ..App::default()
        })
    })
}

/// The supervisor's events into the healer, until the shutdown; a lost
/// stream is opened again (the supervisor may be restarting).
async fn follow(link: SupervisorLink, healer: Healer, shutdown: CancellationToken) {
    let mut said = false;
    while !shutdown.is_cancelled() {
        match link.events(false).await {
            Ok(mut stream) => {
                tracing::info!("following the supervisor's events");
                said = false;
                loop {
                    let next = tokio::select! {
                        m = stream.message() => m,
                        () = shutdown.cancelled() => return,
                    };
                    match next {
                        Ok(Some(ev)) => {
                            healer
                                .observe(portos_supervisor_client::process_event(ev))
                                .await;
                        }
                        Ok(None) | Err(_) => break,
                    }
                }
            }
            Err(e) if !said => {
                tracing::warn!(error = %e, "no supervisor events; trying again");
                said = true;
            }
            Err(_) => {}
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
            () = shutdown.cancelled() => return,
        }
    }
}
