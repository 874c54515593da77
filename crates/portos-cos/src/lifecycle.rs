//! An agent's life under the orchestrator's lock: spawned for a task,
//! followed while it runs (its output appended to its own file and sent as
//! deltas), and ended once — the task completed, retried after a backoff,
//! blocked with the reason, or back to pending when its runner was lost —
//! with a learning record and its archive. After a restart of the api
//! server, the agents it left running are taken back.

use std::io::Write;

use portos_ai::runs::{self, NewRun};
use serde_json::{Value, json};

use crate::CosError;
use crate::agent::{self, Verdict, Workspace};
use crate::learning::{LEARNING, Record};
use crate::orchestrator::{Core, Cos};
use crate::state::Agent;
use crate::tasks::{Kind, Status, Task};

/// The archive of agent `id` (`prompt.txt`, `output.txt`, `metadata.json`).
pub fn agent_dir(data_dir: &std::path::Path, id: &str) -> std::path::PathBuf {
    data_dir.join("cos/agents").join(id)
}

const AUTHOR: portos_git::worktree::Author<'static> = portos_git::worktree::Author {
    name: "PortOS Chief of Staff",
    email: "cos@portos.invalid",
};

impl Cos {
    /// Starts an agent for `task`, all under the lock the caller holds.
    pub(crate) async fn spawn(
        &self,
        core: &mut Core,
        kind: Kind,
        task: Task,
        lane: usize,
        project: String,
    ) -> Result<String, CosError> {
        let ai = &self.inner.ai;
        let cfg = core.state.config.clone();
        let provider = match task.meta_str("provider") {
            Some(p) => portos_ai::providers::get(ai, &p).await,
            None => portos_ai::providers::active(ai).await.and_then(|p| {
                p.ok_or_else(|| {
                    <portos_ai::AiError as portos_core::Refuse>::not_found("no active AI provider")
                })
            }),
        }
        .map_err(|e| CosError::invalid(e.to_string()))?;
        let task_type = crate::learning::task_type(kind, &task);
        let choice = agent::choose(&task, &task_type, provider, &core.learning)?;
        let id = format!("agent-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let (source, app, app_wants_worktree) =
            agent::app_folder(&self.inner.store, task.meta_str("app").as_deref()).await?;
        let worktree = if task.meta_flag("useWorktree") || cfg.use_worktree || app_wants_worktree {
            let path = self.data_dir().join("cos/worktrees").join(&id);
            let branch = format!("cos/{}/{id}", task.id);
            Some(
                portos_git::worktree::open(&source, &path, &branch)
                    .await
                    .map_err(|e| CosError::invalid(e.to_string()))?,
            )
        } else {
            None
        };
        let ws = Workspace {
            source,
            app,
            worktree,
        };
        // In progress before anything runs: a second pass cannot pick it.
        let file = self.inner.queues.file(kind);
        let marked = file
            .edit(|doc| doc.update(&task.id, |t| t.status = Status::InProgress))
            .await;
        if !matches!(marked, Ok(true)) {
            self.close_worktree(&ws, &task).await;
            return Err(CosError::Io(format!(
                "task {} could not be marked in progress",
                task.id
            )));
        }
        let book = core.book.get(&task.id).cloned().unwrap_or_default();
        let retry = book.last_error_category.as_ref().map(|c| {
            format!(
                "Attempt {} of this task failed ({c}). Look for what went wrong before repeating it.",
                book.failure_count
            )
        });
        let vars = agent::briefing_vars(&task, kind, &ws, retry.as_deref());
        let dir = agent_dir(self.data_dir(), &id);
        let prompt = portos_ai::prompts::build(ai, agent::BRIEFING, &vars).await;
        let started = match prompt {
            Ok(prompt) => {
                let _ = std::fs::create_dir_all(&dir);
                let _ = portos_store::write_atomic(&dir.join("prompt.txt"), prompt.as_bytes());
                let cli = choice.provider.kind == portos_store::types::ProviderKind::Cli;
                let extra_args = match (&choice.model, cli && choice.provider.id != "codex") {
                    (Some(m), true) => vec!["--model".to_string(), m.clone()],
                    _ => Vec::new(),
                };
                runs::create(
                    ai,
                    NewRun {
                        provider_id: choice.provider.id.clone(),
                        model: choice.model.clone(),
                        prompt,
                        workspace_path: Some(ws.path().display().to_string()),
                        workspace_name: ws.app.clone(),
                        timeout_ms: Some(cfg.agent_timeout_ms),
                        source: Some("cos-agent".into()),
                        extra_args,
                        ..NewRun::default()
                    },
                )
                .await
            }
            Err(e) => Err(e),
        };
        let run = match started {
            Ok(run) => run,
            Err(e) => {
                // Never started: the task goes back as it was, the attempt counted.
                let why = e.to_string();
                let _ = file
                    .edit(|doc| doc.update(&task.id, |t| t.status = Status::Pending))
                    .await;
                self.close_worktree(&ws, &task).await;
                let b = core.book.entry(task.id.clone()).or_default();
                b.failure_count += 1;
                b.last_error_category = Some("spawn-error".into());
                b.retry_after_ms = Some(
                    portos_core::time::now_ms()
                        + agent::backoff_ms(cfg.retry_backoff_ms, b.failure_count),
                );
                self.save_book(core).await;
                return Err(CosError::Io(format!(
                    "the agent's run did not start (tried again later): {why}"
                )));
            }
        };
        let run_id = run["id"].as_str().unwrap_or_default().to_string();
        let wt = ws.worktree.as_ref();
        let metadata = json!({
            "taskDescription": task.description,
            "taskType": kind.task_type(),
            "taskKind": kind.task_type(),
            "learningType": task_type,
            "priority": task.priority.as_str(),
            "providerId": choice.provider.id,
            "model": choice.model,
            "modelTier": choice.tier,
            "modelReason": choice.reason,
            "runId": run_id,
            "phase": "working",
            "lane": lane,
            "project": project,
            "taskApp": ws.app,
            "workspacePath": ws.path().display().to_string(),
            "sourceWorkspace": ws.source.display().to_string(),
            "isWorktree": wt.is_some(),
            "worktreeBranch": wt.map(|w| w.branch.clone()),
            "retries": book.failure_count,
        });
        let record = Agent {
            id: id.clone(),
            task_id: task.id.clone(),
            status: "running".into(),
            started_at: portos_core::time::now_iso(),
            metadata: metadata.as_object().cloned().unwrap_or_default(),
            ..Agent::default()
        };
        core.state.agents.insert(id.clone(), record.clone());
        core.state.stats.agents_spawned += 1;
        self.save(core).await;
        self.emit(
            "agent:spawned",
            serde_json::to_value(&record).unwrap_or_default(),
        );
        self.log(
            "info",
            format!(
                "Agent {id} started on {} with {} ({}: {})",
                task.id,
                choice.provider.id,
                choice.model.as_deref().unwrap_or("default model"),
                choice.reason
            ),
        );
        tokio::spawn(self.clone().follow(id.clone(), run_id, 0));
        Ok(id)
    }

    /// Follows an agent's run from `from` bytes to its end, then ends it.
    pub(crate) async fn follow(self, id: String, run_id: String, from: usize) {
        let ai = &self.inner.ai;
        let path = agent_dir(self.data_dir(), &id).join("output.txt");
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .ok();
        if let Ok(mut rx) = runs::follow(ai, &run_id, from, true).await {
            while let Some(piece) = rx.recv().await {
                if let Some(f) = out.as_mut() {
                    let _ = f.write_all(piece.as_bytes());
                }
                self.emit("agent:output", json!({"agentId": id, "line": piece}));
            }
        }
        let run = runs::finished(ai, &run_id).await.unwrap_or_else(|e| {
            json!({"success": false, "lost": true, "error": format!("the agent's run is gone: {e}")})
        });
        let output = runs::output(ai, &run_id).await.unwrap_or_default();
        self.finish(&id, &run, &output).await;
    }

    async fn close_worktree(&self, ws: &Workspace, task: &Task) -> Option<Value> {
        let wt = ws.worktree.as_ref()?;
        let title = task.description.lines().next().unwrap_or_default();
        let message = format!("cos: {}: {title}", task.id);
        Some(
            match portos_git::worktree::close(wt, &message, AUTHOR).await {
                Ok(committed) => json!({"branch": wt.branch, "committed": committed}),
                Err(e) => json!({"branch": wt.branch, "committed": false, "error": e.to_string()}),
            },
        )
    }

    /// Ends agent `id` once: a second call (a restart racing an end) does nothing.
    pub(crate) async fn finish(&self, id: &str, run: &Value, output: &str) {
        let mut core = self.inner.core.lock().await;
        let Some(agent) = core
            .state
            .agents
            .get(id)
            .filter(|a| a.is_running())
            .cloned()
        else {
            return;
        };
        let cfg = core.state.config.clone();
        let terminated = agent.kept.get("terminating") == Some(&json!(true));
        let verdict = if terminated {
            Verdict::Blocked("Agent terminated by user".into())
        } else {
            agent::judge(run, output)
        };
        let kind = Kind::parse(agent.meta("taskKind").unwrap_or("user")).unwrap_or(Kind::User);
        let task = self
            .inner
            .queues
            .file(kind)
            .read()
            .await
            .ok()
            .and_then(|(d, _, _)| d.get(&agent.task_id).cloned())
            .unwrap_or_else(|| {
                Task::new(
                    agent.task_id.clone(),
                    crate::tasks::Priority::Medium,
                    String::new(),
                )
            });
        let ws = Workspace {
            source: agent.meta("sourceWorkspace").unwrap_or_default().into(),
            app: None,
            worktree: agent
                .meta("worktreeBranch")
                .map(|b| portos_git::worktree::Worktree {
                    repo: agent.meta("sourceWorkspace").unwrap_or_default().into(),
                    path: agent.meta("workspacePath").unwrap_or_default().into(),
                    branch: b.to_string(),
                }),
        };
        let branch = self.close_worktree(&ws, &task).await;
        let now = portos_core::time::now_iso();
        let book = core.book.entry(agent.task_id.clone()).or_default();
        let (status, blocked, outcome): (Status, Option<String>, &str) = match &verdict {
            Verdict::Completed => (Status::Completed, None, "succeeded"),
            Verdict::Blocked(why) => (Status::Blocked, Some(why.clone()), "failed"),
            Verdict::Lost(why) => {
                book.orphan_retry_count += 1;
                if book.orphan_retry_count > cfg.max_orphan_retries {
                    (
                        Status::Blocked,
                        Some(format!(
                            "its agent was lost {} times: {why}",
                            book.orphan_retry_count
                        )),
                        "lost",
                    )
                } else {
                    (Status::Pending, None, "lost")
                }
            }
            Verdict::Failed {
                reason,
                category,
                actionable,
            } => {
                book.failure_count += 1;
                book.last_failure_at = Some(now.clone());
                book.last_error_category = category.clone().or_else(|| Some("unknown".into()));
                if *actionable || book.failure_count >= cfg.max_retries {
                    let n = book.failure_count;
                    (
                        Status::Blocked,
                        Some(format!(
                            "failed {n} time{}: {reason}",
                            if n == 1 { "" } else { "s" }
                        )),
                        "failed",
                    )
                } else {
                    book.retry_after_ms = Some(
                        portos_core::time::now_ms()
                            + agent::backoff_ms(cfg.retry_backoff_ms, book.failure_count),
                    );
                    (Status::Pending, None, "failed")
                }
            }
        };
        let retries = book.failure_count;
        if status == Status::Completed {
            core.book.remove(&agent.task_id);
        }
        let edited = self
            .inner
            .queues
            .file(kind)
            .edit(|doc| {
                doc.update(&agent.task_id, |t| {
                    t.status = status;
                    match &blocked {
                        Some(why) => {
                            t.metadata.insert("blockedReason".into(), json!(why));
                            t.metadata.insert("blockedAt".into(), json!(now));
                        }
                        None => {
                            t.metadata.remove("blockedReason");
                            t.metadata.remove("blockedAt");
                        }
                    }
                    if status == Status::Completed {
                        t.metadata.insert("completedAt".into(), json!(now));
                    }
                    if let Some(b) = branch.as_ref().and_then(|b| b["branch"].as_str()) {
                        t.metadata.insert("branch".into(), json!(b));
                    }
                })
            })
            .await;
        if let Err(e) = edited {
            self.log("error", format!("task {} not updated: {e}", agent.task_id));
        }
        let duration = run["duration"].as_u64().unwrap_or(0);
        let lost = matches!(verdict, Verdict::Lost(_));
        let mut result = json!({
            "success": verdict == Verdict::Completed,
            "exitCode": run["exitCode"],
            "duration": duration,
            "outputLength": output.len(),
            "errorAnalysis": run["errorAnalysis"],
            "verdict": match &verdict {
                Verdict::Completed => "completed".to_string(),
                Verdict::Blocked(w) => format!("blocked: {w}"),
                Verdict::Failed { reason, .. } => format!("failed: {reason}"),
                Verdict::Lost(w) => format!("lost: {w}"),
            },
        });
        if lost {
            result["orphaned"] = json!(true);
            result["lost"] = json!(true);
        }
        if let Some(b) = branch {
            result["worktree"] = b;
        }
        let record = {
            let Some(a) = core.state.agents.get_mut(id) else {
                return;
            };
            a.status = if lost { "lost" } else { "completed" }.into();
            a.completed_at = Some(now.clone());
            a.result = Some(result);
            a.kept.remove("terminating");
            a.clone()
        };
        if verdict == Verdict::Completed {
            core.state.stats.tasks_completed += 1;
        } else {
            core.state.stats.errors += 1;
        }
        core.state.stats.total_runtime += duration;
        core.learning.record(Record {
            agent_id: id.to_string(),
            task_id: agent.task_id.clone(),
            task_type: agent
                .meta("learningType")
                .unwrap_or("user-task")
                .to_string(),
            provider_id: agent.meta("providerId").unwrap_or_default().to_string(),
            model: agent.meta("model").map(str::to_string),
            model_tier: agent.meta("modelTier").unwrap_or("unknown").to_string(),
            duration_ms: duration,
            outcome: outcome.to_string(),
            retries,
            error_category: run["errorCategory"].as_str().map(str::to_string),
            recorded_at: now,
        });
        let dir = agent_dir(self.data_dir(), id);
        let _ = std::fs::create_dir_all(&dir);
        if let Err(e) = portos_store::write_json_file(&dir.join("metadata.json"), &record) {
            tracing::error!(agent = id, error = %e, "agent archive not written");
        }
        self.save(&core).await;
        self.save_book(&core).await;
        if let Err(e) = self.inner.store.save(LEARNING, &core.learning).await {
            tracing::error!(error = %e, "cos/learning.json not written");
        }
        drop(core);
        let data = serde_json::to_value(&record).unwrap_or_default();
        self.emit("agent:completed", data.clone());
        self.emit("agent:updated", data);
        self.log(
            "info",
            format!(
                "Agent {id} ended: {}",
                record
                    .result
                    .as_ref()
                    .map_or("", |r| r["verdict"].as_str().unwrap_or(""))
            ),
        );
        if let Err(e) = self.generate_report(None).await {
            tracing::warn!(error = %e, "the day's report was not written");
        }
        self.wake();
    }

    /// After a restart: the agents left running are followed again (their
    /// run still in flight) or ended as their run ended; a task left in
    /// progress with no agent goes back to pending.
    pub(crate) async fn recover(&self) {
        let agents: Vec<Agent> = {
            let core = self.inner.core.lock().await;
            core.state
                .agents
                .values()
                .filter(|a| a.is_running())
                .cloned()
                .collect()
        };
        for a in &agents {
            let run_id = a.meta("runId").unwrap_or_default().to_string();
            if !run_id.is_empty() && self.inner.ai.run_is_active(&run_id) {
                let from = std::fs::metadata(agent_dir(self.data_dir(), &a.id).join("output.txt"))
                    .map_or(0, |m| m.len() as usize);
                tracing::info!(agent = %a.id, "following an agent started before this api server");
                tokio::spawn(self.clone().follow(a.id.clone(), run_id, from));
                continue;
            }
            let run = match runs::get(&self.inner.ai, &run_id).await {
                Ok(r) if !r["endTime"].is_null() => r,
                _ => {
                    json!({"success": false, "lost": true, "error": "the api server restarted before the agent's run was recorded"})
                }
            };
            let output = runs::output(&self.inner.ai, &run_id)
                .await
                .unwrap_or_default();
            self.finish(&a.id, &run, &output).await;
        }
        let busy: Vec<String> = {
            let core = self.inner.core.lock().await;
            core.state
                .agents
                .values()
                .filter(|a| a.is_running())
                .map(|a| a.task_id.clone())
                .collect()
        };
        for kind in [Kind::User, Kind::Cos] {
            let _ = self
                .inner
                .queues
                .file(kind)
                .edit(|doc| {
                    let stuck: Vec<String> = doc
                        .tasks()
                        .into_iter()
                        .filter(|(t, _)| t.status == Status::InProgress && !busy.contains(&t.id))
                        .map(|(t, _)| t.id)
                        .collect();
                    for id in stuck {
                        doc.update(&id, |t| t.status = Status::Pending);
                    }
                })
                .await;
        }
    }

    /// A task that cannot start as it is (no such app, provider or model):
    /// blocked with the reason until the owner changes it.
    pub(crate) async fn block_unstartable(&self, kind: Kind, id: &str, why: &str) {
        let now = portos_core::time::now_iso();
        let reason = format!("could not start: {why}");
        let _ = self
            .inner
            .queues
            .file(kind)
            .edit(|doc| {
                doc.update(id, |t| {
                    t.status = Status::Blocked;
                    t.metadata.insert("blockedReason".into(), json!(reason));
                    t.metadata.insert("blockedAt".into(), json!(now));
                })
            })
            .await;
        self.log("error", format!("task {id} blocked: {reason}"));
    }

    /// Stops agent `id` (its task is then blocked as terminated by the owner).
    pub async fn terminate(&self, id: &str) -> Result<Value, CosError> {
        let run_id = {
            let mut core = self.inner.core.lock().await;
            let a = core
                .state
                .agents
                .get_mut(id)
                .ok_or_else(|| CosError::not_found("Agent not found"))?;
            if !a.is_running() {
                return Err(CosError::conflict(
                    "AGENT_NOT_RUNNING",
                    format!("agent {id} is not running"),
                ));
            }
            a.kept.insert("terminating".into(), json!(true));
            a.meta("runId").unwrap_or_default().to_string()
        };
        runs::stop(&self.inner.ai, &run_id).await;
        Ok(json!({"success": true, "agentId": id}))
    }
}
