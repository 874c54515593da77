//! The small answers of writes and actions: whether it was done, and the
//! few fields that say what.

use std::collections::BTreeMap;

use serde_json::Value;

/// `{ success, filename }`: a stored file removed.
#[derive(utoipa::ToSchema)]
pub struct FileRemoved {
    pub success: bool,
    pub filename: String,
}

/// `{ success, cleared }`: how many went.
#[derive(utoipa::ToSchema)]
pub struct Cleared {
    pub success: bool,
    pub cleared: u64,
}

/// `{ success, updated }`: how many changed.
#[derive(utoipa::ToSchema)]
pub struct Updated {
    pub success: bool,
    pub updated: u64,
}

/// `DELETE /api/history`.
#[derive(utoipa::ToSchema)]
pub struct HistoryCleared {
    pub cleared: bool,
}

/// `DELETE /api/history/:id`; `error` when there was none.
#[derive(utoipa::ToSchema)]
pub struct HistoryDeleted {
    pub deleted: bool,
    pub error: Option<String>,
}

/// `{ success, pid }`.
#[derive(utoipa::ToSchema)]
pub struct Signalled {
    pub success: bool,
    pub pid: u32,
}

/// `{ success, id }`.
#[derive(utoipa::ToSchema)]
pub struct Removed {
    pub success: bool,
    pub id: String,
}

/// `{ success, notification }`.
#[derive(utoipa::ToSchema)]
pub struct NotificationDone {
    pub success: bool,
    pub notification: portos_notifications::Notification,
}

/// `POST /api/prompts`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageCreated {
    pub success: bool,
    pub stage_name: String,
}

/// `POST /api/prompts/variables`.
#[derive(utoipa::ToSchema)]
pub struct VariableCreated {
    pub success: bool,
    pub key: String,
}

/// `PUT /api/prompts/:stage`: `version` when a version was kept.
#[derive(utoipa::ToSchema)]
pub struct StageUpdated {
    pub success: bool,
    pub version: Option<String>,
}

/// `POST /api/prompts/:stage/preview`.
#[derive(utoipa::ToSchema)]
pub struct StagePreview {
    pub preview: String,
    /// Variables the template names that have no value.
    pub missing: Vec<String>,
}

/// `POST /api/usage/session`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageSession {
    pub session_number: u64,
}

/// `POST /api/ports/allocate`.
#[derive(utoipa::ToSchema)]
pub struct Allocated {
    pub allocated: Vec<u16>,
}

/// `POST /api/cos/tasks/reorder`.
#[derive(utoipa::ToSchema)]
pub struct Reordered {
    pub success: bool,
    pub order: Vec<String>,
}

/// `POST /api/cos/pause`, `POST /api/cos/resume`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Paused {
    pub success: bool,
    pub paused: bool,
    pub paused_at: Option<String>,
    pub pause_reason: Option<String>,
}

/// `{ success, agentId }`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentSignalled {
    pub success: bool,
    pub agent_id: String,
}

/// `POST /api/cos/learning/reset`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LearningReset {
    pub success: bool,
    pub task_type: Option<String>,
}

/// `POST /api/processes/:name/:action`.
#[derive(utoipa::ToSchema)]
pub struct ProcessControlled {
    pub success: bool,
    pub name: String,
    /// `start`, `stop` or `restart`.
    pub action: String,
    /// The supervisor took it and has not finished.
    pub pending: Option<bool>,
}

/// Start, stop or restart of an app: per process, whether it was done.
#[derive(utoipa::ToSchema)]
pub struct AppControlled {
    pub success: bool,
    /// Per process: `{ success, error?, pending? }`.
    pub results: BTreeMap<String, BTreeMap<String, Value>>,
}

/// `POST /api/runs`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunStarted {
    pub run_id: String,
    /// `started`.
    pub status: String,
    pub metadata: crate::schemas::runs::RunMetadata,
}

/// `DELETE /api/runs?failed`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunsDeleted {
    pub deleted_count: u64,
}

/// `POST /api/commands/execute`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandStarted {
    pub command_id: String,
    /// `started`.
    pub status: String,
}

/// `POST /api/commands/:id/stop`.
#[derive(utoipa::ToSchema)]
pub struct CommandStopped {
    pub stopped: bool,
}

/// LM Studio's load, unload and download.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelAction {
    pub success: bool,
    pub model_id: Option<String>,
    pub error: Option<String>,
}

/// `{ message, linkId }`, `{ message, path }`: a brain link's action under way.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkAction {
    pub message: String,
    pub link_id: Option<String>,
    pub path: Option<String>,
}

/// A thought captured or classified again: its inbox entry.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Captured {
    pub inbox_log: crate::schemas::brain::BrainInboxEntry,
    pub message: Option<String>,
}
