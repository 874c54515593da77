//! `data/cos/runner-state.json`: the agents the runner has started and what
//! became of them, in the original's shape (`{ agents: { <id>: { pid, taskId,
//! startedAt } }, stats: { spawned, completed, failed } }`) with our fields
//! beside (command, state, reason, …), so that a restart loses nothing.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The state file, relative to the data dir.
pub const STATE_FILE: &str = "cos/runner-state.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunnerState {
    #[serde(default)]
    pub agents: IndexMap<String, AgentRecord>,
    #[serde(default)]
    pub stats: Stats,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    #[serde(default)]
    pub spawned: u64,
    #[serde(default)]
    pub completed: u64,
    #[serde(default)]
    pub failed: u64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Where an agent is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Entries the original wrote carry no phase: they are treated as running
    /// until a restart finds out.
    #[default]
    Running,
    Exited,
    Stopped,
    Lost,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentRecord {
    /// The agent's pid, also its process group id.
    #[serde(default)]
    pub pid: Option<u32>,
    #[serde(default)]
    pub task_id: Option<String>,
    /// Epoch milliseconds.
    #[serde(default)]
    pub started_at: u64,
    #[serde(default)]
    pub phase: Phase,
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub cwd: String,
    #[serde(default)]
    pub pty: bool,
    /// The leader's start time in clock ticks since boot (`/proc/<pid>/stat`),
    /// to tell its process group from a later one with the same id.
    #[serde(default)]
    pub start_ticks: Option<u64>,
    #[serde(default)]
    pub ended_at: Option<u64>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub signal: Option<i32>,
    #[serde(default)]
    pub reason: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
