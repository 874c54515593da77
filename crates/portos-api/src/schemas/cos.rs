//! The chief of staff's answers (`/api/cos/...`).

use std::collections::BTreeMap;

use serde_json::Value;

/// Agents at once per lane.
#[derive(utoipa::ToSchema)]
pub struct CosLanes {
    pub critical: u64,
    pub standard: u64,
    pub background: u64,
}

/// The CoS's settings (`GET /api/cos/config`, and `config` of the status).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CosConfig {
    pub user_tasks_file: String,
    pub cos_tasks_file: String,
    pub evaluation_interval_ms: u64,
    pub health_check_interval_ms: u64,
    pub max_concurrent_agents: u64,
    pub max_concurrent_agents_per_project: u64,
    pub max_process_memory_mb: u64,
    pub max_total_processes: u64,
    pub always_on: bool,
    pub auto_start: bool,
    pub completed_agent_retention_ms: u64,
    pub lanes: CosLanes,
    pub agent_timeout_ms: u64,
    pub max_retries: u64,
    pub retry_backoff_ms: u64,
}

/// `GET /api/cos`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CosStatus {
    pub running: bool,
    pub paused: bool,
    pub paused_at: Option<String>,
    pub pause_reason: Option<String>,
    pub config: CosConfig,
    /// `{ tasksCompleted, totalRuntime, agentsSpawned, errors, lastEvaluation, lastHealthCheck, healthIssues }`.
    pub stats: BTreeMap<String, Value>,
    pub active_agents: u64,
    /// The active AI provider, `{ id, name }`, or `null`.
    pub provider: Option<CosProvider>,
}

#[derive(utoipa::ToSchema)]
pub struct CosProvider {
    pub id: String,
    pub name: String,
}

/// `GET /api/cos/watcher`.
#[derive(utoipa::ToSchema)]
pub struct CosWatcher {
    pub watching: bool,
    pub files: Vec<String>,
}

/// One task of a queue.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CosTask {
    pub id: String,
    /// `pending`, `in_progress`, `blocked` or `completed`.
    pub status: String,
    /// `CRITICAL`, `HIGH`, `MEDIUM` or `LOW`.
    pub priority: String,
    pub priority_value: u64,
    pub description: String,
    pub metadata: BTreeMap<String, Value>,
    pub section: String,
    /// `user` or `internal`.
    pub task_type: String,
    pub approval_required: Option<bool>,
    pub auto_approved: Option<bool>,
}

/// A queue's tasks by status.
#[derive(utoipa::ToSchema)]
pub struct CosGrouped {
    pub pending: Vec<CosTask>,
    pub in_progress: Vec<CosTask>,
    pub blocked: Vec<CosTask>,
    pub completed: Vec<CosTask>,
}

/// One task file (`GET /api/cos/tasks/user`, `.../internal`).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CosQueue {
    pub tasks: Vec<CosTask>,
    pub grouped: CosGrouped,
    pub file: String,
    pub exists: bool,
    /// `user` or `internal`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Lines of the file that are not a task, kept as they are.
    pub unparsed: Vec<Value>,
    /// The internal queue only.
    pub auto_approved: Option<Vec<CosTask>>,
    /// The internal queue only.
    pub awaiting_approval: Option<Vec<CosTask>>,
}

/// `GET /api/cos/tasks` (and the answer of a refresh).
#[derive(utoipa::ToSchema)]
pub struct CosQueues {
    pub user: CosQueue,
    pub cos: CosQueue,
}

/// An agent as the state keeps it.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CosAgent {
    pub id: String,
    pub task_id: String,
    /// `running`, `completed` or `lost`.
    pub status: String,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub pid: Option<u64>,
    pub metadata: BTreeMap<String, Value>,
    pub result: Option<Value>,
    /// The tail of its output (the agents of the state, and one asked by id).
    pub output: Option<Vec<CosOutputLine>>,
}

#[derive(utoipa::ToSchema)]
pub struct CosOutputLine {
    pub line: String,
    pub timestamp: String,
}

/// `GET /api/cos/agents/history`.
#[derive(utoipa::ToSchema)]
pub struct CosHistoryDates {
    pub dates: Vec<CosHistoryDate>,
}

#[derive(utoipa::ToSchema)]
pub struct CosHistoryDate {
    pub date: String,
    pub count: u64,
}

/// `GET /api/cos/health`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CosHealth {
    pub last_check: Option<String>,
    pub issues: Vec<Value>,
}

/// A day's report.
#[derive(utoipa::ToSchema)]
pub struct CosReport {
    pub date: String,
    pub generated: String,
    pub summary: CosReportSummary,
    pub agents: Vec<Value>,
}

#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CosReportSummary {
    pub tasks_completed: u64,
    pub tasks_failed: u64,
    pub total_agents: u64,
}

/// `GET /api/cos/learning/summary`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CosLearningSummary {
    /// `none`, `good`, `warning` or `critical`.
    pub status: String,
    pub status_message: String,
    pub total_types: u64,
    pub healthy: u64,
    pub warning: u64,
    pub critical: u64,
    pub skipped: u64,
    /// A percentage, or `null` with no data.
    pub overall_success_rate: Option<f64>,
    pub total_completed: u64,
}

/// `GET /api/cos/learning/skipped`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CosLearningSkipped {
    pub skipped_count: u64,
    pub message: String,
    pub skipped_types: Vec<Value>,
}

/// `GET /api/cos/learning`: the learning file.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CosLearning {
    pub version: u64,
    pub last_updated: Option<String>,
    pub by_task_type: BTreeMap<String, Value>,
    pub by_model_tier: BTreeMap<String, Value>,
    pub error_patterns: BTreeMap<String, Value>,
    pub routing_accuracy: BTreeMap<String, Value>,
    pub totals: CosLearningTotals,
    pub by_model: BTreeMap<String, Value>,
    pub records: Vec<Value>,
}

#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CosLearningTotals {
    pub completed: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub total_duration_ms: f64,
    pub avg_duration_ms: f64,
}
