//! The chief-of-staff runner (`portos.runner.v1` on 127.0.0.1:5558) as
//! `portos-ai` needs it: [`GrpcRunner`] implements [`portos_ai::runner::Runner`].
//! A connection is made per call, so a runner restarted in between is found again.
//!
//! `shell.rs`: [`shell::ShellLink`], the runner's terminal sessions for the web shell.
//! `feed.rs`: the runner's agents as one live feed ([`GrpcRunner::feed`]).
//!
//! Owns: the runner's address and the conversion of its messages.
//! Must not depend on: the runner itself, the api server or any other service crate.

pub mod feed;
pub mod shell;

use std::time::Duration;

use futures_util::StreamExt;
use pb::runner_client::RunnerClient;
use portos_ai::runner::{AgentEnd, Output, Runner, RunnerError, Spawn};
use portos_proto::runner::v1 as pb;
use portos_rt::internal::{Auth, Authed};

/// The runner at one address, called with the internal token.
/// Where the runner listens: `PORTOS_RUNNER_URL`, else the `portos-cos`
/// process's `api` port of the supervisor's table (5558 outside one).
pub fn runner_url() -> String {
    portos_core::siblings::url("PORTOS_RUNNER_URL", "portos-cos", "api", 5558)
}

#[derive(Debug, Clone)]
pub struct GrpcRunner {
    url: String,
    auth: Auth,
}

impl GrpcRunner {
    pub fn new(url: impl Into<String>, auth: Auth) -> Self {
        Self {
            url: url.into(),
            auth,
        }
    }

    /// The runner at [`runner_url`], with this
    /// process's internal token.
    pub fn from_env() -> Self {
        Self::new(runner_url(), Auth::from_env())
    }

    async fn client(&self) -> Result<RunnerClient<Authed>, RunnerError> {
        let url = &self.url;
        let endpoint = tonic::transport::Endpoint::from_shared(url.clone())
            .map_err(|e| RunnerError::Unreachable(format!("bad runner address {url:?}: {e}")))?
            .connect_timeout(Duration::from_secs(3));
        let channel = endpoint.connect().await.map_err(|e| {
            RunnerError::Unreachable(format!("the runner at {url} is not reachable: {e}"))
        })?;
        Ok(RunnerClient::with_interceptor(channel, self.auth.clone()))
    }
}

fn failed(s: tonic::Status) -> RunnerError {
    RunnerError::Failed(s.message().to_string())
}

#[async_trait::async_trait]
impl Runner for GrpcRunner {
    async fn spawn(&self, s: Spawn) -> Result<(), RunnerError> {
        let req = pb::SpawnRequest {
            id: s.id,
            command: s.command,
            args: s.args,
            env: s.env.into_iter().collect(),
            cwd: s.cwd,
            stdin: s.stdin,
            ..Default::default()
        };
        self.client().await?.spawn(req).await.map_err(failed)?;
        Ok(())
    }

    async fn follow(&self, id: &str) -> Result<Output, RunnerError> {
        let stream = self
            .client()
            .await?
            .output(pb::OutputRequest {
                id: id.to_string(),
                follow: true,
                from_offset: 0,
            })
            .await
            .map_err(failed)?
            .into_inner();
        Ok(Box::pin(stream.map(|chunk| {
            chunk.map(|c| c.data).map_err(|s| s.message().to_string())
        })))
    }

    async fn stop(&self, id: &str) -> Result<(), RunnerError> {
        self.client()
            .await?
            .stop(pb::StopRequest {
                id: id.to_string(),
                grace_ms: 0,
            })
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<AgentEnd, RunnerError> {
        let a = self
            .client()
            .await?
            .get(pb::AgentRequest { id: id.to_string() })
            .await
            .map_err(failed)?
            .into_inner();
        let running = a.state == pb::AgentState::Running as i32;
        Ok(AgentEnd {
            exit_code: a.exit_code,
            lost: a.state == pb::AgentState::Lost as i32,
            reason: a.reason,
            pid: (running && a.pid > 0).then_some(a.pid),
        })
    }
}
