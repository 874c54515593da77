//! `data/cos/state.json` in the original's shape: `running`, `paused`,
//! `pausedAt`, `pauseReason`, `config`, `stats` and `agents` — small records
//! (an agent's output lives in its own file, never here). Keys the original
//! has that this CoS does not use are kept as they are.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::CosError;

pub const STATE: &str = "cos/state.json";

/// Agents at once per lane; a task's priority picks its lane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Lanes {
    /// CRITICAL tasks.
    pub critical: usize,
    /// HIGH and MEDIUM tasks.
    pub standard: usize,
    /// LOW tasks.
    pub background: usize,
}

impl Default for Lanes {
    fn default() -> Self {
        Lanes {
            critical: 1,
            standard: 2,
            background: 3,
        }
    }
}

/// The CoS's settings. The task files' paths are the original's and are not
/// settable over the API (the original let a request point them anywhere).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Config {
    pub user_tasks_file: String,
    pub cos_tasks_file: String,
    /// How often the queues are evaluated besides every event (ms).
    pub evaluation_interval_ms: u64,
    pub health_check_interval_ms: u64,
    pub max_concurrent_agents: usize,
    pub max_concurrent_agents_per_project: usize,
    pub max_process_memory_mb: u64,
    pub max_total_processes: usize,
    /// Start the CoS when the api server starts (either key, as the original).
    pub always_on: bool,
    pub auto_start: bool,
    pub completed_agent_retention_ms: u64,
    pub lanes: Lanes,
    /// An agent still running after this long is stopped (SIGTERM, then
    /// SIGKILL) and its attempt counts as failed (ms).
    pub agent_timeout_ms: u64,
    /// Failed attempts of a task before it is blocked.
    pub max_retries: u32,
    /// The wait before the first retry, doubled for each next one (ms).
    pub retry_backoff_ms: u64,
    /// Times a task's agent may be lost (its runner gone) before it is blocked.
    pub max_orphan_retries: u32,
    /// Run every task in a git worktree on its own branch.
    pub use_worktree: bool,
    /// Disk or memory use (percent) at which the health check warns.
    pub disk_warn_percent: u8,
    pub memory_warn_percent: u8,
    /// The original's keys this CoS does not use, kept as they are.
    #[serde(flatten)]
    pub kept: Map<String, Value>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            user_tasks_file: "data/TASKS.md".into(),
            cos_tasks_file: "data/COS-TASKS.md".into(),
            evaluation_interval_ms: 60_000,
            health_check_interval_ms: 900_000,
            max_concurrent_agents: 3,
            max_concurrent_agents_per_project: 2,
            max_process_memory_mb: 2048,
            max_total_processes: 50,
            always_on: false,
            auto_start: false,
            completed_agent_retention_ms: 86_400_000,
            lanes: Lanes::default(),
            agent_timeout_ms: 3_600_000,
            max_retries: 3,
            retry_backoff_ms: 60_000,
            max_orphan_retries: 3,
            use_worktree: false,
            disk_warn_percent: 90,
            memory_warn_percent: 90,
            kept: Map::new(),
        }
    }
}

/// The original's keys a client may still set (its UI's own settings), with
/// any JSON value.
const KEPT_SETTABLE: &[&str] = &[
    "mcpServers",
    "improvementEnabled",
    "selfImprovementEnabled",
    "appImprovementEnabled",
    "idleReviewEnabled",
    "idleReviewPriority",
    "appReviewCooldownMs",
    "proactiveMode",
    "autonomousJobsEnabled",
    "autonomyLevel",
    "rehabilitationGracePeriodDays",
    "embeddingProviderId",
    "embeddingModel",
    "avatarStyle",
    "dynamicAvatar",
    "immediateExecution",
    "comprehensiveAppImprovement",
    "autoFixThresholds",
];

const NOT_SETTABLE: &[&str] = &["userTasksFile", "cosTasksFile"];

impl Config {
    /// `changes` merged over this config, refused whole when a key is
    /// unknown, not settable, or of the wrong type (the error names it).
    pub fn merged(&self, changes: &Map<String, Value>) -> Result<Config, CosError> {
        let mut now = match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let ours = match serde_json::to_value(Config::default()) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        for (k, v) in changes {
            if NOT_SETTABLE.contains(&k.as_str()) {
                return Err(CosError::invalid(format!(
                    "{k} is not settable over the API: the task files are data/TASKS.md and data/COS-TASKS.md"
                )));
            }
            if !ours.contains_key(k) && !KEPT_SETTABLE.contains(&k.as_str()) {
                return Err(CosError::invalid(format!("unknown config key {k:?}")));
            }
            now.insert(k.clone(), v.clone());
        }
        let text = Value::Object(now).to_string();
        let de = &mut serde_json::Deserializer::from_str(&text);
        let cfg: Config = serde_path_to_error::deserialize(de)
            .map_err(|e| CosError::invalid(format!("config.{}: {}", e.path(), e.inner())))?;
        if cfg.max_concurrent_agents == 0 || cfg.max_concurrent_agents > 64 {
            return Err(CosError::invalid("maxConcurrentAgents must be 1 to 64"));
        }
        if cfg.evaluation_interval_ms < 1_000 {
            return Err(CosError::invalid(
                "evaluationIntervalMs must be at least 1000",
            ));
        }
        if cfg.agent_timeout_ms < 1_000 {
            return Err(CosError::invalid("agentTimeoutMs must be at least 1000"));
        }
        Ok(cfg)
    }

    /// Whether the CoS starts with the api server.
    pub fn starts_at_boot(&self) -> bool {
        self.always_on || self.auto_start
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Stats {
    pub tasks_completed: u64,
    pub total_runtime: u64,
    pub agents_spawned: u64,
    pub errors: u64,
    pub last_evaluation: Option<String>,
    pub last_health_check: Option<String>,
    pub health_issues: Vec<Value>,
    #[serde(flatten)]
    pub kept: Map<String, Value>,
}

/// One agent, as `state.json` keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Agent {
    pub id: String,
    pub task_id: String,
    /// `running`, `completed` or `lost` (its runner went away with it).
    pub status: String,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    pub metadata: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(flatten)]
    pub kept: Map<String, Value>,
}

impl Agent {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(Value::as_str)
    }

    pub fn is_running(&self) -> bool {
        self.status == "running"
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct State {
    pub running: bool,
    pub paused: bool,
    pub paused_at: Option<String>,
    pub pause_reason: Option<String>,
    pub config: Config,
    pub stats: Stats,
    pub agents: indexmap::IndexMap<String, Agent>,
    #[serde(flatten)]
    pub kept: Map<String, Value>,
}

/// Per task, what the CoS keeps outside the Markdown: its attempts, when it
/// may be tried again, and how many times its agent was lost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskBook {
    pub failure_count: u32,
    pub orphan_retry_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_category: Option<String>,
    /// Not before this (ms since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<String>,
}

pub const BOOK: &str = "cos/task-book.json";
