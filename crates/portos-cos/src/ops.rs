//! What a client asks of the CoS, in the original's shapes: its status and
//! config, the tasks (add, edit, delete, reorder, approve), the agents and
//! their output, history by day, and learning.

use serde_json::{Map, Value, json};

use crate::CosError;
use crate::lifecycle::agent_dir;
use crate::orchestrator::Cos;
use crate::state::Agent;
use crate::tasks::{self, Approval, Kind, Priority, Status, Task, codec};

/// How much of an agent's output its answer carries (the file has it all).
const OUTPUT_TAIL: usize = 64 * 1024;

/// Metadata a client may set on a task, and the keys it may not.
const RESERVED: &[&str] = &["blockedReason", "blockedAt", "completedAt", "branch"];

fn text(body: &Map<String, Value>, key: &str) -> Result<Option<String>, CosError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(CosError::invalid(format!("{key} must be a string"))),
    }
}

fn priority(body: &Map<String, Value>) -> Result<Option<Priority>, CosError> {
    text(body, "priority")?
        .map(|p| {
            Priority::parse(&p).ok_or_else(|| {
                CosError::invalid(format!(
                    "priority {p:?} is not CRITICAL, HIGH, MEDIUM or LOW"
                ))
            })
        })
        .transpose()
}

fn kind_of(body: &Map<String, Value>) -> Result<Kind, CosError> {
    match text(body, "type")? {
        None => Ok(Kind::User),
        Some(t) => Kind::parse(&t)
            .ok_or_else(|| CosError::invalid(format!("type {t:?} is not user or internal"))),
    }
}

/// One change of a task's metadata: a value to set, or `None` to clear it.
type MetaChange = (String, Option<Value>);

/// The task fields of a body that live in its metadata, as changes: a null,
/// an empty string or an empty list clears the key.
fn metadata_of(body: &Map<String, Value>) -> Result<Vec<MetaChange>, CosError> {
    const TEXT: &[&str] = &[
        "context",
        "model",
        "provider",
        "app",
        "thinkingLevel",
        "jiraTicketId",
        "jiraTicketUrl",
    ];
    const FLAGS: &[&str] = &["useWorktree", "createJiraTicket"];
    const LISTS: &[&str] = &["screenshots", "attachments"];
    let mut out = Vec::new();
    for (key, v) in body {
        let k = key.as_str();
        let change = match v {
            _ if !(TEXT.contains(&k) || FLAGS.contains(&k) || LISTS.contains(&k)) => continue,
            Value::Null => None,
            Value::String(s) if TEXT.contains(&k) => (!s.is_empty()).then(|| json!(s)),
            Value::Bool(b) if FLAGS.contains(&k) => Some(json!(b)),
            Value::Array(a) if LISTS.contains(&k) => (!a.is_empty()).then(|| v.clone()),
            _ if TEXT.contains(&k) => {
                return Err(CosError::invalid(format!("{key} must be a string")));
            }
            _ if FLAGS.contains(&k) => {
                return Err(CosError::invalid(format!("{key} must be true or false")));
            }
            _ => return Err(CosError::invalid(format!("{key} must be a list"))),
        };
        out.push((key.clone(), change));
    }
    if let Some(extra) = body.get("metadata") {
        let Value::Object(m) = extra else {
            return Err(CosError::invalid("metadata must be an object"));
        };
        for (k, v) in m {
            if !codec::valid_key(k) || RESERVED.contains(&k.as_str()) {
                return Err(CosError::invalid(format!(
                    "metadata key {k:?} cannot be set"
                )));
            }
            out.push((k.clone(), Some(v.clone())));
        }
    }
    Ok(out)
}

fn apply(metadata: &mut Map<String, Value>, changes: Vec<MetaChange>) {
    for (k, v) in changes {
        match v {
            Some(v) => {
                metadata.insert(k, v);
            }
            None => {
                metadata.remove(&k);
            }
        }
    }
}

/// The app a change names, if any.
fn app_of(changes: &[MetaChange]) -> Option<&str> {
    changes
        .iter()
        .find(|(k, _)| k == "app")
        .and_then(|(_, v)| v.as_ref()?.as_str())
}

fn description(d: Option<String>) -> Result<Option<String>, CosError> {
    match d.map(|d| d.trim().to_string()) {
        Some(d) if d.is_empty() => Err(CosError::invalid("description is required")),
        Some(d) if d.len() > 20_000 => Err(CosError::invalid(
            "description is longer than 20000 characters",
        )),
        d => Ok(d),
    }
}

impl Cos {
    /// Whether task `id` has an agent running now.
    async fn has_running_agent(&self, id: &str) -> bool {
        let core = self.inner.core.lock().await;
        core.state
            .agents
            .values()
            .any(|a| a.is_running() && a.task_id == id)
    }

    /// `GET /api/cos`.
    pub async fn status(&self) -> Value {
        let provider = portos_ai::providers::active(&self.inner.ai)
            .await
            .ok()
            .flatten();
        let core = self.inner.core.lock().await;
        let s = &core.state;
        json!({
            "running": s.running, "paused": s.paused, "pausedAt": s.paused_at,
            "pauseReason": s.pause_reason, "config": s.config, "stats": s.stats,
            "activeAgents": s.agents.values().filter(|a| a.is_running()).count(),
            "provider": provider.map(|p| json!({"id": p.id, "name": p.name})),
        })
    }

    /// The CoS in `/api/system/health/details`: `{ running, paused, activeAgents, queuedTasks }`.
    pub async fn summary(&self) -> Value {
        let mut queued = 0;
        for kind in [Kind::User, Kind::Cos] {
            if let Ok((doc, _, _)) = self.inner.queues.file(kind).read().await {
                queued += doc
                    .tasks()
                    .iter()
                    .filter(|(t, _)| t.status == Status::Pending)
                    .count();
            }
        }
        let core = self.inner.core.lock().await;
        json!({
            "running": core.state.running, "paused": core.state.paused,
            "activeAgents": core.state.agents.values().filter(|a| a.is_running()).count(),
            "queuedTasks": queued,
        })
    }

    pub async fn config(&self) -> Value {
        json!(self.inner.core.lock().await.state.config)
    }

    /// `PUT /api/cos/config`: checked whole, then saved.
    pub async fn set_config(&self, changes: &Map<String, Value>) -> Result<Value, CosError> {
        let mut core = self.inner.core.lock().await;
        core.state.config = core.state.config.merged(changes)?;
        self.save(&core).await;
        let cfg = json!(core.state.config);
        drop(core);
        self.emit("config:changed", cfg.clone());
        self.wake();
        Ok(cfg)
    }

    /// `GET /api/cos/tasks`.
    pub async fn tasks(&self) -> Result<Value, CosError> {
        let mut out = json!({});
        for (kind, key) in [(Kind::User, "user"), (Kind::Cos, "cos")] {
            let (doc, bad, exists) = self.inner.queues.file(kind).read().await?;
            out[key] = tasks::queue_json(&doc, &bad, exists, kind);
        }
        Ok(out)
    }

    /// `POST /api/cos/tasks`.
    pub async fn add_task(&self, body: &Map<String, Value>) -> Result<Value, CosError> {
        let desc = description(text(body, "description")?)?
            .ok_or_else(|| CosError::invalid("description is required"))?;
        let kind = kind_of(body)?;
        let mut task = Task::new(
            tasks::new_id(kind),
            priority(body)?.unwrap_or(Priority::Medium),
            desc,
        );
        let changes = metadata_of(body)?;
        if let Some(app) = app_of(&changes) {
            crate::agent::app_folder(&self.inner.store, Some(app)).await?;
        }
        apply(&mut task.metadata, changes);
        if kind == Kind::Cos {
            task.approval = Some(if body.get("approvalRequired") == Some(&json!(true)) {
                Approval::Required
            } else {
                Approval::Auto
            });
        }
        let top = match text(body, "position")?.as_deref() {
            None | Some("bottom") => false,
            Some("top") => true,
            Some(p) => {
                return Err(CosError::invalid(format!(
                    "position {p:?} is not top or bottom"
                )));
            }
        };
        let file = self.inner.queues.file(kind);
        file.edit(|doc| doc.add(task.clone(), top)).await?;
        let out = tasks::task_json(&task, Some("pending"), kind);
        self.emit(
            "tasks:changed",
            json!({"type": kind.task_type(), "action": "added", "task": out}),
        );
        self.wake();
        Ok(out)
    }

    async fn locate(&self, id: &str, kind: Option<Kind>) -> Result<Kind, CosError> {
        match kind {
            Some(k) => Ok(k),
            None => self
                .inner
                .queues
                .find(id)
                .await?
                .map(|(k, _)| k)
                .ok_or_else(|| CosError::not_found("Task not found")),
        }
    }

    /// `PUT /api/cos/tasks/:id`.
    pub async fn update_task(
        &self,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Value, CosError> {
        let kind = self
            .locate(
                id,
                text(body, "type")?.map(|t| Kind::parse(&t)).unwrap_or(None),
            )
            .await?;
        let desc = description(text(body, "description")?)?;
        let prio = priority(body)?;
        let status = text(body, "status")?
            .map(|s| {
                Status::parse(&s).ok_or_else(|| {
                    CosError::invalid(format!(
                        "status {s:?} is not pending, in_progress, blocked or completed"
                    ))
                })
            })
            .transpose()?;
        if status == Some(Status::InProgress) {
            return Err(CosError::invalid(
                "a task is put in progress by the CoS, not by a request",
            ));
        }
        let changes = metadata_of(body)?;
        if let Some(app) = app_of(&changes) {
            crate::agent::app_folder(&self.inner.store, Some(app)).await?;
        }
        let reason = text(body, "blockedReason")?;
        let running = self.has_running_agent(id).await;
        if running && status.is_some() {
            return Err(CosError::conflict(
                "TASK_RUNNING",
                format!("task {id} has an agent running; terminate it first"),
            ));
        }
        let file = self.inner.queues.file(kind);
        let updated = file
            .edit(|doc| {
                let ok = doc.update(id, |t| {
                    if let Some(d) = desc {
                        t.description = d;
                    }
                    if let Some(p) = prio {
                        t.priority = p;
                    }
                    apply(&mut t.metadata, changes);
                    if let Some(s) = status {
                        t.status = s;
                        if s == Status::Blocked {
                            t.metadata.insert(
                                "blockedReason".into(),
                                json!(
                                    reason
                                        .clone()
                                        .unwrap_or_else(|| "Blocked by the owner".into())
                                ),
                            );
                        } else {
                            t.metadata.remove("blockedReason");
                            t.metadata.remove("blockedAt");
                        }
                    }
                });
                ok.then(|| doc.get(id).cloned()).flatten()
            })
            .await?
            .ok_or_else(|| CosError::not_found("Task not found"))?;
        if status == Some(Status::Pending) {
            // Unblocked: its attempts start again.
            let mut core = self.inner.core.lock().await;
            core.book.remove(id);
            self.save_book(&core).await;
        }
        self.wake();
        Ok(tasks::task_json(
            &updated,
            Some(updated.status.as_str()),
            kind,
        ))
    }

    /// `DELETE /api/cos/tasks/:id?type=`.
    pub async fn delete_task(&self, id: &str, kind: Option<&str>) -> Result<Value, CosError> {
        let kind = self.locate(id, kind.and_then(Kind::parse)).await?;
        let running = self.has_running_agent(id).await;
        if running {
            return Err(CosError::conflict(
                "TASK_RUNNING",
                format!("task {id} has an agent running; terminate it first"),
            ));
        }
        self.inner
            .queues
            .file(kind)
            .edit(|doc| doc.remove(id))
            .await?
            .ok_or_else(|| CosError::not_found("Task not found"))?;
        Ok(json!({"success": true, "id": id}))
    }

    /// `POST /api/cos/tasks/reorder {taskIds}`: the owner's tasks in this
    /// order (each where one of them stood); it sticks.
    pub async fn reorder(&self, ids: &[String]) -> Result<Value, CosError> {
        if ids.is_empty() {
            return Err(CosError::invalid(
                "taskIds must list the tasks in their new order",
            ));
        }
        let file = self.inner.queues.file(Kind::User);
        let missing = file
            .edit(|doc| {
                let missing: Vec<String> = ids
                    .iter()
                    .filter(|i| doc.get(i).is_none())
                    .cloned()
                    .collect();
                if missing.is_empty() {
                    doc.reorder(ids);
                }
                missing
            })
            .await?;
        if !missing.is_empty() {
            return Err(CosError::not_found(format!(
                "no such tasks: {}",
                missing.join(", ")
            )));
        }
        self.wake();
        Ok(json!({"success": true, "order": ids}))
    }

    /// `POST /api/cos/tasks/:id/approve`: a CoS task may run.
    pub async fn approve(&self, id: &str) -> Result<Value, CosError> {
        let t = self
            .inner
            .queues
            .file(Kind::Cos)
            .edit(|doc| {
                doc.update(id, |t| t.approval = Some(Approval::Auto));
                doc.get(id).cloned()
            })
            .await?
            .ok_or_else(|| CosError::not_found("Task not found"))?;
        self.wake();
        Ok(tasks::task_json(&t, Some(t.status.as_str()), Kind::Cos))
    }

    fn output_of(&self, id: &str) -> String {
        let path = agent_dir(self.data_dir(), id).join("output.txt");
        let bytes = std::fs::read(path).unwrap_or_default();
        let from = bytes.len().saturating_sub(OUTPUT_TAIL);
        String::from_utf8_lossy(&bytes[from..]).into_owned()
    }

    fn with_output(&self, a: &Agent) -> Value {
        let mut v = json!(a);
        let at = a
            .completed_at
            .clone()
            .unwrap_or_else(|| a.started_at.clone());
        v["output"] = json!(
            self.output_of(&a.id)
                .lines()
                .map(|l| json!({"line": l, "timestamp": at}))
                .collect::<Vec<_>>()
        );
        v
    }

    /// `GET /api/cos/agents`: the agents in the state, each with the tail of its output.
    pub async fn agents(&self) -> Value {
        let core = self.inner.core.lock().await;
        json!(
            core.state
                .agents
                .values()
                .map(|a| self.with_output(a))
                .collect::<Vec<_>>()
        )
    }

    /// `GET /api/cos/agents/:id`, from the state or the archive.
    pub async fn agent(&self, id: &str) -> Result<Value, CosError> {
        // The id names a folder of the archive.
        portos_store::safe_name(id)
            .map_err(|_| CosError::invalid(format!("agent id {id:?} is not one")))?;
        if let Some(a) = self.inner.core.lock().await.state.agents.get(id) {
            return Ok(self.with_output(a));
        }
        let a: Agent =
            portos_store::read_json(&agent_dir(self.data_dir(), id).join("metadata.json"))?
                .ok_or_else(|| CosError::not_found("Agent not found"))?;
        Ok(self.with_output(&a))
    }

    /// Every archived agent.
    fn archived(&self) -> Vec<Agent> {
        let dir = self.data_dir().join("cos/agents");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                portos_store::read_json::<Agent>(&e.path().join("metadata.json"))
                    .ok()
                    .flatten()
            })
            .collect()
    }

    /// `GET /api/cos/agents/history`: `{dates: [{date, count}]}`, newest first.
    pub async fn history(&self) -> Value {
        let mut by: std::collections::BTreeMap<String, usize> = Default::default();
        for a in self.archived() {
            if let Some(d) = a.completed_at.as_deref().and_then(|c| c.get(..10)) {
                *by.entry(d.to_string()).or_default() += 1;
            }
        }
        json!({"dates": by.into_iter().rev().map(|(date, count)| json!({"date": date, "count": count})).collect::<Vec<_>>()})
    }

    /// The agents that ended on `date` (YYYY-MM-DD, UTC).
    pub async fn history_of(&self, date: &str) -> Result<Vec<Agent>, CosError> {
        crate::reports::check_date(date)?;
        let mut list: Vec<Agent> = self
            .archived()
            .into_iter()
            .filter(|a| {
                a.completed_at
                    .as_deref()
                    .is_some_and(|c| c.starts_with(date))
            })
            .collect();
        list.sort_by(|a, b| b.completed_at.cmp(&a.completed_at));
        Ok(list)
    }

    /// `DELETE /api/cos/agents/completed`: ended agents leave the state (their archive stays).
    pub async fn clear_completed(&self) -> Value {
        let mut core = self.inner.core.lock().await;
        let before = core.state.agents.len();
        core.state.agents.retain(|_, a| a.is_running());
        let cleared = before - core.state.agents.len();
        self.save(&core).await;
        json!({"success": true, "cleared": cleared})
    }

    /// `GET /api/cos/agents/:id/stats`: its process while it runs (pid, CPU
    /// time, memory), else `{ active: false, pid: null }`.
    pub async fn agent_stats(&self, id: &str) -> Result<Value, CosError> {
        let a = self.agent(id).await?;
        let run = a["metadata"]["runId"].as_str().unwrap_or_default();
        let idle = json!({"agentId": id, "active": false, "pid": null});
        if a["status"] != "running" || run.is_empty() {
            return Ok(idle);
        }
        let runner = self.inner.ai.runner();
        let end = match runner.get(&portos_ai::runs::cli::agent_id(run, 0)).await {
            Ok(e) => e,
            Err(_) => return Ok(idle),
        };
        let Some(pid) = end.pid.filter(|_| end.running()) else {
            return Ok(idle);
        };
        let stat = procfs::process::Process::new(pid as i32)
            .and_then(|p| p.stat())
            .ok();
        let tick = procfs::ticks_per_second() as f64;
        Ok(json!({
            "agentId": id, "active": true, "pid": pid,
            "cpuSeconds": stat.as_ref().map(|s| (s.utime + s.stime) as f64 / tick),
            "memoryBytes": stat.as_ref().map(|s| s.rss * procfs::page_size()),
        }))
    }

    /// `DELETE /api/cos/agents/:id`: an ended agent leaves the state.
    pub async fn forget_agent(&self, id: &str) -> Result<Value, CosError> {
        let mut core = self.inner.core.lock().await;
        match core.state.agents.get(id) {
            None => return Err(CosError::not_found("Agent not found")),
            Some(a) if a.is_running() => {
                return Err(CosError::conflict(
                    "AGENT_RUNNING",
                    format!("agent {id} is running; terminate it first"),
                ));
            }
            Some(_) => {}
        }
        core.state.agents.shift_remove(id);
        self.save(&core).await;
        Ok(json!({"success": true, "agentId": id}))
    }

    pub async fn learning(&self) -> Value {
        json!(self.inner.core.lock().await.learning)
    }

    pub async fn learning_summary(&self) -> Value {
        self.inner.core.lock().await.learning.summary()
    }

    pub async fn learning_skipped(&self) -> Value {
        self.inner.core.lock().await.learning.skipped()
    }

    pub async fn learning_reset(&self, task_type: &str) -> Result<Value, CosError> {
        let mut core = self.inner.core.lock().await;
        if !core.learning.reset(task_type) {
            return Err(CosError::not_found(format!(
                "no learning data for {task_type:?}"
            )));
        }
        if let Err(e) = self
            .inner
            .store
            .save(crate::learning::LEARNING, &core.learning)
            .await
        {
            return Err(e.into());
        }
        Ok(json!({"success": true, "taskType": task_type}))
    }
}
