//! The AI side's answers: providers and their status, runs, usage, LM
//! Studio and the prompt stages.

use std::collections::BTreeMap;

use serde_json::Value;

/// A provider as clients see it: `hasApiKey` in place of `apiKey`, secret
/// environment values as `***`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicProvider {
    pub id: String,
    pub name: String,
    /// `cli` or `api`.
    #[serde(rename = "type")]
    pub kind: String,
    pub command: Option<String>,
    pub args: Vec<String>,
    pub endpoint: Option<String>,
    pub has_api_key: bool,
    pub models: Vec<String>,
    pub default_model: Option<String>,
    pub light_model: Option<String>,
    pub medium_model: Option<String>,
    pub heavy_model: Option<String>,
    pub fallback_provider: Option<String>,
    /// Milliseconds.
    pub timeout: Option<u64>,
    pub enabled: bool,
    pub env_vars: BTreeMap<String, String>,
    pub secret_env_vars: Vec<String>,
    pub headless_args: Vec<String>,
}

/// `GET /api/providers`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderList {
    pub active_provider: Option<String>,
    pub providers: Vec<PublicProvider>,
}

/// A provider's availability.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderStatus {
    pub available: bool,
    /// `ok`, `usage-limit`, `rate-limit`, `cli-unavailable`, `recovered`, …
    pub reason: Option<String>,
    pub message: Option<String>,
    pub failure_count: Option<u64>,
    pub last_checked: Option<String>,
    pub estimated_recovery: Option<String>,
    /// `1d 2h 5m`, `< 1m`, `any moment`, or `null`.
    pub time_until_recovery: Option<String>,
}

/// `GET /api/providers/status`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderStatuses {
    pub providers: BTreeMap<String, ProviderStatus>,
    pub last_updated: Option<String>,
}

/// A run's `metadata.json`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunMetadata {
    pub id: String,
    /// `ai`, or the original's other kinds.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub provider_id: Option<String>,
    pub model: Option<String>,
    pub source: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub success: Option<bool>,
    pub error: Option<String>,
    /// Only on `GET /api/runs/:id`: whether it still runs.
    pub is_active: Option<bool>,
}

/// `GET /api/runs`.
#[derive(utoipa::ToSchema)]
pub struct RunList {
    pub total: u64,
    pub runs: Vec<RunMetadata>,
}

/// Input and output tokens.
#[derive(utoipa::ToSchema)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
}

/// Sessions, messages and tokens of a day or of a provider.
#[derive(utoipa::ToSchema)]
pub struct UsageTally {
    pub sessions: u64,
    pub messages: u64,
    pub tokens: u64,
}

/// A day of the last seven.
#[derive(utoipa::ToSchema)]
pub struct UsageDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `Mon` … `Sun`.
    pub label: String,
    pub sessions: u64,
    pub messages: u64,
    pub tokens: u64,
}

/// `GET /api/usage`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageSummary {
    pub total_sessions: u64,
    pub total_messages: u64,
    pub total_tool_calls: u64,
    pub total_tokens: Tokens,
    /// US dollars.
    pub estimated_cost: f64,
    pub current_streak: u64,
    pub longest_streak: u64,
    pub last7_days: Vec<UsageDay>,
    /// Sessions per hour of the day, 24 of them.
    pub hourly_activity: Vec<u64>,
    /// `[{ id, name, sessions, messages, tokens }]`, busiest first.
    pub top_providers: Vec<BTreeMap<String, Value>>,
    /// `[{ model, sessions, messages, tokens }]`, busiest first.
    pub top_models: Vec<BTreeMap<String, Value>>,
    pub last_updated: Option<String>,
}

/// A day of `GET /api/usage/daily`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageDaily {
    pub date: String,
    pub by_provider: BTreeMap<String, UsageTally>,
}

/// `GET /api/lmstudio/status`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LmStudioStatus {
    pub available: bool,
    pub base_url: String,
    pub loaded_models: u64,
    pub models: Vec<Value>,
    pub recommended_thinking_model: Option<String>,
    pub last_check_at: Option<String>,
    pub last_success_at: Option<String>,
    pub last_error: Option<String>,
    pub consecutive_errors: u64,
}

/// `GET /api/lmstudio/models`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LmStudioModels {
    pub available: bool,
    pub count: u64,
    pub recommended_thinking_model: Option<String>,
    /// `[{ id, object, created, ownedBy }]`.
    pub models: Vec<BTreeMap<String, Value>>,
}

/// `GET /api/lmstudio/thinking-stats`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingStats {
    pub local_analyses: u64,
    pub cloud_escalations: u64,
    pub local_successes: u64,
    pub local_failures: u64,
    /// A percentage with one decimal and `%`, e.g. `50.0%`.
    pub local_success_rate: String,
    pub escalation_rate: String,
}

/// A prompt stage's settings.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    pub name: Option<String>,
    pub description: Option<String>,
    pub model: Option<String>,
    pub returns_json: Option<bool>,
    pub variables: Option<Vec<String>>,
    /// Only when one stage is asked for.
    pub template: Option<String>,
}

/// `GET /api/prompts`.
#[derive(utoipa::ToSchema)]
pub struct Stages {
    pub stages: BTreeMap<String, Stage>,
}

/// A prompt variable.
#[derive(utoipa::ToSchema)]
pub struct Variable {
    pub key: Option<String>,
    pub name: Option<String>,
    pub category: Option<String>,
    pub content: Option<String>,
}

/// `GET /api/prompts/variables`.
#[derive(utoipa::ToSchema)]
pub struct Variables {
    pub variables: BTreeMap<String, Variable>,
}

/// `GET /api/prompts/:stage/versions`.
#[derive(utoipa::ToSchema)]
pub struct StageVersions {
    pub versions: Vec<StageVersionInfo>,
}

#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageVersionInfo {
    pub version: String,
    pub saved_at: String,
    pub size: u64,
}

/// `GET /api/prompts/:stage/versions/:version`.
#[derive(utoipa::ToSchema)]
pub struct StageVersion {
    pub version: String,
    pub template: String,
}

/// `POST /api/providers/:id/status/recover`.
#[derive(utoipa::ToSchema)]
pub struct Recovered {
    pub success: bool,
    pub status: ProviderStatus,
}
