//! The orchestrator: one owner of the queues' progress, the lanes and the
//! agent table. Everything that starts or ends an agent takes the one lock
//! of [`Core`], so "reserve a slot → mark the task in progress → spawn" is
//! one step and an agent's end is recorded once. It evaluates on every event
//! (a task added or edited, an agent finished, approve, resume, a hand edit
//! of a task file) and every `evaluationIntervalMs`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use portos_ai::Ai;
use portos_core::Events;
use portos_store::JsonStore;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::CosError;
use crate::learning::{LEARNING, Learning};
use crate::state::{BOOK, STATE, State, TaskBook};
use crate::tasks::{Approval, Kind, Priority, Queues, Status, Task};

/// The live channel of the CoS's events.
pub const CHANNEL: &str = "cos";

/// What the lock guards.
#[derive(Debug, Default)]
pub(crate) struct Core {
    pub state: State,
    pub book: HashMap<String, TaskBook>,
    pub learning: Learning,
    /// The tasks of each file as last seen (id → status), for the watcher's diff.
    pub seen: HashMap<Kind, Vec<(String, Status, String)>>,
}

pub(crate) struct Inner {
    pub ai: Ai,
    pub apps: portos_apps::Apps,
    pub store: Arc<JsonStore>,
    pub data_dir: PathBuf,
    pub queues: Queues,
    pub core: Mutex<Core>,
    pub events: Arc<dyn Events>,
    pub wake: Notify,
    pub shutdown: CancellationToken,
    watch: std::sync::Mutex<Option<crate::tasks::watch::FileWatch>>,
}

/// The chief of staff of one data dir. Cheap to clone.
#[derive(Clone)]
pub struct Cos {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Cos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cos").finish_non_exhaustive()
    }
}

/// A task's lane: CRITICAL, HIGH/MEDIUM, LOW.
fn lane_of(p: Priority) -> usize {
    match p {
        Priority::Critical => 0,
        Priority::High | Priority::Medium => 1,
        Priority::Low => 2,
    }
}

impl Cos {
    /// The CoS over `ai`'s data dir; nothing runs until [`Cos::boot`].
    pub fn new(ai: Ai, apps: portos_apps::Apps, events: Arc<dyn Events>) -> Self {
        let store = ai.store.clone();
        let data_dir = store.root().to_path_buf();
        Cos {
            inner: Arc::new(Inner {
                queues: Queues::new(&data_dir),
                ai,
                apps,
                store,
                data_dir,
                core: Mutex::new(Core::default()),
                events,
                wake: Notify::new(),
                shutdown: CancellationToken::new(),
                watch: std::sync::Mutex::new(None),
            }),
        }
    }

    pub(crate) fn emit(&self, event: &str, data: Value) {
        self.inner
            .events
            .publish(CHANNEL, &format!("cos:{event}"), &data);
    }

    pub(crate) fn log(&self, level: &str, message: impl Into<String>) {
        let message = message.into();
        tracing::info!(target: "cos", "{message}");
        self.emit(
            "log",
            json!({"level": level, "message": message, "timestamp": portos_core::time::now_iso()}),
        );
    }

    /// Loads the state, installs the briefing stage where missing, takes
    /// back the agents a previous api server left running, and runs the
    /// evaluation loop until `shutdown`. Starts the CoS when the config
    /// says so. Call after the AI runs are resumed.
    pub async fn boot(self, shutdown: CancellationToken) {
        if let Err(e) = crate::agent::install_stage(&self.inner.ai).await {
            tracing::warn!(error = %e, "the CoS briefing stage was not installed");
        }
        match self.load().await {
            Ok(()) => {}
            Err(e) => {
                tracing::error!(error = %e, "the CoS state did not load; the CoS stays stopped");
                return;
            }
        }
        self.recover().await;
        let (start, running) = {
            let core = self.inner.core.lock().await;
            (core.state.config.starts_at_boot(), core.state.running)
        };
        if (start || running)
            && let Err(e) = self.start().await
        {
            tracing::warn!(error = %e, "the CoS did not start");
        }
        let child = self.inner.shutdown.clone();
        tokio::select! {
            () = self.clone().evaluate_loop() => {}
            () = self.clone().health_loop() => {}
            () = shutdown.cancelled() => child.cancel(),
        }
    }

    /// A health check every `healthCheckIntervalMs` while the CoS runs.
    async fn health_loop(self) {
        loop {
            let (every, running) = {
                let core = self.inner.core.lock().await;
                (
                    core.state.config.health_check_interval_ms.max(10_000),
                    core.state.running,
                )
            };
            if running {
                self.health_check_now().await;
            }
            tokio::time::sleep(Duration::from_millis(every)).await;
        }
    }

    /// `POST /api/cos/health/check`.
    pub async fn health_check_now(&self) -> Value {
        let processes = self.inner.apps.supervisor.list().await.unwrap_or_default();
        self.check_health(&processes).await
    }

    async fn load(&self) -> Result<(), CosError> {
        let state = match self.inner.store.load::<State>(STATE).await {
            Ok(s) => s,
            Err(e) => {
                // Kept as it is for the owner; the CoS runs on defaults.
                let path = self.inner.store.path(STATE);
                let copy =
                    path.with_extension(format!("json.corrupted.{}", portos_core::time::now_ms()));
                let _ = std::fs::copy(&path, &copy);
                tracing::error!(error = %e, copy = %copy.display(), "cos/state.json does not parse; kept a copy, using defaults");
                State::default()
            }
        };
        let book = self.inner.store.load(BOOK).await.unwrap_or_default();
        let learning = self.inner.store.load(LEARNING).await.unwrap_or_default();
        let mut core = self.inner.core.lock().await;
        core.state = state;
        core.book = book;
        core.learning = learning;
        Ok(())
    }

    pub(crate) async fn save(&self, core: &Core) {
        if let Err(e) = self.inner.store.save(STATE, &core.state).await {
            tracing::error!(error = %e, "cos/state.json not written");
        }
    }

    pub(crate) async fn save_book(&self, core: &Core) {
        if let Err(e) = self.inner.store.save(BOOK, &core.book).await {
            tracing::error!(error = %e, "cos/task-book.json not written");
        }
    }

    /// Starts dequeuing (and the file watcher); the original's answer,
    /// `success: false` when it already ran.
    pub async fn start(&self) -> Result<Value, CosError> {
        let was = {
            let mut core = self.inner.core.lock().await;
            let was = core.state.running;
            core.state.running = true;
            self.save(&core).await;
            was
        };
        self.start_watcher();
        self.refresh_seen().await;
        self.emit("status", json!({"running": true}));
        self.log("info", "Chief of Staff started");
        self.inner.wake.notify_one();
        Ok(if was {
            json!({"success": false, "error": "Already running"})
        } else {
            json!({"success": true, "running": true})
        })
    }

    /// Stops dequeuing; running agents go on and are recorded when they end.
    /// The original's answer, `success: false` when it was not running.
    pub async fn stop(&self) -> Value {
        let was = {
            let mut core = self.inner.core.lock().await;
            let was = core.state.running;
            core.state.running = false;
            self.save(&core).await;
            was
        };
        self.inner
            .watch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        self.emit("status", json!({"running": false}));
        self.emit("watcher:stopped", json!({}));
        if was {
            json!({"success": true, "running": false})
        } else {
            json!({"success": false, "error": "Not running"})
        }
    }

    pub async fn pause(&self, reason: Option<String>) -> Value {
        let mut core = self.inner.core.lock().await;
        core.state.paused = true;
        core.state.paused_at = Some(portos_core::time::now_iso());
        core.state.pause_reason = reason;
        self.save(&core).await;
        self.emit(
            "status",
            json!({"running": core.state.running, "paused": true}),
        );
        json!({"success": true, "paused": true, "pausedAt": core.state.paused_at, "pauseReason": core.state.pause_reason})
    }

    pub async fn resume(&self) -> Value {
        let mut core = self.inner.core.lock().await;
        core.state.paused = false;
        core.state.paused_at = None;
        core.state.pause_reason = None;
        self.save(&core).await;
        self.emit(
            "status",
            json!({"running": core.state.running, "paused": false}),
        );
        self.inner.wake.notify_one();
        json!({"success": true, "paused": false})
    }

    /// Asks for an evaluation now.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    fn start_watcher(&self) {
        let mut slot = self.inner.watch.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return;
        }
        let (tx, mut rx) = mpsc::channel(16);
        match crate::tasks::watch::watch(&self.inner.data_dir, tx) {
            Ok(w) => {
                *slot = Some(w);
                self.emit("watcher:started", json!({}));
            }
            Err(e) => {
                tracing::warn!(error = %e, "the task files are not watched");
                return;
            }
        }
        let me = self.clone();
        tokio::spawn(async move {
            while let Some(kind) = rx.recv().await {
                me.file_changed(kind).await;
            }
        });
    }

    async fn snapshot(&self, kind: Kind) -> Option<Vec<(String, Status, String)>> {
        let (doc, _, _) = self.inner.queues.file(kind).read().await.ok()?;
        Some(
            doc.tasks()
                .into_iter()
                .map(|(t, _)| (t.id, t.status, t.description))
                .collect(),
        )
    }

    async fn refresh_seen(&self) {
        for kind in [Kind::User, Kind::Cos] {
            if let Some(s) = self.snapshot(kind).await {
                self.inner.core.lock().await.seen.insert(kind, s);
            }
        }
    }

    /// A task file changed (by hand, or by the CoS): the differences become
    /// `cos:tasks:*` events, and anything new to do an evaluation.
    async fn file_changed(&self, kind: Kind) {
        let Some(now) = self.snapshot(kind).await else {
            return;
        };
        let before = {
            let mut core = self.inner.core.lock().await;
            core.seen.insert(kind, now.clone()).unwrap_or_default()
        };
        if before == now {
            return;
        }
        let name = match kind {
            Kind::User => "user",
            Kind::Cos => "cos",
        };
        let old: HashMap<&str, Status> = before.iter().map(|(i, s, _)| (i.as_str(), *s)).collect();
        if kind == Kind::User {
            let view = |id: &str, status: Status, description: &str| json!({"id": id, "status": status.as_str(), "description": description});
            let added: Vec<Value> = now
                .iter()
                .filter(|(id, _, _)| !old.contains_key(id.as_str()))
                .map(|(id, s, d)| view(id, *s, d))
                .collect();
            let completed: Vec<Value> = now
                .iter()
                .filter(|(id, s, _)| {
                    *s == Status::Completed
                        && old
                            .get(id.as_str())
                            .is_some_and(|o| *o != Status::Completed)
                })
                .map(|(id, s, d)| view(id, *s, d))
                .collect();
            if !added.is_empty() {
                self.emit("tasks:user:added", json!({"tasks": added}));
            }
            if !completed.is_empty() {
                self.emit("tasks:user:completed", json!({"tasks": completed}));
            }
        }
        self.emit(
            &format!("tasks:{name}:changed"),
            json!({"count": now.len(), "pending": now.iter().filter(|t| t.1 == Status::Pending).count()}),
        );
        self.inner.wake.notify_one();
    }

    async fn evaluate_loop(self) {
        loop {
            let interval = {
                let core = self.inner.core.lock().await;
                Duration::from_millis(core.state.config.evaluation_interval_ms.max(1000))
            };
            tokio::select! {
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(interval) => {}
                () = self.inner.shutdown.cancelled() => return,
            }
            self.evaluate().await;
        }
    }

    /// One pass of the selector: pending owner tasks in file order, then the
    /// CoS's own approved ones, each started while a slot, its lane and its
    /// project have room. Tasks waiting out a retry's backoff are passed over.
    pub async fn evaluate(&self) -> Value {
        let mut core = self.inner.core.lock().await;
        if !core.state.running {
            return json!({"success": false, "error": "Chief of Staff is not running"});
        }
        if core.state.paused {
            return json!({"success": false, "error": "Chief of Staff is paused"});
        }
        core.state.stats.last_evaluation = Some(portos_core::time::now_iso());
        let cfg = core.state.config.clone();
        let mut candidates: Vec<(Kind, Task)> = Vec::new();
        for kind in [Kind::User, Kind::Cos] {
            match self.inner.queues.file(kind).read().await {
                Ok((doc, _, _)) => candidates.extend(
                    doc.tasks()
                        .into_iter()
                        .map(|(t, _)| t)
                        .filter(|t| t.status == Status::Pending)
                        .filter(|t| kind == Kind::User || t.approval != Some(Approval::Required))
                        .map(|t| (kind, t)),
                ),
                Err(e) => self.log("error", format!("{} not read: {e}", kind.file_name())),
            }
        }
        let now = portos_core::time::now_ms();
        let mut started = Vec::new();
        let mut waiting = 0;
        for (kind, task) in candidates {
            let running: Vec<&crate::state::Agent> = core
                .state
                .agents
                .values()
                .filter(|a| a.is_running())
                .collect();
            if running.len() >= cfg.max_concurrent_agents {
                break;
            }
            if running.iter().any(|a| a.task_id == task.id) {
                continue;
            }
            if core
                .book
                .get(&task.id)
                .and_then(|b| b.retry_after_ms)
                .is_some_and(|t| t > now)
            {
                waiting += 1;
                continue;
            }
            let lane = lane_of(task.priority);
            let limit = [cfg.lanes.critical, cfg.lanes.standard, cfg.lanes.background][lane];
            let in_lane = running
                .iter()
                .filter(|a| a.metadata.get("lane").and_then(Value::as_u64) == Some(lane as u64))
                .count();
            if in_lane >= limit {
                continue;
            }
            let project = task.meta_str("app").unwrap_or_else(|| "_self".into());
            let in_project = running
                .iter()
                .filter(|a| a.meta("project") == Some(project.as_str()))
                .count();
            if in_project >= cfg.max_concurrent_agents_per_project {
                continue;
            }
            self.emit(
                "task:ready",
                json!({"id": task.id, "description": task.description}),
            );
            let task_id = task.id.clone();
            match self.spawn(&mut core, kind, task, lane, project).await {
                Ok(id) => started.push(id),
                Err(CosError::Problem(p)) => {
                    self.block_unstartable(kind, &task_id, &p.message).await;
                }
                Err(e) => self.log("error", format!("agent not started: {e}")),
            }
        }
        self.save(&core).await;
        let message = match (started.len(), waiting) {
            (0, 0) => "Nothing to start".to_string(),
            (0, w) => format!("{w} tasks wait for their retry"),
            (n, _) => format!("Started {n} agents"),
        };
        let out = json!({"success": true, "message": message, "started": started, "waitingForRetry": waiting});
        self.emit("evaluation", out.clone());
        out
    }

    pub(crate) fn data_dir(&self) -> &std::path::Path {
        &self.inner.data_dir
    }
}
