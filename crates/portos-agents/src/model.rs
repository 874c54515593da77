//! The records of `data/agents/`: agent personalities, platform accounts,
//! automation schedules and activity entries, in the original's shapes (unknown
//! fields kept), with the original's validation rules.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// `data/agents/agents.json`, `accounts.json`, `schedules.json`.
pub mod files {
    pub const AGENTS: &str = "agents/agents.json";
    pub const ACCOUNTS: &str = "agents/accounts.json";
    pub const SCHEDULES: &str = "agents/schedules.json";
    /// `agents/activity/<agentId>/<YYYY-MM-DD>.json`.
    pub fn activity(agent: &str, date: &str) -> String {
        format!("agents/activity/{agent}/{date}.json")
    }
}

/// A rule a request broke, in words naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn check(ok: bool, msg: impl FnOnce() -> String) -> Result<(), Invalid> {
    if ok { Ok(()) } else { Err(Invalid(msg())) }
}

fn check_len(field: &str, v: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let n = v.chars().count();
    check(n >= min && n <= max, || {
        if min > 0 {
            format!("{field} must be {min} to {max} characters (got {n})")
        } else {
            format!("{field} must be at most {max} characters (got {n})")
        }
    })
}

// ----- agents -----

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AgentsFile {
    #[serde(default)]
    pub agents: IndexMap<String, Agent>,
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

/// An agent personality: who speaks on the platforms.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub user_id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub personality: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<Value>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_config: Option<Value>,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

fn yes() -> bool {
    true
}

const STYLES: &[&str] = &["professional", "casual", "witty", "academic", "creative"];

/// The original's `agentSchema`; `partial` for an update (every top-level
/// field optional). Fills the defaults of a create.
pub fn validate_agent(body: &mut Value, partial: bool) -> Result<(), Invalid> {
    let obj = body
        .as_object_mut()
        .ok_or_else(|| Invalid("the body must be a JSON object".into()))?;
    let str_field =
        |obj: &serde_json::Map<String, Value>, k: &str| -> Result<Option<String>, Invalid> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Invalid(format!("{k} must be a string"))),
            }
        };
    for (k, min, max) in [("userId", 1, 100), ("name", 1, 100)] {
        match str_field(obj, k)? {
            Some(v) => check_len(k, &v, min, max)?,
            None if !partial => return Err(Invalid(format!("{k} is required"))),
            None => {}
        }
    }
    if let Some(d) = str_field(obj, "description")? {
        check_len("description", &d, 0, 1000)?;
    } else if !partial {
        obj.insert("description".into(), json!(""));
    }
    match obj.get_mut("personality") {
        Some(p) => validate_personality(p, partial)?,
        None if !partial => return Err(Invalid("personality is required".into())),
        None => {}
    }
    if let Some(a) = obj.get("avatar").filter(|a| !a.is_null()) {
        let a = a
            .as_object()
            .ok_or_else(|| Invalid("avatar must be an object".into()))?;
        if let Some(e) = a.get("emoji").and_then(Value::as_str) {
            check_len("avatar.emoji", e, 0, 10)?;
        }
        if let Some(c) = a.get("color") {
            let ok = c.as_str().is_some_and(|c| {
                c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit())
            });
            check(ok, || format!("avatar.color must be #RRGGBB, not {c}"))?;
        }
        if let Some(u) = a.get("imageUrl") {
            let ok = u
                .as_str()
                .is_some_and(|u| u.starts_with("https://") || u.starts_with("http://"));
            check(ok, || {
                format!("avatar.imageUrl must be an http(s) URL, not {u}")
            })?;
        }
    }
    match obj.get("enabled") {
        None if !partial => {
            obj.insert("enabled".into(), json!(true));
        }
        None | Some(Value::Bool(_)) => {}
        Some(v) => return Err(Invalid(format!("enabled must be true or false, not {v}"))),
    }
    if let Some(c) = obj.get("aiConfig").filter(|c| !c.is_null()) {
        check(c.is_object(), || "aiConfig must be an object".into())?;
    }
    Ok(())
}

fn validate_personality(p: &mut Value, partial: bool) -> Result<(), Invalid> {
    let obj = p
        .as_object_mut()
        .ok_or_else(|| Invalid("personality must be an object".into()))?;
    match obj.get("style").and_then(Value::as_str) {
        Some(s) => check(STYLES.contains(&s), || {
            format!(
                "personality.style must be one of {}, not {s:?}",
                STYLES.join(", ")
            )
        })?,
        None if !partial => return Err(Invalid("personality.style is required".into())),
        None => {}
    }
    for (k, max, default) in [("tone", 500, json!("")), ("promptPrefix", 2000, json!(""))] {
        match obj.get(k) {
            Some(Value::String(s)) => check_len(&format!("personality.{k}"), s, 0, max)?,
            Some(v) => {
                return Err(Invalid(format!(
                    "personality.{k} must be a string, not {v}"
                )));
            }
            None if !partial => {
                obj.insert(k.into(), default);
            }
            None => {}
        }
    }
    for (k, max) in [("topics", 100), ("quirks", 200)] {
        match obj.get(k) {
            Some(Value::Array(items)) => {
                for i in items {
                    let s = i
                        .as_str()
                        .ok_or_else(|| Invalid(format!("personality.{k} must hold strings")))?;
                    check_len(&format!("personality.{k}[]"), s, 0, max)?;
                }
            }
            Some(v) => return Err(Invalid(format!("personality.{k} must be a list, not {v}"))),
            None if !partial => {
                obj.insert(k.into(), json!([]));
            }
            None => {}
        }
    }
    Ok(())
}

// ----- accounts -----

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccountsFile {
    #[serde(default)]
    pub accounts: IndexMap<String, Account>,
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Moltbook,
    Moltworld,
}

impl Platform {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "moltbook" => Ok(Platform::Moltbook),
            "moltworld" => Ok(Platform::Moltworld),
            other => Err(Invalid(format!(
                "platform must be moltbook or moltworld, not {other:?}"
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Moltbook => "moltbook",
            Platform::Moltworld => "moltworld",
        }
    }
}

/// A platform login. `api_key` is written to `accounts.json` as the original
/// does, and leaves this process only towards its platform: every answer shows
/// it as `***` + its last 4 characters.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    #[serde(default)]
    pub api_key: String,
    #[serde(default)]
    pub username: String,
    /// Moltworld's agent id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key", &mask(&self.api_key))
            .field("username", &self.username)
            .field("agent_id", &self.agent_id)
            .finish_non_exhaustive()
    }
}

/// `***` + the last 4 characters, or null for an empty key (the original's mask).
pub fn mask(key: &str) -> Value {
    if key.is_empty() {
        return Value::Null;
    }
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    json!(format!("***{tail}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    Active,
    Pending,
    Suspended,
    Error,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Pending => "pending",
            AccountStatus::Suspended => "suspended",
            AccountStatus::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub agent_id: String,
    pub platform: Platform,
    pub credentials: Credentials,
    pub status: AccountStatus,
    #[serde(default)]
    pub last_activity: Option<String>,
    #[serde(default = "empty_object")]
    pub platform_data: Value,
    #[serde(default)]
    pub created_at: String,
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

fn empty_object() -> Value {
    json!({})
}

impl Account {
    /// `{ id, ...account }` with the key masked: the only way an account leaves.
    pub fn masked(&self, id: &str) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_else(|_| json!({}));
        v["credentials"]["apiKey"] = mask(&self.credentials.api_key);
        if let Some(o) = v.as_object_mut() {
            o.shift_insert(0, "id".into(), json!(id));
        }
        v
    }

    /// The id the platform knows the agent by (Moltworld: its agent id, else the key).
    pub fn platform_agent_id(&self) -> &str {
        self.credentials
            .agent_id
            .as_deref()
            .filter(|a| !a.is_empty())
            .unwrap_or(&self.credentials.api_key)
    }
}

// ----- schedules -----

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SchedulesFile {
    #[serde(default)]
    pub schedules: IndexMap<String, Schedule>,
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

pub const MOLTBOOK_ACTIONS: &[&str] =
    &["post", "comment", "vote", "heartbeat", "engage", "monitor"];
pub const MOLTWORLD_ACTIONS: &[&str] = &[
    "mw_explore",
    "mw_build",
    "mw_say",
    "mw_think",
    "mw_heartbeat",
    "mw_interact",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Action {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default = "empty_object")]
    pub params: Value,
}

/// When a schedule fires.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Timing {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_window: Option<RandomWindow>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RandomWindow {
    pub min_ms: u64,
    pub max_ms: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_day: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_ms: Option<u64>,
}

/// What happens to runs that fell due while PortOS was not running.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MissedRuns {
    /// Recorded as one `skipped` activity; the schedule goes on from now
    /// (the original's behaviour, made visible).
    #[default]
    Skip,
    /// Run once at start, however many were missed.
    RunOnce,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub agent_id: String,
    pub account_id: String,
    pub action: Action,
    pub schedule: Timing,
    #[serde(default)]
    pub rate_limit: RateLimit,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub missed_runs: MissedRuns,
    #[serde(default)]
    pub last_run: Option<String>,
    #[serde(default)]
    pub run_count: u64,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

/// The original's `automationScheduleSchema`, plus a cron expression that must
/// parse (the original accepted any string and never fired).
pub fn validate_schedule(s: &Schedule) -> Result<(), Invalid> {
    check(!s.agent_id.is_empty(), || "agentId is required".into())?;
    check(!s.account_id.is_empty(), || "accountId is required".into())?;
    let k = s.action.kind.as_str();
    check(
        MOLTBOOK_ACTIONS.contains(&k) || MOLTWORLD_ACTIONS.contains(&k),
        || {
            format!(
                "action.type must be one of {}, {}; not {k:?}",
                MOLTBOOK_ACTIONS.join(", "),
                MOLTWORLD_ACTIONS.join(", ")
            )
        },
    )?;
    check(s.action.params.is_object(), || {
        "action.params must be an object".into()
    })?;
    crate::timing::Plan::of(&s.schedule).map(|_| ())?;
    if let Some(m) = s.rate_limit.max_per_day {
        check(m >= 1, || "rateLimit.maxPerDay must be at least 1".into())?;
    }
    Ok(())
}

/// Which platform an action type belongs to.
pub fn platform_of(action: &str) -> Option<Platform> {
    if MOLTBOOK_ACTIONS.contains(&action) {
        Some(Platform::Moltbook)
    } else if MOLTWORLD_ACTIONS.contains(&action) {
        Some(Platform::Moltworld)
    } else {
        None
    }
}

// ----- activity -----

/// Which of a day's activity entries to list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityPage {
    /// Only entries of this action; all when `None`.
    pub action: Option<String>,
    /// Newest entries skipped.
    pub offset: usize,
    /// At most this many entries.
    pub limit: usize,
}

/// One entry of an agent's day of activity: an action begun, or how it ended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityEntry {
    pub id: String,
    pub account_id: String,
    #[serde(default)]
    pub schedule_id: Option<String>,
    pub action: String,
    #[serde(default)]
    pub params: Value,
    /// `started`, `completed`, `failed`, `skipped`.
    pub status: String,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub error: Option<String>,
    pub timestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}
