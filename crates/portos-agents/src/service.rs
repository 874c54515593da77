//! The agents service: the records of `data/agents/` behind one API (used by
//! the REST routes and the gRPC service alike), and the scheduler that runs
//! automation schedules on its clock, one run per schedule at a time.

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

    async fn accounts_file(&self) -> Result<AccountsFile, AgentsError> {
        Ok(self.store.load(files::ACCOUNTS).await?)
    }

    /// The account with its real credentials (never to be sent out as is).
    pub async fn account(&self, id: &str) -> Result<Account, AgentsError> {
        self.accounts_file()
            .await?
            .accounts
            .get(id)
            .cloned()
            .ok_or_else(|| not_found("NOT_FOUND", "Account not found"))
    }

    pub async fn accounts(
        &self,
        agent: Option<&str>,
        platform: Option<&str>,
    ) -> Result<Vec<Value>, AgentsError> {
        Ok(self
            .accounts_file()
            .await?
            .accounts
            .iter()
            .filter(|(_, a)| agent.is_none_or(|g| a.agent_id == g))
            .filter(|(_, a)| platform.is_none_or(|p| a.platform.as_str() == p))
            .map(|(id, a)| a.masked(id))
            .collect())
    }

    async fn insert_account(&self, account: Account) -> Result<(String, Value), AgentsError> {
        let id = uuid::Uuid::new_v4().to_string();
        let view = account.masked(&id);
        self.store
            .update(files::ACCOUNTS, |f: &mut AccountsFile| {
                f.accounts.insert(id.clone(), account);
                Ok::<_, ()>(())
            })
            .await?
            .ok();
        self.changed("agents:account:changed", "accountId", "create", &id);
        Ok((id, view))
    }

    /// Links existing credentials (`POST /accounts` with `credentials`).
    pub async fn link_account(&self, body: &Value) -> Result<Value, AgentsError> {
        let agent_id = req_str(body, "agentId", 1, 200)?;
        let platform = Platform::parse(&req_str(body, "platform", 1, 20)?)?;
        let creds = body
            .get("credentials")
            .filter(|c| c.is_object())
            .ok_or_else(|| Invalid("credentials must be an object".into()))?;
        let api_key = req_str(creds, "credentials.apiKey", 1, 1000)?;
        let username = req_str(creds, "credentials.username", 1, 100)?;
        let status = match body.get("status").and_then(Value::as_str) {
            None => AccountStatus::Pending,
            Some(s) => serde_json::from_value(json!(s)).map_err(|_| {
                Invalid(format!(
                    "status must be active, pending, suspended or error, not {s:?}"
                ))
            })?,
        };
        self.agent(&agent_id)
            .await
            .map_err(|_| not_found("AGENT_NOT_FOUND", "Agent not found"))?;
        let account = Account {
            agent_id,
            platform,
            credentials: Credentials {
                api_key,
                username,
                agent_id: creds
                    .get("agentId")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                extra: Default::default(),
            },
            status,
            last_activity: None,
            platform_data: body
                .get("platformData")
                .filter(|d| d.is_object())
                .cloned()
                .unwrap_or_else(|| json!({})),
            created_at: iso(self.now()),
            extra: Default::default(),
        };
        Ok(self.insert_account(account).await?.1)
    }

    /// Registers a new account on the platform (`POST /accounts` without credentials).
    pub async fn register_account(&self, body: &Value) -> Result<Value, AgentsError> {
        let agent_id = req_str(body, "agentId", 1, 200)?;
        let platform = Platform::parse(&req_str(body, "platform", 1, 20)?)?;
        let name = req_str(body, "name", 1, 100)?;
        let description = body
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        check_len("description", &description, 0, 500)?;
        let agent = self
            .agent(&agent_id)
            .await
            .map_err(|_| not_found("AGENT_NOT_FOUND", "Agent not found"))?;
        let now = iso(self.now());
        let (account, claim_url) = match platform {
            Platform::Moltbook => {
                // Moltbook names: lower case, `_` for spaces, [a-z0-9_-] only.
                let handle: String = name
                    .to_lowercase()
                    .replace(' ', "_")
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                    .collect();
                let r = self
                    .platforms
                    .moltbook
                    .register(&handle, &description)
                    .await
                    .map_err(ActionError::from)?;
                let a = r.get("agent").unwrap_or(&r);
                let key = a.get("api_key").and_then(Value::as_str).unwrap_or_default();
                if key.is_empty() {
                    return Err(AgentsError::Conflict {
                        code: "PLATFORM_ERROR",
                        message: "Moltbook registered the agent but returned no API key".into(),
                    });
                }
                let claim = a.get("claim_url").cloned().unwrap_or(Value::Null);
                let account = Account {
                    agent_id,
                    platform,
                    credentials: Credentials {
                        api_key: key.to_string(),
                        username: a
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or(&handle)
                            .to_string(),
                        agent_id: None,
                        extra: Default::default(),
                    },
                    status: AccountStatus::Pending,
                    last_activity: None,
                    platform_data: json!({ "claimUrl": claim, "registrationName": name, "registrationDescription": description }),
                    created_at: now,
                    extra: Default::default(),
                };
                (account, Some(claim))
            }
            Platform::Moltworld => {
                let mut look = portos_moltworld::Appearance::default();
                if let Some(av) = &agent.avatar {
                    if let Some(c) = av.get("color").and_then(Value::as_str) {
                        look.color = c.to_string();
                    }
                    if let Some(e) = av.get("emoji").and_then(Value::as_str) {
                        look.emoji = e.to_string();
                    }
                }
                let r = self
                    .platforms
                    .moltworld
                    .register(&name, &look)
                    .await
                    .map_err(ActionError::from)?;
                let account = Account {
                    agent_id,
                    platform,
                    credentials: Credentials {
                        api_key: r.api_key,
                        username: name.clone(),
                        agent_id: Some(r.agent_id),
                        extra: Default::default(),
                    },
                    status: AccountStatus::Active,
                    last_activity: None,
                    platform_data: json!({ "registrationName": name, "registrationDescription": description }),
                    created_at: now,
                    extra: Default::default(),
                };
                (account, None)
            }
        };
        let (_, mut view) = self.insert_account(account).await?;
        if let Some(c) = claim_url {
            view["claimUrl"] = c;
        }
        Ok(view)
    }

    pub async fn delete_account(&self, id: &str) -> Result<(), AgentsError> {
        self.store
            .update(files::ACCOUNTS, |f: &mut AccountsFile| {
                f.accounts
                    .shift_remove(id)
                    .map(|_| ())
                    .ok_or_else(|| not_found("NOT_FOUND", "Account not found"))
            })
            .await??;
        self.changed("agents:account:changed", "accountId", "delete", id);
        Ok(())
    }

    async fn set_account(
        &self,
        id: &str,
        f: impl FnOnce(&mut Account),
    ) -> Result<Account, AgentsError> {
        let a = self
            .store
            .update(files::ACCOUNTS, |file: &mut AccountsFile| {
                let a = file
                    .accounts
                    .get_mut(id)
                    .ok_or_else(|| not_found("NOT_FOUND", "Account not found"))?;
                f(a);
                Ok::<_, AgentsError>(a.clone())
            })
            .await??;
        self.changed("agents:account:changed", "accountId", "update", id);
        Ok(a)
    }

    /// `POST /accounts/:id/test`: asks the platform who the account is.
    pub async fn test_account(&self, id: &str) -> Result<Value, AgentsError> {
        let a = self.account(id).await?;
        let (status, platform_status, message) = match a.platform {
            Platform::Moltbook => {
                let key = portos_moltbook::ApiKey::new(a.credentials.api_key.clone());
                match self.platforms.moltbook.profile(&key).await {
                    Ok(p) => {
                        let agent = p.get("agent").unwrap_or(&p);
                        let claimed = agent
                            .get("is_claimed")
                            .and_then(Value::as_bool)
                            .unwrap_or(false);
                        let karma = agent.get("karma").cloned().unwrap_or(json!(0));
                        (
                            if claimed {
                                AccountStatus::Active
                            } else {
                                AccountStatus::Pending
                            },
                            if claimed { "active" } else { "pending_claim" },
                            format!(
                                "Connected as {} (karma {karma})",
                                agent
                                    .get("name")
                                    .and_then(Value::as_str)
                                    .unwrap_or(&a.credentials.username)
                            ),
                        )
                    }
                    Err(e) if e.is_suspended() => {
                        self.set_account(id, |a| a.status = AccountStatus::Suspended)
                            .await?;
                        return Err(ActionError::from(e).into());
                    }
                    Err(e) => return Err(ActionError::from(e).into()),
                }
            }
            Platform::Moltworld => {
                let agent = a.platform_agent_id().to_string();
                self.platforms
                    .moltworld
                    .profile(&agent)
                    .await
                    .map_err(ActionError::from)?;
                let sim = self
                    .platforms
                    .moltworld
                    .balance(&agent)
                    .await
                    .ok()
                    .and_then(|b| b.pointer("/balance/sim").cloned());
                (
                    a.status,
                    "active",
                    match sim {
                        Some(s) => format!("Connected to Moltworld; SIM balance {s}"),
                        None => "Connected to Moltworld".into(),
                    },
                )
            }
        };
        if status != a.status {
            self.set_account(id, |a| a.status = status).await?;
        }
        Ok(json!({
            "success": true, "message": message, "platform": a.platform.as_str(),
            "username": a.credentials.username, "platformStatus": platform_status,
        }))
    }

    /// `POST /accounts/:id/claim`: a pending account becomes active.
    pub async fn claim_account(&self, id: &str) -> Result<Value, AgentsError> {
        let a = self.account(id).await?;
        if a.status != AccountStatus::Pending {
            return Err(AgentsError::Conflict {
                code: "INVALID_STATE",
                message: format!("Account is {}, not pending", a.status.as_str()),
            });
        }
        let a = self
            .set_account(id, |a| a.status = AccountStatus::Active)
            .await?;
        Ok(a.masked(id))
    }

    // ----- schedules -----

    async fn schedules_file(&self) -> Result<SchedulesFile, AgentsError> {
        Ok(self.store.load(files::SCHEDULES).await?)
    }

    fn view(&self, id: &str, s: &Schedule) -> Value {
        let p = self.planner();
        schedule_view(id, s, p.is_active(id), p.next_of(id))
    }

    pub async fn schedules(
        &self,
        agent: Option<&str>,
        account: Option<&str>,
    ) -> Result<Vec<Value>, AgentsError> {
        Ok(self
            .schedules_file()
            .await?
            .schedules
            .iter()
            .filter(|(_, s)| match (agent, account) {
                (Some(g), _) => s.agent_id == g,
                (None, Some(a)) => s.account_id == a,
                (None, None) => true,
            })
            .map(|(id, s)| self.view(id, s))
            .collect())
    }

    pub async fn schedule(&self, id: &str) -> Result<Schedule, AgentsError> {
        self.schedules_file()
            .await?
            .schedules
            .get(id)
            .cloned()
            .ok_or_else(|| not_found("NOT_FOUND", "Schedule not found"))
    }

    pub async fn schedule_view(&self, id: &str) -> Result<Value, AgentsError> {
        Ok(self.view(id, &self.schedule(id).await?))
    }

    pub async fn stats(&self) -> Result<Value, AgentsError> {
        let f = self.schedules_file().await?;
        let mut by_action = serde_json::Map::new();
        for s in f.schedules.values() {
            let n = by_action
                .get(&s.action.kind)
                .and_then(Value::as_u64)
                .unwrap_or(0);
            by_action.insert(s.action.kind.clone(), json!(n + 1));
        }
        Ok(json!({
            "total": f.schedules.len(),
            "enabled": f.schedules.values().filter(|s| s.enabled).count(),
            "active": self.planner().active_count(),
            "totalRuns": f.schedules.values().map(|s| s.run_count).sum::<u64>(),
            "byAction": by_action,
        }))
    }

    fn activate(&self, id: &str, s: &Schedule) -> Result<(), AgentsError> {
        if s.enabled {
            let plan = Plan::of(&s.schedule)?;
            self.planner()
                .activate(id, plan, self.now(), None, s.missed_runs, false);
        } else {
            self.planner().deactivate(id);
        }
        self.wake.notify_one();
        Ok(())
    }

    pub async fn create_schedule(&self, body: Value) -> Result<Value, AgentsError> {
        let mut body = body;
        let now = iso(self.now());
        if let Some(o) = body.as_object_mut() {
            for k in ["id", "lastRun", "runCount", "createdAt", "updatedAt"] {
                o.remove(k);
            }
            o.insert("createdAt".into(), json!(now));
            o.insert("updatedAt".into(), json!(now));
        }
        let s: Schedule =
            serde_json::from_value(body).map_err(|e| Invalid(format!("schedule: {e}")))?;
        validate_schedule(&s)?;
        self.agent(&s.agent_id)
            .await
            .map_err(|_| not_found("AGENT_NOT_FOUND", "Agent not found"))?;
        let account = self
            .account(&s.account_id)
            .await
            .map_err(|_| not_found("ACCOUNT_NOT_FOUND", "Account not found"))?;
        if account.agent_id != s.agent_id {
            return Err(AgentsError::Conflict {
                code: "ACCOUNT_AGENT_MISMATCH",
                message: "Account does not belong to this agent".into(),
            });
        }
        if platform_of(&s.action.kind) != Some(account.platform) {
            return Err(Invalid(format!(
                "action.type {} does not run on a {} account",
                s.action.kind,
                account.platform.as_str()
            ))
            .into());
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.store
            .update(files::SCHEDULES, |f: &mut SchedulesFile| {
                f.schedules.insert(id.clone(), s.clone());
                Ok::<_, ()>(())
            })
            .await?
            .ok();
        self.activate(&id, &s)?;
        self.changed("agents:schedule:changed", "scheduleId", "create", &id);
        Ok(self.view(&id, &s))
    }

    pub async fn update_schedule(&self, id: &str, patch: Value) -> Result<Value, AgentsError> {
        let now = iso(self.now());
        // A new action must still run on the schedule's account.
        let platform = match patch.pointer("/action/type").and_then(Value::as_str) {
            Some(_) => {
                let account_id = self.schedule(id).await?.account_id;
                self.account(&account_id).await.ok().map(|a| a.platform)
            }
            None => None,
        };
        let s = self
            .store
            .update(files::SCHEDULES, |f: &mut SchedulesFile| {
                let s = f
                    .schedules
                    .get_mut(id)
                    .ok_or_else(|| not_found("NOT_FOUND", "Schedule not found"))?;
                let mut v = serde_json::to_value(&*s).map_err(|e| Invalid(e.to_string()))?;
                merge_top(
                    &mut v,
                    &patch,
                    &[
                        "id",
                        "createdAt",
                        "lastRun",
                        "runCount",
                        "agentId",
                        "accountId",
                    ],
                );
                v["updatedAt"] = json!(now);
                let next: Schedule =
                    serde_json::from_value(v).map_err(|e| Invalid(format!("schedule: {e}")))?;
                validate_schedule(&next)?;
                if let Some(p) = platform.filter(|p| platform_of(&next.action.kind) != Some(*p)) {
                    return Err(Invalid(format!(
                        "action.type {} does not run on a {} account",
                        next.action.kind,
                        p.as_str()
                    ))
                    .into());
                }
                *s = next.clone();
                Ok::<_, AgentsError>(next)
            })
            .await??;
        self.activate(id, &s)?;
        self.changed("agents:schedule:changed", "scheduleId", "update", id);
        Ok(self.view(id, &s))
    }

    pub async fn delete_schedule(&self, id: &str) -> Result<(), AgentsError> {
        self.store
            .update(files::SCHEDULES, |f: &mut SchedulesFile| {
                f.schedules
                    .shift_remove(id)
                    .map(|_| ())
                    .ok_or_else(|| not_found("NOT_FOUND", "Schedule not found"))
            })
            .await??;
        self.planner().deactivate(id);
        self.changed("agents:schedule:changed", "scheduleId", "delete", id);
        Ok(())
    }

    pub async fn toggle_schedule(&self, id: &str, enabled: bool) -> Result<Value, AgentsError> {
        self.update_schedule(id, json!({ "enabled": enabled }))
            .await
    }

    // ----- activity -----

    async fn log(&self, agent: &str, mut entry: ActivityEntry) -> Result<(), AgentsError> {
        portos_store::safe_name(agent)?;
        let date = entry.timestamp.get(..10).unwrap_or("unknown").to_string();
        if entry.id.is_empty() {
            entry.id = activity_id(self.now());
        }
        self.store
            .update(&files::activity(agent, &date), |f: &mut ActivityFile| {
                f.activities.push(entry.clone());
                Ok::<_, ()>(())
            })
            .await?
            .ok();
        let mut data = serde_json::to_value(&entry).unwrap_or_default();
        if let Some(o) = data.as_object_mut() {
            o.shift_insert(0, "agentId".into(), json!(agent));
        }
        (self.emit)("agents:activity", data);
        Ok(())
    }

    /// One agent's activity of one UTC day (`YYYY-MM-DD`), newest last.
    pub async fn activity(
        &self,
        agent: &str,
        date: &str,
    ) -> Result<Vec<ActivityEntry>, AgentsError> {
        portos_store::safe_name(agent)?;
        let ok = date.len() == 10 && chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok();
        if !ok {
            return Err(Invalid(format!("date must be YYYY-MM-DD, not {date:?}")).into());
        }
        let f: ActivityFile = self.store.load(&files::activity(agent, date)).await?;
        Ok(f.activities)
    }

    /// An activity entry of `action` on `account` (of schedule `schedule`, if any).
    fn entry(
        &self,
        schedule: Option<&str>,
        account: &str,
        action: &Action,
        status: &str,
    ) -> ActivityEntry {
        ActivityEntry {
            id: String::new(),
            account_id: account.to_string(),
            schedule_id: schedule.map(str::to_string),
            action: action.kind.clone(),
            params: action.params.clone(),
            status: status.into(),
            result: None,
            error: None,
            timestamp: iso(self.now()),
            duration_ms: None,
        }
    }

    async fn skip(&self, id: &str, s: &Schedule, why: &str) -> Result<(), AgentsError> {
        let mut e = self.entry(Some(id), &s.account_id, &s.action, "skipped");
        e.error = Some(why.to_string());
        self.log(&s.agent_id, e).await
    }

    /// The schedule's own limits: cooldown since its last run, and its runs
    /// started today (UTC) for this account and action.
    async fn over_limit(&self, s: &Schedule) -> Result<Option<String>, AgentsError> {
        let now = self.now();
        if let (Some(cd), Some(last)) = (
            s.rate_limit.cooldown_ms,
            s.last_run.as_deref().and_then(parse_time),
        ) {
            let free = last + chrono::TimeDelta::milliseconds(cd as i64);
            if now < free {
                return Ok(Some(format!(
                    "rateLimit.cooldownMs: next run allowed at {}",
                    iso(free)
                )));
            }
        }
        if let Some(max) = s.rate_limit.max_per_day {
            let today = now.format("%Y-%m-%d").to_string();
            let n = self
                .activity(&s.agent_id, &today)
                .await?
                .iter()
                .filter(|e| {
                    e.status == "started"
                        && e.account_id == s.account_id
                        && e.action == s.action.kind
                })
                .count();
            if n as u32 >= max {
                return Ok(Some(format!(
                    "rateLimit.maxPerDay: {n} of {max} runs today (UTC)"
                )));
            }
        }
        Ok(None)
    }

    /// `POST /schedules/:id/run`: runs it now, unless a run of it is going.
    pub async fn run_now(self: &Arc<Self>, id: &str) -> Result<Begun, AgentsError> {
        let s = self.schedule(id).await?;
        if !s.enabled {
            return Err(AgentsError::Conflict {
                code: "SCHEDULE_DISABLED",
                message: "Schedule is disabled; enable it to run it".into(),
            });
        }
        if !self.planner().mark_running(id) {
            return Err(AgentsError::Conflict {
                code: "RUN_ACTIVE",
                message: "The previous run of this schedule is still going".into(),
            });
        }
        self.begin(id, s, None).await
    }

    /// Steps 2–5 of a run: limits, `started`, counters, then the action in its
    /// own task. The planner has this schedule marked running.
    async fn begin(
        self: &Arc<Self>,
        id: &str,
        s: Schedule,
        why: Option<Why>,
    ) -> Result<Begun, AgentsError> {
        let done = |this: &Arc<Self>| this.planner().finished(id, this.now());
        match self.over_limit(&s).await {
            Ok(Some(why)) => {
                done(self);
                self.skip(id, &s, &why).await?;
                return Ok(Begun::Skipped(why));
            }
            Ok(None) => {}
            Err(e) => {
                done(self);
                return Err(e);
            }
        }
        let mut started = self.entry(Some(id), &s.account_id, &s.action, "started");
        if let Some(Why::Missed(n)) = why {
            started.result = Some(json!({ "missedRuns": n }));
        }
        let now = iso(self.now());
        let counted = self
            .store
            .update(files::SCHEDULES, |f: &mut SchedulesFile| {
                if let Some(x) = f.schedules.get_mut(id) {
                    x.last_run = Some(now.clone());
                    x.run_count += 1;
                }
                Ok::<_, ()>(())
            })
            .await;
        if let Err(e) = counted {
            done(self);
            return Err(e.into());
        }
        self.log(&s.agent_id, started).await?;
        (self.emit)(
            "agents:schedule:execute",
            json!({ "scheduleId": id, "schedule": schedule_view(id, &s, true, None), "timestamp": self.now().timestamp_millis() }),
        );
        let this = self.clone();
        let id = id.to_string();
        Ok(Begun::Started(self.tasks.spawn(async move {
            let began = std::time::Instant::now();
            let out = this.perform(&s.agent_id, &s.account_id, &s.action).await;
            let done = this.entry(Some(&id), &s.account_id, &s.action, "completed");
            let e = this.outcome(done, &out, began);
            if let Err(err) = this.log(&s.agent_id, e).await {
                tracing::error!(schedule = %id, "cannot record the run's outcome: {err}");
            }
            this.planner().finished(&id, this.now());
            this.wake.notify_one();
        })))
    }

    /// The closing activity entry of a run: completed with its result,
    /// skipped with the reason, or failed with the error; and how long it took.
    fn outcome(
        &self,
        mut e: ActivityEntry,
        out: &Result<Result<Value, String>, AgentsError>,
        began: std::time::Instant,
    ) -> ActivityEntry {
        match out {
            Ok(Ok(r)) => e.result = Some(r.clone()),
            Ok(Err(why)) => {
                e.status = "skipped".into();
                e.error = Some(why.clone());
            }
            Err(err) => {
                e.status = "failed".into();
                e.error = Some(err.to_string());
            }
        }
        e.duration_ms = Some(began.elapsed().as_millis() as u64);
        e
    }

    /// The action itself: `Ok(Err(reason))` when the account or agent says not now.
    async fn perform(
        &self,
        agent_id: &str,
        account_id: &str,
        action: &Action,
    ) -> Result<Result<Value, String>, AgentsError> {
        let account = match self.account(account_id).await {
            Ok(a) => a,
            Err(AgentsError::NotFound { .. }) => {
                return Err(not_found("ACCOUNT_NOT_FOUND", "Account not found"));
            }
            Err(e) => return Err(e),
        };
        if account.status != AccountStatus::Active {
            return Ok(Err(format!("Account status: {}", account.status.as_str())));
        }
        let agent = self.agent(agent_id).await?;
        if !agent.enabled {
            return Ok(Err("Agent disabled".into()));
        }
        let writer = self.author.get().map(|a| crate::actions::Writer {
            author: a.as_ref(),
            agent: &agent,
        });
        let result = execute(
            &self.platforms,
            &account,
            &action.kind,
            &action.params,
            writer,
        )
        .await;
        let suspended = result.as_ref().is_err_and(ActionError::is_suspended);
        let now = iso(self.now());
        self.set_account(account_id, |a| {
            a.last_activity = Some(now);
            if suspended {
                a.status = AccountStatus::Suspended;
            }
        })
        .await?;
        Ok(Ok(result?))
    }

    /// Runs one action for an account right away (the tool routes): recorded
    /// as the agent's activity like a scheduled one.
    pub async fn act(
        &self,
        account_id: &str,
        action: &str,
        params: Value,
    ) -> Result<Value, AgentsError> {
        let account = self.account(account_id).await?;
        if account.status != AccountStatus::Active {
            return Err(AgentsError::Conflict {
                code: "ACCOUNT_INACTIVE",
                message: format!("Account not active: {}", account.status.as_str()),
            });
        }
        let action = Action {
            kind: action.to_string(),
            params,
        };
        let began = std::time::Instant::now();
        let out = self.perform(&account.agent_id, account_id, &action).await;
        let done = self.entry(None, account_id, &action, "completed");
        let e = self.outcome(done, &out, began);
        self.log(&account.agent_id, e).await?;
        match out? {
            Ok(r) => Ok(r),
            Err(why) => Err(AgentsError::Conflict {
                code: "ACTION_SKIPPED",
                message: why,
            }),
        }
    }

    // ----- the scheduler -----

    async fn handle(self: &Arc<Self>, f: Firing) -> Option<JoinHandle<()>> {
        let (id, why) = match f {
            Firing::Run { id, why } => (id, Some(why)),
            Firing::Skip { id, why } => {
                if let Ok(s) = self.schedule(&id).await
                    && let Err(e) = self.skip(&id, &s, &why).await
                {
                    tracing::error!(schedule = %id, "cannot record a skipped run: {e}");
                }
                return None;
            }
        };
        let s = match self.schedule(&id).await {
            Ok(s) if s.enabled => s,
            // Gone or switched off since: it stops here.
            _ => {
                let mut p = self.planner();
                p.finished(&id, self.now());
                p.deactivate(&id);
                return None;
            }
        };
        match self.begin(&id, s, why).await {
            Ok(Begun::Started(h)) => Some(h),
            Ok(Begun::Skipped(_)) => None,
            Err(e) => {
                tracing::error!(schedule = %id, "cannot start a run: {e}");
                None
            }
        }
    }

    /// Activates every enabled schedule as PortOS starts, applying each one's
    /// `missedRuns` policy to slots that fell due while it was not running.
    pub async fn start(self: &Arc<Self>) -> Result<Vec<JoinHandle<()>>, AgentsError> {
        let now = self.now();
        let f = self.schedules_file().await?;
        let mut firings = Vec::new();
        for (id, s) in f.schedules.iter().filter(|(_, s)| s.enabled) {
            let plan = match Plan::of(&s.schedule) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(schedule = %id, "not activated: {e}");
                    continue;
                }
            };
            let since = s
                .last_run
                .as_deref()
                .or(Some(s.created_at.as_str()))
                .and_then(parse_time);
            if let Some(f) = self
                .planner()
                .activate(id, plan, now, since, s.missed_runs, true)
            {
                firings.push(f);
            }
        }
        let mut handles = Vec::new();
        for f in firings {
            handles.extend(self.handle(f).await);
        }
        Ok(handles)
    }

    /// Fires what is due by the clock now.
    pub async fn tick(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        let firings = self.planner().due(self.now());
        let mut handles = Vec::new();
        for f in firings {
            handles.extend(self.handle(f).await);
        }
        handles
    }

    /// The scheduler: start, then sleep until the next firing (or a change)
    /// and fire, until `cancel`; runs in flight get a few seconds to end.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        if let Err(e) = self.start().await {
            tracing::error!("schedules not started: {e}");
        }
        loop {
            let wait = self
                .planner()
                .next_wake()
                .map(|t| (t - self.now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(60))
                .min(Duration::from_secs(60));
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => continue,
            }
            self.tick().await;
        }
        self.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tasks.wait()).await;
    }
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
