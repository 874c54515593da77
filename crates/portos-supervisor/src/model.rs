//! The supervisor's own vocabulary: states, health, process snapshots, events.
//! Wire types (prost) are converted from these at the edge, in `control`.

use std::time::{Duration, SystemTime};

pub use crate::reaper::ExitStatus;

/// Where a process is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Spawned (or waiting for its dependencies) and not yet healthy.
    Starting,
    Healthy,
    /// Running, but its probe fails.
    Unhealthy,
    /// Exited; waiting out the restart delay.
    Backoff,
    Stopping,
    Stopped,
    /// Gave up: a crash loop, a command that cannot start, or a failing exit without autorestart.
    Errored,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Healthy => "healthy",
            State::Unhealthy => "unhealthy",
            State::Backoff => "backoff",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
            State::Errored => "errored",
        }
    }

    /// Whether a child is (or is about to be) running.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            State::Starting | State::Healthy | State::Unhealthy | State::Backoff
        )
    }
}

/// What the last probe said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    /// No probe configured.
    None,
    /// Not probed yet, or nothing runs.
    Unknown,
    Serving,
    NotServing,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::None => "none",
            Health::Unknown => "unknown",
            Health::Serving => "serving",
            Health::NotServing => "not_serving",
        }
    }
}

/// A process as the supervisor sees it now.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessInfo {
    pub name: String,
    /// `portos` for `supervisor.toml`'s processes, an app's id for an app's.
    pub group: String,
    pub pid: Option<u32>,
    pub state: State,
    pub health: Health,
    /// Why it is in its state (empty when there is nothing to say).
    pub reason: String,
    pub started_at: Option<SystemTime>,
    pub restarts: u32,
    pub unstable_restarts: u32,
    pub memory_bytes: u64,
    pub cpu_percent: f64,
    pub ports: Vec<(String, u16)>,
    pub last_exit: Option<ExitStatus>,
    pub command: String,
    /// How long a run must last to count as stable.
    pub min_uptime: Duration,
}

impl ProcessInfo {
    pub fn uptime(&self) -> Duration {
        self.started_at
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or_default()
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Started,
    Exited,
    Restarting,
    Healthy,
    Unhealthy,
    Errored,
    Stopping,
    Stopped,
}

/// A state change of one process.
#[derive(Debug, Clone)]
pub struct Event {
    pub process: String,
    pub group: String,
    pub kind: EventKind,
    pub state: State,
    pub pid: Option<u32>,
    pub exit: Option<ExitStatus>,
    pub reason: String,
    /// For `Restarting`: the delay before the respawn.
    pub delay: Duration,
    pub at: SystemTime,
}
