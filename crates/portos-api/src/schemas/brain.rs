//! The brain's answers (`/api/brain/...`). Its records are the lines of the
//! original's JSONL files, kept whole, so only what every line has is
//! required.

use std::collections::BTreeMap;

use serde_json::Value;

/// Inbox entries per status, and in all.
#[derive(utoipa::ToSchema)]
pub struct BrainInboxCounts {
    pub total: u64,
    pub classifying: u64,
    pub filed: u64,
    pub needs_review: u64,
    pub corrected: u64,
    pub done: u64,
    pub error: u64,
}

/// A captured thought and what became of it.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrainInboxEntry {
    pub id: String,
    pub captured_text: Option<String>,
    /// `classifying`, `filed`, `needs_review`, `corrected`, `done` or `error`.
    pub status: Option<String>,
    pub captured_at: Option<String>,
    pub classification: Option<BTreeMap<String, Value>>,
}

/// `GET /api/brain/inbox`.
#[derive(utoipa::ToSchema)]
pub struct BrainInbox {
    pub entries: Vec<BrainInboxEntry>,
    pub counts: BrainInboxCounts,
}

/// A record of people, projects, ideas or admin, a digest or a review.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrainRecord {
    pub id: String,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// A saved link.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrainLink {
    pub id: String,
    pub url: String,
    pub title: Option<String>,
    pub is_git_hub_repo: Option<bool>,
    /// `none`, `cloning`, `cloned` or `failed`.
    pub clone_status: Option<String>,
}

/// `GET /api/brain/links`: a page of links.
#[derive(utoipa::ToSchema)]
pub struct BrainLinks {
    pub links: Vec<BrainLink>,
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
}

/// `GET /api/brain/settings`: `meta.json` with its defaults.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrainSettings {
    pub version: Option<u64>,
    pub confidence_threshold: Option<f64>,
    pub daily_digest_time: Option<String>,
    pub weekly_review_time: Option<String>,
    pub weekly_review_day: Option<String>,
    pub default_provider: Option<String>,
    pub default_model: Option<String>,
    pub last_daily_digest: Option<String>,
    pub last_weekly_review: Option<String>,
}

/// Records per kind, links, and the inbox's counts.
#[derive(utoipa::ToSchema)]
pub struct BrainSummaryCounts {
    pub people: u64,
    pub projects: u64,
    pub ideas: u64,
    pub admin: u64,
    pub links: u64,
    pub inbox: BrainInboxCounts,
}

/// `GET /api/brain/summary`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrainSummary {
    pub counts: BrainSummaryCounts,
    pub active_projects: u64,
    pub active_ideas: u64,
    pub open_admin: u64,
    pub git_hub_repos: u64,
    pub needs_review: u64,
    pub last_daily_digest: Option<String>,
    pub last_weekly_review: Option<String>,
}

/// One scheduled job.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrainJob {
    /// `daily-digest` or `weekly-review`.
    pub job: String,
    pub next: Option<String>,
    pub last_run: Option<String>,
    pub last_outcome: Option<BTreeMap<String, Value>>,
}

/// `GET /api/brain/schedule`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrainSchedule {
    pub jobs: Vec<BrainJob>,
    /// `runOnce` or `skip`.
    pub missed_runs: String,
    /// The newest 20 outcomes.
    pub log: Vec<BTreeMap<String, Value>>,
}
