//! What the apps need of the supervisor: the process table and start, stop,
//! restart by name. The api server puts the supervisor's control socket
//! behind [`Supervisor`]; this crate never links the supervisor.

use serde_json::{Map, Value, json};

use crate::AppsError;

/// A supervised process's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessState {
    Starting,
    Healthy,
    Unhealthy,
    Backoff,
    Stopping,
    Stopped,
    Errored,
    Unknown,
}

impl ProcessState {
    /// Our word for it.
    pub fn name(self) -> &'static str {
        match self {
            ProcessState::Starting => "starting",
            ProcessState::Healthy => "healthy",
            ProcessState::Unhealthy => "unhealthy",
            ProcessState::Backoff => "backoff",
            ProcessState::Stopping => "stopping",
            ProcessState::Stopped => "stopped",
            ProcessState::Errored => "errored",
            ProcessState::Unknown => "unknown",
        }
    }

    /// The PM2 status word the original's clients know.
    pub fn pm2_status(self) -> &'static str {
        match self {
            ProcessState::Starting => "launching",
            ProcessState::Healthy | ProcessState::Unhealthy => "online",
            ProcessState::Backoff => "waiting restart",
            ProcessState::Stopping => "stopping",
            ProcessState::Stopped => "stopped",
            ProcessState::Errored => "errored",
            ProcessState::Unknown => "unknown",
        }
    }
}

/// One supervised process, as the supervisor reports it.
#[derive(Debug, Clone)]
pub struct ProcessInfo {
    pub name: String,
    /// `portos` for PortOS's own processes, an app's id for an app's.
    pub group: String,
    pub state: ProcessState,
    /// 0 when not running.
    pub pid: u32,
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    pub uptime_ms: u64,
    pub restarts: u32,
    pub reason: String,
    /// `(label, port)`, in the table's order.
    pub ports: Vec<(String, u32)>,
    /// How long a run must last to count as stable.
    pub min_uptime_ms: u64,
    /// What it runs, as one line.
    pub command: String,
}

impl ProcessInfo {
    /// The original's summary shape, plus our richer fields.
    pub fn summary(&self) -> Value {
        json!({
            "name": self.name,
            "group": self.group,
            "status": self.state.pm2_status(),
            "pid": (self.pid != 0).then_some(self.pid),
            "pm_id": Value::Null,
            "cpu": self.cpu_percent,
            "memory": self.memory_bytes,
            "uptime": (self.pid != 0).then_some(self.uptime_ms),
            "restarts": self.restarts,
            "state": self.state.name(),
            "reason": self.reason,
            "ports": self.ports.iter().map(|(l, p)| (l.clone(), json!(p))).collect::<Map<String, Value>>(),
        })
    }
}

/// The supervisor, as the apps use it.
#[async_trait::async_trait]
pub trait Supervisor: Send + Sync + std::fmt::Debug {
    /// Every supervised process.
    async fn list(&self) -> Result<Vec<ProcessInfo>, AppsError>;
    /// Starts, stops or restarts one process by name.
    async fn control(&self, name: &str, action: crate::AppAction) -> Result<(), AppsError>;
    /// Sets the whole table of `group` (new processes start, gone ones stop,
    /// changed ones restart, the rest are left alone); a refusal is `Invalid`.
    async fn apply(
        &self,
        group: &str,
        table: &crate::table::AppTable,
    ) -> Result<GroupChange, AppsError>;
    /// Stops and removes every process of `group`; `NotFound` when it has none.
    async fn remove_group(&self, group: &str) -> Result<GroupChange, AppsError>;
}

/// What a change of a group did, by process name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupChange {
    pub started: Vec<String>,
    pub restarted: Vec<String>,
    pub stopped: Vec<String>,
    pub unchanged: Vec<String>,
}

impl GroupChange {
    pub fn to_json(&self) -> Value {
        json!({
            "started": self.started,
            "restarted": self.restarted,
            "stopped": self.stopped,
            "unchanged": self.unchanged,
        })
    }
}
