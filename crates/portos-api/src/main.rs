//! `portos-api`: the api server of PortOS (REST, live events and gRPC on one
//! port, 5554). A thin shell over the library: settings from the environment,
//! the service frame from `portos-rt`.

use std::path::PathBuf;
use std::process::ExitCode;

use portos_api::guard::{Access, HostPolicy};
use portos_api::{AppState, guarded, router};
use portos_rt::{App, RtError, ServiceInfo};

const INFO: ServiceInfo = ServiceInfo {
    name: "portos-api",
    description: "PortOS api server: REST, live events and gRPC on one port",
    default_host: "0.0.0.0",
    default_port: 5554,
};

fn main() -> ExitCode {
    portos_rt::main(INFO, |ctx| async move {
        let data_dir = PathBuf::from(portos_rt::env_or("PORTOS_DATA_DIR", "data"));
        let access = Access::from_env(&data_dir).map_err(|e| RtError::Service(Box::new(e)))?;
        let state = AppState::new(data_dir, HostPolicy::from_env(), access);
        // Runs a previous api server left in flight: followed or recorded;
        // then the chief of staff, which takes back the agents among them.
        tokio::spawn({
            let (state, shutdown) = (state.clone(), ctx.shutdown.clone());
            async move {
                portos_ai::runs::resume(&state.ai).await;
                state.cos.clone().boot(shutdown).await;
            }
        });
        tokio::spawn(portos_ai::status::run_checks(
            state.ai.clone(),
            ctx.shutdown.clone(),
        ));
        // Apps registered without a group in the supervisor (an apps.json from
        // the original, or one written by hand) are put under it.
        tokio::spawn({
            let state = state.clone();
            async move {
                match portos_apps::supervise::reconcile(&state.apps).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(apps = n, "apps put under the supervisor"),
                    Err(e) => tracing::warn!(error = %e, "apps not reconciled"),
                }
            }
        });
        // The autofixer's events onto the live socket.
        tokio::spawn(portos_api::routes::autofixer::relay(
            state.clone(),
            ctx.shutdown.clone(),
        ));
        // A process the supervisor gives up on becomes a notification.
        tokio::spawn(portos_api::routes::notifications::relay_supervisor(
            state.clone(),
            ctx.shutdown.clone(),
        ));
        // The brain: its prompt stages where a data dir lacks them, thoughts a
        // previous server left classifying, and its scheduler.
        tokio::spawn({
            let (brain, ai, shutdown) =
                (state.brain.clone(), state.ai.clone(), ctx.shutdown.clone());
            async move {
                if let Err(e) = portos_brain::RunsModel(ai).install_stages().await {
                    tracing::warn!(error = %e, "brain prompt stages not installed");
                }
                if let Err(e) = brain.resume().await {
                    tracing::warn!(error = %e, "brain inbox not resumed");
                }
                tokio::select! {
                    () = brain.scheduler() => {}
                    () = shutdown.cancelled() => {}
                }
            }
        });
        // This instance's identity, and the poll of its peers.
        state.instances.set_port(ctx.addr.port());
        tokio::spawn(state.instances.clone().run(
            portos_instances::poll::interval_from_env(),
            ctx.shutdown.clone(),
        ));
        // Automation schedules: one scheduler, stopped with the process.
        tokio::spawn(state.agents.clone().run(ctx.shutdown.clone()));
        let (grpc, grpc_names) = portos_api::grpc::routes(state.clone());
        // Commands still running are stopped with the server, whole groups.
        let commands = state.commands.clone();
        Ok(App {
            drain: Some(Box::pin(async move { commands.stop_all().await })),
            rest: router(state.clone()),
            grpc: Some(grpc),
            grpc_names,
            wrap: Some(Box::new(move |all| guarded(&state, all))),
            ..App::default()
        })
    })
}
