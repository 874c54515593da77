//! The AI-agent accounts' answers (`/api/agents/...`): personalities,
//! platform accounts, schedules. Each is its record of the original's file
//! with its `id` put first; keys the original has and this server does not
//! use come along.

use std::collections::BTreeMap;

use serde_json::Value;

/// An agent personality.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentPersonality {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub description: String,
    pub personality: Value,
    pub avatar: Option<Value>,
    pub enabled: bool,
    pub ai_config: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
}

/// An account's login, its key masked as `***` and its last 4 characters.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaskedCredentials {
    pub api_key: String,
    pub username: String,
    /// Moltworld's agent id.
    pub agent_id: Option<String>,
}

/// A platform account.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformAccount {
    pub id: String,
    pub agent_id: String,
    /// `moltbook` or `moltworld`.
    pub platform: String,
    pub credentials: MaskedCredentials,
    /// `pending`, `active`, `suspended`, …
    pub status: String,
    pub last_activity: Option<String>,
    pub platform_data: Value,
    pub created_at: String,
}

/// What a schedule does.
#[derive(utoipa::ToSchema)]
pub struct ScheduleAction {
    #[serde(rename = "type")]
    pub kind: String,
    pub params: Value,
}

/// When a schedule fires.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleTiming {
    /// `cron`, `interval` or `random`.
    #[serde(rename = "type")]
    pub kind: String,
    pub cron: Option<String>,
    pub interval_ms: Option<u64>,
    /// `{ minMs, maxMs }`.
    pub random_window: Option<BTreeMap<String, u64>>,
}

/// A schedule, with whether it is planned and when it fires next.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentSchedule {
    pub id: String,
    pub agent_id: String,
    pub account_id: String,
    pub action: ScheduleAction,
    pub schedule: ScheduleTiming,
    /// `{ maxPerDay?, cooldownMs? }`.
    pub rate_limit: BTreeMap<String, u64>,
    pub enabled: bool,
    /// `skip` or `runOnce`.
    pub missed_runs: String,
    pub last_run: Option<String>,
    pub run_count: u64,
    pub created_at: String,
    pub updated_at: String,
    pub is_active: bool,
    pub next_run: Option<String>,
}

/// `GET /api/agents/schedules/stats`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleStats {
    pub total: u64,
    pub enabled: u64,
    pub active: u64,
    pub total_runs: u64,
    pub by_action: BTreeMap<String, u64>,
}

/// An AI agent process running on this machine (`GET /api/agents`).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentProcess {
    pub pid: u32,
    pub ppid: u32,
    pub cpu: f64,
    pub memory: f64,
    /// Milliseconds.
    pub runtime: u64,
    pub runtime_formatted: String,
    pub command: String,
    /// Milliseconds since the epoch.
    pub start_time: u64,
    pub agent_name: String,
    pub agent_type: String,
}
