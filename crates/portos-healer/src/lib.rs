//! The healer: the autofixer's domain, without a wire.
//!
//! Owns: the crash rules ([`policy`]: crash loops as well as `errored`,
//! cooldowns, one fix at a time per app, a daily cap), one fix ([`fix`]: the
//! logs, the prompt, a CLI agent through the chief-of-staff runner within a
//! time limit, the restart and the check that the process stays up, the diff),
//! the fix history in the original's format ([`sessions`]) and the settings
//! ([`config`]). It hears the supervisor's events as the edge passes them in
//! ([`Healer::observe`]) and reaches the supervisor through [`Supervision`].
//! Must not depend on: axum, tonic, hyper, tower, `portos-proto` or any service
//! crate (`portos-autofixer` maps it onto gRPC; its UI and the api server on HTTP).

pub mod config;
pub mod fix;
pub mod policy;
pub mod sessions;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use portos_ai::Ai;
use portos_ai::runner::Runner;
use portos_apps::ProcessInfo;
use portos_core::{Kind, NoEvents, Problem, Refuse};
use portos_store::{JsonStore, StoreError};

pub use config::Config;
pub use fix::AppRef;
use policy::Policy;
pub use policy::{Decision, Happened, ProcessEvent, Standing, Trigger};
use sessions::{Begin, End, Sessions};

/// What can go wrong in the healer.
#[derive(Debug, thiserror::Error)]
pub enum HealerError {
    #[error(transparent)]
    Problem(#[from] Problem),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<portos_ai::AiError> for HealerError {
    fn from(e: portos_ai::AiError) -> Self {
        match e {
            portos_ai::AiError::Problem(p) => Self::Problem(p),
            portos_ai::AiError::Store(s) => Self::Store(s),
        }
    }
}

impl HealerError {
    fn unprocessable(message: impl Into<String>) -> Self {
        Self::problem(Kind::Unprocessable, "CANNOT_FIX", message)
    }
}

/// One line of a process's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub stderr: bool,
    pub text: String,
}

/// What the healer needs of the supervisor.
#[async_trait::async_trait]
pub trait Supervision: Send + Sync + std::fmt::Debug {
    async fn processes(&self) -> Result<Vec<ProcessInfo>, Problem>;
    async fn restart(&self, name: &str) -> Result<(), Problem>;
    /// The last `lines` lines of one process, oldest first.
    async fn tail(&self, name: &str, lines: u32) -> Result<Vec<LogLine>, Problem>;
}

/// Something the healer did, for the live stream: `crash:detected`,
/// `fix:held`, `fix:skipped`, `fix:started`, `fix:output`, `fix:finished`,
/// `config:changed`.
#[derive(Debug, Clone, PartialEq)]
pub struct HealerEvent {
    pub kind: &'static str,
    pub data: Value,
    pub at_ms: u64,
}

/// One fix to make.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    session: String,
    process: String,
    app: AppRef,
    trigger: Trigger,
    reason: String,
    detected_ms: u64,
}

/// A fix under way.
#[derive(Debug, Clone)]
struct Running {
    session: String,
    process: String,
    started_ms: u64,
}

pub(crate) struct Inner {
    store: Arc<JsonStore>,
    ai: Ai,
    runner: Arc<dyn Runner>,
    sup: Arc<dyn Supervision>,
    sessions: Sessions,
    policy: Mutex<Policy>,
    config: Mutex<Config>,
    running: Mutex<HashMap<String, Running>>,
    events: broadcast::Sender<HealerEvent>,
    shutdown: CancellationToken,
    tasks: tokio_util::task::TaskTracker,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Healer").finish_non_exhaustive()
    }
}

impl Inner {
    fn emit(&self, kind: &'static str, data: Value) {
        let _ = self.events.send(HealerEvent {
            kind,
            data,
            at_ms: portos_core::time::now_ms(),
        });
    }

    fn config(&self) -> Config {
        self.config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn policy(&self) -> std::sync::MutexGuard<'_, Policy> {
        self.policy.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The healer over one data dir. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Healer {
    inner: Arc<Inner>,
}

impl Healer {
    /// Loads the settings, closes what an earlier autofixer left running (and
    /// stops its agent), and is ready for events.
    pub async fn start(
        store: Arc<JsonStore>,
        runner: Arc<dyn Runner>,
        sup: Arc<dyn Supervision>,
        shutdown: CancellationToken,
    ) -> Result<Self, HealerError> {
        let config: Config = store.load(config::CONFIG_FILE).await?;
        config.validate()?;
        let sessions = Sessions::new(store.clone());
        for id in sessions.close_interrupted().await? {
            tracing::warn!(session = %id, "closed a fix an earlier autofixer left running");
            let _ = runner.stop(&id).await;
        }
        let ai = Ai::new(store.clone(), runner.clone(), Arc::new(NoEvents));
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                ai,
                runner,
                sup,
                sessions,
                policy: Mutex::default(),
                config: Mutex::new(config),
                running: Mutex::default(),
                events: broadcast::channel(1024).0,
                shutdown,
                tasks: tokio_util::task::TaskTracker::new(),
            }),
        })
    }

    /// The live stream of what the healer does.
    pub fn subscribe(&self) -> broadcast::Receiver<HealerEvent> {
        self.inner.events.subscribe()
    }

    /// One supervisor event: a fix may start (on a task of its own).
    pub async fn observe(&self, ev: ProcessEvent) {
        let cfg = self.inner.config();
        let Some(app) = self.app_of(&cfg, &ev.group, &ev.process).await else {
            return;
        };
        let decision = self.inner.policy().observe(&cfg, &ev, &app.id);
        match decision {
            Decision::Nothing => {}
            Decision::Hold(why) => {
                tracing::info!(process = %ev.process, reason = %why, "crashing, no fix now");
                self.inner
                    .emit("fix:held", json!({ "process": ev.process, "reason": why }));
            }
            Decision::Fix(trigger) => {
                self.inner.emit(
                    "crash:detected",
                    json!({ "process": ev.process, "trigger": trigger.as_str(), "reason": ev.reason, "atMs": ev.at_ms }),
                );
                self.spawn_fix(ev.process, app, trigger, ev.reason, ev.at_ms);
            }
        }
    }

    /// The owner's "fix now": the session id, or why not.
    pub async fn trigger(&self, process: &str) -> Result<String, HealerError> {
        let cfg = self.inner.config();
        let p = self.process(process).await?;
        let app = self
            .app_of(
                &Config {
                    watch_portos: true,
                    ..cfg.clone()
                },
                &p.group,
                &p.name,
            )
            .await
            .ok_or_else(|| {
                HealerError::not_found(format!("{process} belongs to no registered app"))
            })?;
        let now = portos_core::time::now_ms();
        match self.inner.policy().manual(&cfg, process, &app.id, now) {
            Decision::Fix(t) => {
                let reason = p.reason.clone();
                Ok(self.spawn_fix(p.name, app, t, reason, now))
            }
            Decision::Hold(why) => Err(HealerError::conflict("FIX_RUNNING", why)),
            Decision::Nothing => Err(HealerError::internal("no decision")),
        }
    }

    async fn process(&self, name: &str) -> Result<ProcessInfo, HealerError> {
        self.inner
            .sup
            .processes()
            .await?
            .into_iter()
            .find(|p| p.name == name || format!("{}:{}", p.group, p.name) == name)
            .ok_or_else(|| HealerError::not_found(format!("no process {name}")))
    }

    /// The app a process belongs to, when the healer watches it.
    async fn app_of(&self, cfg: &Config, group: &str, process: &str) -> Option<AppRef> {
        let apps = portos_apps::registry::stored(&self.inner.store)
            .await
            .ok()?;
        if group == "portos" {
            if !cfg.watch_portos {
                return None;
            }
            let portos = apps.iter().find(|(id, a)| {
                portos_apps::registry::process_names(id, a)
                    .iter()
                    .any(|n| n == process)
            });
            return Some(match portos {
                Some((id, a)) => app_ref(id, a),
                None => AppRef {
                    id: "portos".into(),
                    name: "PortOS".into(),
                    repo: std::env::current_dir().ok()?.display().to_string(),
                },
            });
        }
        apps.get(group).map(|a| app_ref(group, a))
    }

    /// Starts a fix on a task of its own; its session id.
    fn spawn_fix(
        &self,
        process: String,
        app: AppRef,
        trigger: Trigger,
        reason: String,
        detected_ms: u64,
    ) -> String {
        let now = portos_core::time::now_ms();
        let session = sessions::new_id(&process, now);
        let cancel = self.inner.shutdown.child_token();
        self.inner.running().insert(
            process.clone(),
            Running {
                session: session.clone(),
                process: process.clone(),
                started_ms: now,
            },
        );
        let inner = self.inner.clone();
        let job = Job {
            session: session.clone(),
            process,
            app,
            trigger,
            reason,
            detected_ms,
        };
        self.inner.tasks.spawn(async move {
            let good = fix_one(&inner, &job, &cancel).await;
            inner.running().remove(&job.process);
            let cfg = inner.config();
            let now = portos_core::time::now_ms();
            let (process, app) = (&job.process, &job.app.id);
            match good {
                Some(good) => inner.policy().finished(&cfg, process, app, good, now),
                None => inner.policy().released(process, app),
            }
        });
        session
    }

    /// Waits for every fix under way to end (after the shutdown token fired,
    /// each is stopped and recorded as interrupted).
    pub async fn drain(&self) {
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    /// The healer's state: enabled, the fixes under way, each process it has seen crash.
    pub fn status(&self) -> Value {
        let cfg = self.inner.config();
        let now = portos_core::time::now_ms();
        let fixing: Vec<Value> = self
            .inner
            .running()
            .values()
            .map(|r| json!({ "process": r.process, "sessionId": r.session, "startedMs": r.started_ms }))
            .collect();
        json!({
            "enabled": cfg.enabled,
            "state": if !cfg.enabled { "paused" } else if fixing.is_empty() { "watching" } else { "fixing" },
            "fixing": fixing,
            "processes": self.inner.policy().standings(now),
        })
    }

    pub async fn history(&self) -> Result<Vec<Value>, HealerError> {
        self.inner.sessions.index().await
    }

    pub async fn session(&self, id: &str) -> Result<Value, HealerError> {
        self.inner.sessions.get(id).await
    }

    pub fn config(&self) -> Config {
        self.inner.config()
    }

    /// Replaces the settings (validated whole) and keeps them.
    pub async fn set_config(&self, v: Value) -> Result<Config, HealerError> {
        let c = Config::from_json(v)?;
        self.save(c).await
    }

    /// Pause (no fix starts by itself) or resume; kept across restarts.
    pub async fn set_enabled(&self, enabled: bool) -> Result<Config, HealerError> {
        let c = Config {
            enabled,
            ..self.inner.config()
        };
        self.save(c).await
    }

    async fn save(&self, c: Config) -> Result<Config, HealerError> {
        self.inner.store.save(config::CONFIG_FILE, &c).await?;
        *self.inner.config.lock().unwrap_or_else(|e| e.into_inner()) = c.clone();
        self.inner.emit(
            "config:changed",
            serde_json::to_value(&c).unwrap_or(Value::Null),
        );
        Ok(c)
    }
}

fn app_ref(id: &str, a: &Value) -> AppRef {
    AppRef {
        id: id.to_string(),
        name: a["name"].as_str().unwrap_or(id).to_string(),
        repo: a["repoPath"].as_str().unwrap_or_default().to_string(),
    }
}

/// One fix from start to recorded end: `Some(good)` when it ran, `None` when
/// it never started (nothing to count against the process).
async fn fix_one(inner: &Inner, job: &Job, cancel: &CancellationToken) -> Option<bool> {
    let Job {
        session,
        process,
        app,
        trigger,
        reason,
        detected_ms,
    } = job;
    let (session, process, trigger, detected_ms) =
        (session.as_str(), process.as_str(), *trigger, *detected_ms);
    let cfg = inner.config();
    let skip = |why: String| {
        tracing::info!(process, reason = %why, "no fix");
        inner.emit("fix:skipped", json!({ "process": process, "reason": why }));
        None
    };
    let p = match inner.sup.processes().await {
        Ok(list) => match list.into_iter().find(|p| p.name == process) {
            Some(p) => p,
            None => return skip(format!("{process} is no longer supervised")),
        },
        Err(e) => return skip(format!("the supervisor did not answer: {e}")),
    };
    if trigger != Trigger::Manual
        && p.state == portos_apps::ProcessState::Healthy
        && p.uptime_ms >= p.min_uptime_ms.max(1)
    {
        return skip(format!("{process} healed itself before the fix started"));
    }
    if app.repo.is_empty() || !std::path::Path::new(&app.repo).is_dir() {
        return skip(format!("the app {} has no folder to fix in", app.name));
    }
    let provider = match fix::fixer(inner, &cfg).await {
        Ok(p) => p,
        Err(e) => return skip(e.to_string()),
    };
    let prompt = match fix::prompt(inner, &cfg, &p, app, trigger.as_str()).await {
        Ok(t) => t,
        Err(e) => return skip(format!("could not write the briefing: {e}")),
    };
    let started = portos_core::time::now_ms();
    let begin = Begin {
        process: process.to_string(),
        app_id: app.id.clone(),
        app_name: app.name.clone(),
        repo_path: app.repo.clone(),
        prompt: prompt.clone(),
        trigger: trigger.as_str().to_string(),
        provider: provider.id.clone(),
        detected_ms,
    };
    if let Err(e) = inner.sessions.begin(session, &begin, started).await {
        return skip(format!("could not record the session: {e}"));
    }
    tracing::info!(
        process,
        session,
        trigger = trigger.as_str(),
        reason,
        "fix started"
    );
    inner.emit(
        "fix:started",
        json!({ "process": process, "sessionId": session, "app": app.id, "trigger": trigger.as_str(),
                "detectedMs": detected_ms, "startedMs": started }),
    );
    let end: End = fix::run(inner, &cfg, job, &provider, &prompt, cancel).await;
    let good = end.success;
    match inner
        .sessions
        .finish(session, &end, portos_core::time::now_ms())
        .await
    {
        Ok(_) => {}
        Err(e) => tracing::error!(session, error = %e, "could not record the end of a fix"),
    }
    tracing::info!(process, session, success = good, verdict = %end.verdict, "fix ended");
    inner.emit(
        "fix:finished",
        json!({ "process": process, "sessionId": session, "success": good, "status": end.status,
                "verdict": end.verdict, "diffStat": end.diff_stat }),
    );
    Some(good)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portos_ai::runner::{AgentEnd, Output, RunnerError, Spawn};

    /// A runner that must not be asked: the process healed itself first.
    #[derive(Debug)]
    struct NoRunner;

    #[async_trait::async_trait]
    impl Runner for NoRunner {
        async fn spawn(&self, _: Spawn) -> Result<(), RunnerError> {
            panic!("an agent was spawned for a process that healed itself")
        }
        async fn follow(&self, _: &str) -> Result<Output, RunnerError> {
            Err(RunnerError::Failed("none".into()))
        }
        async fn stop(&self, _: &str) -> Result<(), RunnerError> {
            Ok(())
        }
        async fn get(&self, _: &str) -> Result<AgentEnd, RunnerError> {
            Err(RunnerError::Failed("none".into()))
        }
    }

    /// A supervisor whose one process is healthy again, up past its `min_uptime`.
    #[derive(Debug)]
    struct Healed;

    #[async_trait::async_trait]
    impl Supervision for Healed {
        async fn processes(&self) -> Result<Vec<ProcessInfo>, Problem> {
            Ok(vec![ProcessInfo {
                name: "web".into(),
                group: "app".into(),
                state: portos_apps::ProcessState::Healthy,
                pid: 42,
                cpu_percent: 0.0,
                memory_bytes: 0,
                uptime_ms: 5_000,
                restarts: 3,
                reason: String::new(),
                ports: Vec::new(),
                min_uptime_ms: 1_000,
                command: "python3 server.py".into(),
            }])
        }
        async fn restart(&self, _: &str) -> Result<(), Problem> {
            panic!("a process that healed itself was restarted")
        }
        async fn tail(&self, _: &str, _: u32) -> Result<Vec<LogLine>, Problem> {
            Ok(Vec::new())
        }
    }

    #[tokio::test]
    async fn a_process_that_heals_itself_before_the_fix_starts_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("app");
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::write(
            dir.path().join("apps.json"),
            json!({ "apps": { "app": { "name": "App", "repoPath": repo } } }).to_string(),
        )
        .unwrap();
        let store = Arc::new(JsonStore::new(dir.path()));
        let healer = Healer::start(
            store,
            Arc::new(NoRunner),
            Arc::new(Healed),
            CancellationToken::new(),
        )
        .await
        .unwrap();
        let mut events = healer.subscribe();
        let now = portos_core::time::now_ms();
        for at_ms in [now - 2_000, now - 1_000, now] {
            healer
                .observe(ProcessEvent {
                    process: "web".into(),
                    group: "app".into(),
                    happened: Happened::Exited {
                        code: Some(1),
                        signal: None,
                    },
                    at_ms,
                    reason: "exited with code 1".into(),
                })
                .await;
        }
        let skipped = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            loop {
                let e = events.recv().await.unwrap();
                if e.kind == "fix:skipped" {
                    return e;
                }
            }
        })
        .await
        .expect("the fix was skipped");
        assert!(
            skipped.data["reason"]
                .as_str()
                .unwrap()
                .contains("healed itself"),
            "{skipped:?}"
        );
        healer.drain().await;
        // Nothing recorded, nothing counted against the process.
        assert!(healer.history().await.unwrap().is_empty());
        let status = healer.status();
        assert_eq!(status["processes"][0]["attemptsToday"], 0, "{status}");
        assert_eq!(status["processes"][0]["state"], "watching", "{status}");
    }
}
