//! The machine's answers: health, ports, instances, settings, apps, git,
//! files, JIRA instances and the browser host's config.

use std::collections::BTreeMap;

use serde_json::Value;

/// `GET /api/system/health`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok`.
    pub status: String,
    pub timestamp: String,
    /// Seconds since the api server started.
    pub uptime: f64,
    pub version: String,
    pub hostname: String,
    pub instance_id: Option<String>,
}

#[derive(utoipa::ToSchema)]
pub struct HealthWarning {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthMemory {
    pub total: u64,
    pub used: u64,
    pub free: u64,
    pub usage_percent: u64,
    pub total_formatted: String,
    pub used_formatted: String,
    pub free_formatted: String,
}

#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCpu {
    pub cores: u64,
    pub load_avg1m: f64,
    pub usage_percent: u64,
}

#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthSystem {
    pub uptime: f64,
    pub uptime_formatted: String,
    pub memory: HealthMemory,
    pub cpu: HealthCpu,
}

#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthProcesses {
    pub total: u64,
    pub online: u64,
    pub stopped: u64,
    pub errored: u64,
    pub total_memory: u64,
    pub total_cpu: f64,
    pub total_restarts: u64,
}

#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthApps {
    pub total: u64,
    pub online: u64,
    pub stopped: u64,
    pub not_started: u64,
}

#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCos {
    pub running: bool,
    pub paused: bool,
    pub active_agents: u64,
    pub queued_tasks: u64,
}

/// `GET /api/system/health/details`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthDetails {
    pub timestamp: String,
    pub hostname: String,
    pub instance_id: Option<String>,
    /// `healthy`, `warning` or `critical`.
    pub overall_health: String,
    pub warnings: Vec<HealthWarning>,
    pub system: HealthSystem,
    pub processes: HealthProcesses,
    pub apps: HealthApps,
    pub cos: Option<HealthCos>,
}

/// A range of ports, both ends in it.
#[derive(utoipa::ToSchema)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

#[derive(utoipa::ToSchema)]
pub struct FreeRange {
    pub start: u16,
    pub end: u16,
    pub count: u64,
}

/// Who listens on a port.
#[derive(utoipa::ToSchema)]
pub struct PortOwner {
    pub port: u16,
    pub address: String,
    pub pid: Option<u32>,
    pub command: Option<String>,
    /// The supervised process, if it is one of ours.
    pub process: Option<String>,
    pub group: Option<String>,
}

/// `GET /api/ports/scan`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortScan {
    pub used_ports: Vec<u16>,
    pub reserved_ports: Vec<u16>,
    pub all_occupied: Vec<u16>,
    pub free_ranges: Vec<FreeRange>,
    pub suggested_ports: Vec<u16>,
    pub default_range: PortRange,
    pub owners: Vec<PortOwner>,
}

/// This instance, as its peers know it.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelfInstance {
    pub instance_id: String,
    pub name: String,
}

/// Another PortOS instance of the owner.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerInstance {
    /// Ours, not the peer's instance id.
    pub id: String,
    pub address: String,
    pub port: u16,
    pub name: String,
    pub instance_id: Option<String>,
    pub added_at: String,
    pub last_seen: Option<String>,
    pub last_health: Option<Value>,
    /// `unknown`, `online` or `offline`.
    pub status: String,
    pub enabled: bool,
    /// `outbound`, `inbound`, both or neither.
    pub directions: Vec<String>,
    pub last_error: Option<String>,
}

/// `GET /api/instances`.
#[derive(utoipa::ToSchema)]
pub struct Instances {
    #[serde(rename = "self")]
    pub self_: Option<SelfInstance>,
    pub peers: Vec<PeerInstance>,
}

/// An app of `apps.json` with the state of its processes.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppView {
    pub id: String,
    pub name: String,
    pub repo_path: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub pm2_process_names: Option<Vec<String>>,
    /// Per process: `{ name, status, pm2_env }`.
    pub pm2_status: Option<BTreeMap<String, ProcessStatus>>,
    /// `online`, `stopped`, `not_started`, `partial`, …
    pub overall_status: Option<String>,
}

/// A process's state as the original's PM2 view shaped it.
#[derive(utoipa::ToSchema)]
pub struct ProcessStatus {
    pub name: String,
    pub status: String,
}

/// `GET /api/apps/:id/task-types`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppTaskTypes {
    pub app_id: String,
    pub app_name: String,
    pub task_type_overrides: BTreeMap<String, Value>,
}

/// A commit in a repository's log.
#[derive(utoipa::ToSchema)]
pub struct Commit {
    pub hash: String,
    pub message: String,
    pub author: String,
    pub date: String,
}

/// A repository's state (`GET /api/git/:id`, `POST /api/git/info`);
/// only `isRepo` when the folder is not one.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitInfo {
    pub is_repo: bool,
    pub branch: Option<String>,
    /// `{ clean, files, staged, unstaged }`.
    pub status: Option<BTreeMap<String, Value>>,
    pub recent_commits: Option<Vec<Commit>>,
    /// `{ files, insertions, deletions }`.
    pub diff_stats: Option<BTreeMap<String, u64>>,
    pub remote: Option<String>,
    pub base_branch: Option<String>,
    pub dev_branch: Option<String>,
    pub has_changelog: Option<bool>,
}

/// A stored file.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredFile {
    pub filename: String,
    pub path: String,
    pub size: u64,
    pub mime_type: Option<String>,
    pub created_at: Option<String>,
}

/// `GET /api/attachments`.
#[derive(utoipa::ToSchema)]
pub struct Attachments {
    pub attachments: Vec<StoredFile>,
}

/// `GET /api/screenshots`.
#[derive(utoipa::ToSchema)]
pub struct Screenshots {
    pub screenshots: Vec<StoredFile>,
}

/// `GET /api/uploads`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Uploads {
    pub uploads: Vec<StoredFile>,
    pub total_size: u64,
    pub total_size_formatted: String,
}

/// A JIRA instance, its token withheld.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JiraInstance {
    pub id: String,
    pub name: String,
    pub base_url: String,
    pub email: String,
    pub has_api_token: bool,
}

/// `GET /api/jira/instances`.
#[derive(utoipa::ToSchema)]
pub struct JiraInstances {
    pub instances: BTreeMap<String, JiraInstance>,
}

/// `GET /api/browser/logs`.
#[derive(utoipa::ToSchema)]
pub struct BrowserLogs {
    pub stdout: String,
    pub stderr: String,
}

/// `GET /api/notifications/counts`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationCounts {
    pub total: u64,
    pub unread: u64,
    pub by_type: BTreeMap<String, u64>,
}
