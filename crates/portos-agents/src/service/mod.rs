//! The agents service: the records of `data/agents/` behind one API (used by
//! the REST routes and the gRPC service alike), and the scheduler that runs
//! automation schedules on its clock, one run per schedule at a time.

mod accounts;
mod schedules;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use portos_ratelimit::Clock;
use portos_store::JsonStore;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::actions::{ActionError, Platforms, execute};
use crate::model::*;
use crate::planner::{Firing, Planner, Why};
use crate::timing::Plan;

/// What the service can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum AgentsError {
    /// `code` says which record (`NOT_FOUND`, `AGENT_NOT_FOUND`, `ACCOUNT_NOT_FOUND`).
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// A request that does not fit the state (`INVALID_STATE`, `RUN_ACTIVE`, ...).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] portos_store::StoreError),
    #[error(transparent)]
    Platform(#[from] ActionError),
}

fn not_found(code: &'static str, message: impl Into<String>) -> AgentsError {
    AgentsError::NotFound {
        code,
        message: message.into(),
    }
}

type Emit = Arc<dyn Fn(&str, Value) + Send + Sync>;

/// How a requested run began.
#[derive(Debug)]
pub enum Begun {
    /// The action is running; the handle ends with it.
    Started(JoinHandle<()>),
    /// Not run, and why (recorded as a `skipped` activity).
    Skipped(String),
}

/// The service.
pub struct Agents {
    store: Arc<JsonStore>,
    clock: Arc<dyn Clock>,
    platforms: Platforms,
    planner: Mutex<Planner>,
    wake: Notify,
    emit: Emit,
    tasks: TaskTracker,
    /// Writes posts and comments an action leaves to the agent (set once).
    author: std::sync::OnceLock<Arc<dyn crate::actions::Author>>,
}

impl std::fmt::Debug for Agents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agents").finish_non_exhaustive()
    }
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn activity_id(now: DateTime<Utc>) -> String {
    format!(
        "{}-{}",
        now.timestamp_millis(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// `{ id, ...schedule, isActive }`.
fn schedule_view(id: &str, s: &Schedule, active: bool, next: Option<DateTime<Utc>>) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or_else(|_| json!({}));
    if let Some(o) = v.as_object_mut() {
        o.shift_insert(0, "id".into(), json!(id));
        o.insert("isActive".into(), json!(active));
        o.insert("nextRun".into(), json!(next.map(iso)));
    }
    v
}

/// A JSON merge one level deep: `patch`'s keys replace `base`'s.
fn merge_top(base: &mut Value, patch: &Value, keep: &[&str]) {
    if let (Some(b), Some(p)) = (base.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            if !keep.contains(&k.as_str()) {
                b.insert(k.clone(), v.clone());
            }
        }
    }
}

impl Agents {
    /// The service over `store`, time from `clock`, live events through `emit`.
    pub fn new(
        store: Arc<JsonStore>,
        clock: Arc<dyn Clock>,
        platforms: Platforms,
        emit: impl Fn(&str, Value) + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            clock,
            platforms,
            planner: Mutex::default(),
            wake: Notify::new(),
            emit: Arc::new(emit),
            tasks: TaskTracker::new(),
            author: std::sync::OnceLock::new(),
        })
    }

    /// Who writes the text an action leaves to the agent; the first one set stays.
    pub fn set_author(&self, author: Arc<dyn crate::actions::Author>) {
        let _ = self.author.set(author);
    }

    pub fn platforms(&self) -> &Platforms {
        &self.platforms
    }

    fn now(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.clock.now_ms() as i64)
            .single()
            .unwrap_or_else(Utc::now)
    }

    fn planner(&self) -> std::sync::MutexGuard<'_, Planner> {
        self.planner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self, event: &str, key: &str, action: &str, id: &str) {
        (self.emit)(
            event,
            json!({ "action": action, key: id, "timestamp": self.now().timestamp_millis() }),
        );
    }

    // ----- agents -----

    pub async fn agents(&self, user: Option<&str>) -> Result<Vec<Value>, AgentsError> {
        let f: AgentsFile = self.store.load(files::AGENTS).await?;
        Ok(f.agents
            .iter()
            .filter(|(_, a)| user.is_none_or(|u| a.user_id == u))
            .map(|(id, a)| with_id(id, a))
            .collect())
    }

    pub async fn agent(&self, id: &str) -> Result<Agent, AgentsError> {
        let f: AgentsFile = self.store.load(files::AGENTS).await?;
        f.agents
            .get(id)
            .cloned()
            .ok_or_else(|| not_found("NOT_FOUND", "Agent not found"))
    }

    pub async fn agent_view(&self, id: &str) -> Result<Value, AgentsError> {
        Ok(with_id(id, &self.agent(id).await?))
    }

    pub async fn create_agent(&self, mut body: Value) -> Result<Value, AgentsError> {
        validate_agent(&mut body, false)?;
        let now = iso(self.now());
        body["createdAt"] = json!(now);
        body["updatedAt"] = json!(now);
        let agent: Agent =
            serde_json::from_value(body).map_err(|e| Invalid(format!("agent: {e}")))?;
        let id = uuid::Uuid::new_v4().to_string();
        self.store
            .update(files::AGENTS, |f: &mut AgentsFile| {
                f.agents.insert(id.clone(), agent.clone());
                Ok::<_, ()>(())
            })
            .await?
            .ok();
        self.changed("agents:personality:changed", "agentId", "create", &id);
        Ok(with_id(&id, &agent))
    }

    pub async fn update_agent(&self, id: &str, mut patch: Value) -> Result<Value, AgentsError> {
        validate_agent(&mut patch, true)?;
        let now = iso(self.now());
        let updated = self
            .store
            .update(files::AGENTS, |f: &mut AgentsFile| {
                let Some(a) = f.agents.get_mut(id) else {
                    return Err(not_found("NOT_FOUND", "Agent not found"));
                };
                let mut v = serde_json::to_value(&*a).map_err(|e| Invalid(e.to_string()))?;
                // `personality` merges one level deep; the rest is replaced.
                if let Some(p) = patch.get("personality") {
                    merge_top(&mut v["personality"], p, &[]);
                }
                merge_top(&mut v, &patch, &["personality", "id", "createdAt"]);
                v["updatedAt"] = json!(now);
                *a = serde_json::from_value(v).map_err(|e| Invalid(format!("agent: {e}")))?;
                Ok(a.clone())
            })
            .await??;
        self.changed("agents:personality:changed", "agentId", "update", id);
        Ok(with_id(id, &updated))
    }

    /// Deletes the agent with its accounts and schedules (the original left
    /// them behind, orphaned); answers how many of each went.
    pub async fn delete_agent(&self, id: &str) -> Result<Value, AgentsError> {
        self.store
            .update(files::AGENTS, |f: &mut AgentsFile| {
                f.agents
                    .shift_remove(id)
                    .map(|_| ())
                    .ok_or_else(|| not_found("NOT_FOUND", "Agent not found"))
            })
            .await??;
        let schedules = self
            .store
            .update(files::SCHEDULES, |f: &mut SchedulesFile| {
                let gone: Vec<String> = f
                    .schedules
                    .iter()
                    .filter(|(_, s)| s.agent_id == id)
                    .map(|(k, _)| k.clone())
                    .collect();
                f.schedules.retain(|_, s| s.agent_id != id);
                Ok::<_, ()>(gone)
            })
            .await?
            .unwrap_or_default();
        for s in &schedules {
            self.planner().deactivate(s);
            self.changed("agents:schedule:changed", "scheduleId", "delete", s);
        }
        let accounts = self
            .store
            .update(files::ACCOUNTS, |f: &mut AccountsFile| {
                let gone: Vec<String> = f
                    .accounts
                    .iter()
                    .filter(|(_, a)| a.agent_id == id)
                    .map(|(k, _)| k.clone())
                    .collect();
                f.accounts.retain(|_, a| a.agent_id != id);
                Ok::<_, ()>(gone)
            })
            .await?
            .unwrap_or_default();
        for a in &accounts {
            self.changed("agents:account:changed", "accountId", "delete", a);
        }
        self.changed("agents:personality:changed", "agentId", "delete", id);
        Ok(json!({ "accounts": accounts.len(), "schedules": schedules.len() }))
    }

    // ----- accounts -----
}

fn with_id<T: serde::Serialize>(id: &str, v: &T) -> Value {
    let mut v = serde_json::to_value(v).unwrap_or_else(|_| json!({}));
    if let Some(o) = v.as_object_mut() {
        o.shift_insert(0, "id".into(), json!(id));
    }
    v
}

fn req_str(body: &Value, key: &str, min: usize, max: usize) -> Result<String, Invalid> {
    let field = key.rsplit('.').next().unwrap_or(key);
    let v = body
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| Invalid(format!("{key} is required")))?;
    check_len(key, v, min, max)?;
    Ok(v.to_string())
}

fn check_len(field: &str, v: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let n = v.chars().count();
    if n < min || n > max {
        return Err(Invalid(format!(
            "{field} must be {min} to {max} characters (got {n})"
        )));
    }
    Ok(())
}
