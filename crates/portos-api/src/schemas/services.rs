//! Answers about the programs the api server asks: the supervised
//! processes, the browser host, the autofixer.

use std::collections::BTreeMap;

use serde_json::Value;

/// A supervised process, in the original's PM2 words and ours.
#[derive(utoipa::ToSchema)]
pub struct SupervisedProcess {
    pub name: String,
    pub group: String,
    /// PM2's word: `online`, `stopped`, `errored`, `launching`, …
    pub status: String,
    pub pid: Option<u32>,
    /// Always `null` (PM2's id; there is no PM2).
    pub pm_id: Option<u64>,
    pub cpu: f64,
    /// Bytes.
    pub memory: u64,
    /// Milliseconds since it started, while it runs.
    pub uptime: Option<u64>,
    pub restarts: u64,
    /// The supervisor's own word for the state.
    pub state: String,
    pub reason: Option<String>,
    /// Its ports by label.
    pub ports: BTreeMap<String, u16>,
}

/// `GET /api/commands/processes/:name/monit`.
#[derive(utoipa::ToSchema)]
pub struct ProcessMonit {
    pub name: String,
    pub status: String,
    pub pid: Option<u32>,
    pub cpu: f64,
    pub memory: u64,
    pub uptime: Option<u64>,
    pub restarts: u64,
}

/// A process's recent log lines as text.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessLogText {
    pub process_name: String,
    pub lines: u64,
    pub logs: String,
}

/// `GET /api/logs/app/:id`: every process of an app.
#[derive(utoipa::ToSchema)]
pub struct AppLogs {
    pub app: String,
    /// Per process, its recent lines as text.
    pub processes: BTreeMap<String, String>,
}

/// The browser host's health in the original's shape.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrowserHealth {
    pub connected: bool,
    pub process_running: bool,
    pub cdp_port: u16,
    pub cdp_host: String,
    pub health_port: u16,
    pub cdp_endpoint: String,
    pub headless: Option<bool>,
    /// `healthy` or `unhealthy`, when the host answers.
    pub status: Option<String>,
    pub reason: Option<String>,
    /// Why the host does not answer.
    pub error: Option<String>,
}

/// The browser host's process.
#[derive(utoipa::ToSchema)]
pub struct BrowserProcess {
    pub exists: bool,
    pub status: String,
    pub pm2_id: Option<u64>,
    pub pid: Option<u32>,
}

/// An open tab.
#[derive(utoipa::ToSchema)]
pub struct BrowserTab {
    pub id: String,
    pub title: String,
    pub url: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// `GET /api/browser`: the health with the rest.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrowserStatus {
    #[serde(flatten)]
    pub health: BrowserHealth,
    pub process: BrowserProcess,
    pub page_count: u64,
    pub pages: Vec<BrowserTab>,
    /// Chromium's `/json/version`, or `null`.
    pub version: Option<BTreeMap<String, Value>>,
    pub config: portos_store::types::BrowserConfig,
}

/// A fix under way.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FixUnderWay {
    pub process: String,
    pub session_id: String,
    pub started_ms: u64,
}

/// What the autofixer knows of a process it saw crash.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrashedProcess {
    pub process: String,
    pub state: String,
    /// Until when it waits (cooldown, backoff), ms since the epoch.
    pub until_ms: Option<u64>,
    pub crashes_in_window: u64,
    pub attempts_today: u64,
}

/// `GET /api/autofixer`.
#[derive(utoipa::ToSchema)]
pub struct AutofixerStatus {
    pub enabled: bool,
    /// `watching`, `fixing` or `paused`.
    pub state: String,
    pub fixing: Vec<FixUnderWay>,
    pub processes: Vec<CrashedProcess>,
}

/// The autofixer's settings.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutofixerConfig {
    pub enabled: bool,
    pub provider_id: Option<String>,
    pub model: Option<String>,
    pub crash_count: u64,
    pub crash_window_ms: u64,
    pub cooldown_ms: u64,
    pub failure_backoff_ms: u64,
    pub max_attempts_per_day: u64,
    pub timeout_ms: u64,
    pub watch_portos: bool,
    pub error_lines: u64,
    pub output_lines: u64,
    pub verify_ms: u64,
    pub worktree: bool,
}

/// `GET /api/prompts/:stage/usage`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageUsage {
    pub is_system_stage: bool,
    pub used_by: Vec<String>,
    pub can_delete: bool,
    pub warning: Option<String>,
}

/// `GET /api/cos/agents/:id/stats`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CosAgentStats {
    pub agent_id: String,
    pub active: bool,
    pub pid: Option<u32>,
    pub cpu_seconds: Option<f64>,
    pub memory_bytes: Option<u64>,
}
