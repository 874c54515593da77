//! The supervisor's control socket (`data/supervisor.sock`), as the services
//! reach it (the api server, the autofixer and its UI): the process table and
//! control for `portos-apps` (behind its [`Supervisor`] trait), the log streams
//! the log routes pass on, and the supervisor's events.
//!
//! Owns: the socket's address and the one conversion of the supervisor's
//! process message.
//! Must not depend on: the supervisor itself or any service crate (it is an
//! adapter: the supervisor's wire on one side, `portos-apps`' trait on the other).

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
    /// The supervisor of the data dir `data_dir` (its `supervisor.sock`).
    pub fn in_data_dir(data_dir: &std::path::Path) -> Self {
        Self {
            socket: data_dir.join("supervisor.sock"),
        }
    }

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

    /// The supervisor's events as they happen (with `snapshot`, each process's
    /// current state first).
    pub async fn events(&self, snapshot: bool) -> Result<tonic::Streaming<pb::Event>, Problem> {
        Ok(self
            .client()
            .await?
            .events(pb::EventsRequest { snapshot })
            .await
            .map_err(status_problem)?
            .into_inner())
    }

    /// The last `lines` lines of one process, oldest first.
    pub async fn tail_lines(&self, name: &str, lines: u32) -> Result<Vec<pb::LogLine>, Problem> {
        let mut stream = self.logs(name, lines, false).await?;
        let mut out = Vec::new();
        while let Some(line) = stream.message().await.map_err(status_problem)? {
            out.push(line);
        }
        Ok(out)
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
pub fn process_info(p: pb::Process) -> ProcessInfo {
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
        min_uptime_ms: p.min_uptime_ms,
        command: p.command,
    }
}

#[async_trait::async_trait]
impl Supervisor for SupervisorLink {
    async fn list(&self) -> Result<Vec<ProcessInfo>, AppsError> {
        Ok(portos_healer::Supervision::processes(self).await?)
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

#[async_trait::async_trait]
impl portos_healer::Supervision for SupervisorLink {
    async fn processes(&self) -> Result<Vec<ProcessInfo>, Problem> {
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

    async fn restart(&self, name: &str) -> Result<(), Problem> {
        self.client()
            .await?
            .restart(pb::ControlRequest {
                name: name.to_string(),
            })
            .await
            .map(drop)
            .map_err(status_problem)
    }

    async fn tail(&self, name: &str, lines: u32) -> Result<Vec<portos_healer::LogLine>, Problem> {
        Ok(self
            .tail_lines(name, lines)
            .await?
            .into_iter()
            .map(|l| portos_healer::LogLine {
                stderr: l.stream == pb::Stream::Stderr as i32,
                text: l.text,
            })
            .collect())
    }
}

/// The one conversion of the supervisor's event, as the healer hears it.
pub fn process_event(e: pb::Event) -> portos_healer::ProcessEvent {
    use portos_healer::Happened;
    let happened = match pb::EventKind::try_from(e.kind).unwrap_or(pb::EventKind::Unspecified) {
        pb::EventKind::Exited => Happened::Exited {
            code: e.exit_code,
            signal: e.exit_signal,
        },
        pb::EventKind::Errored => Happened::Errored,
        pb::EventKind::Healthy => Happened::Healthy,
        _ => Happened::Other,
    };
    portos_healer::ProcessEvent {
        process: e.process,
        group: e.group,
        happened,
        at_ms: e.at_ms,
        reason: e.reason,
    }
}
