//! The supervisor's control socket (`data/supervisor.sock`), as the api server
//! reaches it: the process table and control for `portos-apps` (behind its
//! [`Supervisor`] trait), and the log streams the log routes pass on.

use std::path::PathBuf;
use std::time::Duration;

use pb::supervisor_client::SupervisorClient;
use portos_apps::supervisor::GroupChange;
use portos_apps::table::AppTable;
use portos_apps::{AppAction, AppsError, ProcessInfo, ProcessState, Supervisor};
use portos_core::{Kind, Problem};
use portos_proto::supervisor::v1 as pb;
use tonic::transport::Channel;

/// How the api server reaches the supervisor.
#[derive(Debug, Clone)]
pub struct SupervisorLink {
    pub socket: PathBuf,
}

impl SupervisorLink {
    pub async fn client(&self) -> Result<SupervisorClient<Channel>, Problem> {
        let channel = tokio::time::timeout(
            Duration::from_secs(2),
            portos_proto::unix::connect(&self.socket),
        )
        .await
        .map_err(|_| unavailable("the supervisor did not answer within 2s".into()))?
        .map_err(|_| {
            unavailable(format!(
                "the supervisor is not running (no control socket at {})",
                self.socket.display()
            ))
        })?;
        Ok(SupervisorClient::new(channel))
    }

    /// The last `lines` lines of one process (`""`: every process), then,
    /// when `follow`, each new one.
    pub async fn logs(
        &self,
        name: &str,
        lines: u32,
        follow: bool,
    ) -> Result<tonic::Streaming<pb::LogLine>, Problem> {
        Ok(self
            .client()
            .await?
            .logs(pb::LogsRequest {
                name: name.to_string(),
                tail: lines,
                follow,
            })
            .await
            .map_err(status_problem)?
            .into_inner())
    }
}

fn unavailable(message: String) -> Problem {
    Problem::new(Kind::Unavailable, "SERVICE_UNAVAILABLE", message)
}

/// A supervisor's refusal as a problem.
pub fn status_problem(s: tonic::Status) -> Problem {
    match s.code() {
        tonic::Code::NotFound => Problem::new(Kind::NotFound, "NOT_FOUND", s.message()),
        tonic::Code::InvalidArgument => {
            Problem::new(Kind::Invalid, "VALIDATION_ERROR", s.message())
        }
        _ => unavailable(format!("supervisor: {}", s.message())),
    }
}

/// The one conversion of the supervisor's process message.
fn process_info(p: pb::Process) -> ProcessInfo {
    let state = match pb::State::try_from(p.state).unwrap_or(pb::State::Unspecified) {
        pb::State::Starting => ProcessState::Starting,
        pb::State::Healthy => ProcessState::Healthy,
        pb::State::Unhealthy => ProcessState::Unhealthy,
        pb::State::Backoff => ProcessState::Backoff,
        pb::State::Stopping => ProcessState::Stopping,
        pb::State::Stopped => ProcessState::Stopped,
        pb::State::Errored => ProcessState::Errored,
        pb::State::Unspecified => ProcessState::Unknown,
    };
    ProcessInfo {
        name: p.name,
        group: p.group,
        state,
        pid: p.pid,
        cpu_percent: p.cpu_percent,
        memory_bytes: p.memory_bytes,
        uptime_ms: p.uptime_ms,
        restarts: p.restarts,
        reason: p.reason,
        ports: p.ports.into_iter().map(|x| (x.label, x.port)).collect(),
    }
}

#[async_trait::async_trait]
impl Supervisor for SupervisorLink {
    async fn list(&self) -> Result<Vec<ProcessInfo>, AppsError> {
        Ok(self
            .client()
            .await?
            .list_processes(pb::ListProcessesRequest {})
            .await
            .map_err(status_problem)?
            .into_inner()
            .processes
            .into_iter()
            .map(process_info)
            .collect())
    }

    async fn control(&self, name: &str, action: AppAction) -> Result<(), AppsError> {
        let mut c = self.client().await?;
        let req = pb::ControlRequest {
            name: name.to_string(),
        };
        match action {
            AppAction::Start => c.start(req).await,
            AppAction::Stop => c.stop(req).await,
            AppAction::Restart => c.restart(req).await,
        }
        .map(drop)
        .map_err(|s| status_problem(s).into())
    }

    async fn apply(&self, group: &str, table: &AppTable) -> Result<GroupChange, AppsError> {
        let applied = self
            .client()
            .await?
            .apply(pb::ApplyRequest {
                group: group.to_string(),
                toml: table.toml.clone(),
                source: table.source.display().to_string(),
                root: table.root.display().to_string(),
            })
            .await
            .map_err(status_problem)?
            .into_inner();
        Ok(group_change(applied))
    }

    async fn remove_group(&self, group: &str) -> Result<GroupChange, AppsError> {
        let removed = self
            .client()
            .await?
            .remove_group(pb::RemoveGroupRequest {
                group: group.to_string(),
            })
            .await
            .map_err(status_problem)?
            .into_inner();
        Ok(group_change(removed))
    }
}

/// The one conversion of the supervisor's apply answer.
fn group_change(a: pb::ApplyResponse) -> GroupChange {
    GroupChange {
        started: a.started,
        restarted: a.restarted,
        stopped: a.stopped,
        unchanged: a.unchanged,
    }
}
