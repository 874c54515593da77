//! The chief-of-staff runner (127.0.0.1:5558): it runs AI agent processes for
//! the api server, so that a restart of the api server never cuts a run.
//!
//! Owns: agents (spawn without a shell, optionally in a pseudo-terminal, each
//! in a process group of its own; output appended to
//! `data/cos/agents/<id>/output.txt` as it comes and broadcast to followers;
//! stop = SIGTERM to the group, SIGKILL after a grace period), the state file
//! `data/cos/runner-state.json` (the original's shape), and recovery: at start,
//! every agent the file says is running is ended (its whole group) and marked
//! `lost` with the reason, so none is silently forgotten and none is left behind.
//! `shell/` owns the web shell's terminal sessions (a shell in a
//! pseudo-terminal per session, owned by one login, its screen kept here so a
//! reloaded page or a second device attaches to what is there).
//! `grpc.rs` and `shell_grpc.rs` are the wire (`portos.runner.v1`).
//! Must not depend on: the supervisor, the api server or any other service crate.

pub mod grpc;
mod output;
pub mod shell;
mod shell_grpc;
pub mod state;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use portos_store::JsonStore;
use serde_json::{Map, Value, json};
use tokio::sync::{broadcast, watch};

pub use output::{Chunk, StreamKind};
use state::{AgentRecord, Phase, RunnerState, STATE_FILE};

/// Between SIGTERM and SIGKILL when a stop names none.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
/// How long output still flowing after the agent ended (a grandchild holding
/// the pipe) is waited for before the agent is recorded as ended.
const OUTPUT_DRAIN: Duration = Duration::from_secs(2);

/// What can go wrong, each with the gRPC status it becomes in `grpc.rs`.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("{0}")]
    Invalid(String),
    #[error("no agent {0:?}")]
    NotFound(String),
    #[error("agent {0:?} is running")]
    Running(String),
    #[error("cannot start {command:?}: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] portos_store::StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What a caller asks to run.
#[derive(Debug, Clone, Default)]
pub struct SpawnSpec {
    pub id: String,
    pub task_id: Option<String>,
    pub command: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    pub stdin: String,
    pub pty: bool,
}

/// An agent starting or ending.
#[derive(Debug, Clone)]
pub struct AgentEvent {
    pub kind: &'static str,
    pub id: String,
    pub record: AgentRecord,
}

/// A running agent, as the runner holds it.
struct Live {
    pid: u32,
    /// Set by the first stop: why the agent was ended.
    stop_reason: Mutex<Option<String>>,
    chunks: broadcast::Sender<Chunk>,
    ended: watch::Receiver<bool>,
}

/// The runner: its data dir, its running agents, its event stream.
pub struct Runner {
    store: JsonStore,
    live: Mutex<HashMap<String, Arc<Live>>>,
    events: broadcast::Sender<AgentEvent>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("data", &self.store.root())
            .finish_non_exhaustive()
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `2026-11-25T10:00:00.000Z` from epoch milliseconds.
pub fn iso(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Live members of process group `pgid` (zombies are already dead) started no
/// earlier than `since` (clock ticks since boot), so a later group that reuses
/// the id is left alone.
fn group_members(pgid: u32, since: Option<u64>) -> Vec<i32> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    all.flatten()
        .filter_map(|p| p.stat().ok())
        .filter(|s| {
            s.pgrp == pgid as i32 && s.state != 'Z' && since.is_none_or(|t| s.starttime >= t)
        })
        .map(|s| s.pid)
        .collect()
}

impl Runner {
    /// The runner over `data_dir`, after recovery: every agent the state file
    /// says is running belongs to a runner that is gone; its group is ended
    /// and it is marked `lost`.
    pub async fn open(data_dir: impl Into<PathBuf>) -> Result<Arc<Self>, RunnerError> {
        let runner = Arc::new(Self {
            store: JsonStore::new(data_dir),
            live: Mutex::default(),
            events: broadcast::channel(256).0,
        });
        runner.recover().await?;
        Ok(runner)
    }

    async fn recover(&self) -> Result<(), RunnerError> {
        let ended = self
            .store
            .update(STATE_FILE, |s: &mut RunnerState| {
                let mut ended = Vec::new();
                for (id, r) in s.agents.iter_mut() {
                    if r.phase != Phase::Running {
                        continue;
                    }
                    let members = r.pid.map(|p| group_members(p, r.start_ticks)).unwrap_or_default();
                    for m in &members {
                        let _ = nix::sys::signal::kill(Pid::from_raw(*m), Signal::SIGKILL);
                    }
                    r.phase = Phase::Lost;
                    r.ended_at = Some(now_ms());
                    r.reason = if members.is_empty() {
                        "the runner restarted while it ran; its processes had already ended".into()
                    } else {
                        format!(
                            "the runner restarted while it ran; {} process(es) of its group were ended",
                            members.len()
                        )
                    };
                    s.stats.completed += 1;
                    s.stats.failed += 1;
                    ended.push((id.clone(), r.clone()));
                }
                // Nothing to record: leave the file as it is.
                if ended.is_empty() { Err(()) } else { Ok(ended) }
            })
            .await?
            .unwrap_or_default();
        for (id, r) in ended {
            tracing::warn!(agent = %id, "{}", r.reason);
            self.write_metadata(&id, &r).await;
        }
        Ok(())
    }

    fn live_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Live>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn agent_dir(&self, id: &str) -> PathBuf {
        self.store.path("cos/agents").join(id)
    }

    /// The agent's output file.
    pub fn output_path(&self, id: &str) -> PathBuf {
        self.agent_dir(id).join("output.txt")
    }

    /// Every agent the runner knows, newest first.
    pub async fn list(&self) -> Result<Vec<(String, AgentRecord)>, RunnerError> {
        let s: RunnerState = self.store.load(STATE_FILE).await?;
        let mut all: Vec<(String, AgentRecord)> = s.agents.into_iter().collect();
        all.sort_by_key(|r| std::cmp::Reverse(r.1.started_at));
        Ok(all)
    }

    pub async fn get(&self, id: &str) -> Result<AgentRecord, RunnerError> {
        let s: RunnerState = self.store.load(STATE_FILE).await?;
        s.agents
            .get(id)
            .cloned()
            .ok_or_else(|| RunnerError::NotFound(id.to_string()))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<AgentEvent> {
        self.events.subscribe()
    }

    /// Starts an agent; its record once it runs.
    pub async fn spawn(self: &Arc<Self>, spec: SpawnSpec) -> Result<AgentRecord, RunnerError> {
        if !valid_id(&spec.id) {
            return Err(RunnerError::Invalid(format!(
                "id {:?} must be 1-100 letters, digits, '-', '_' or '.'",
                spec.id
            )));
        }
        if spec.command.trim().is_empty() {
            return Err(RunnerError::Invalid("command is required".into()));
        }
        if let Some(cwd) = &spec.cwd
            && !cwd.is_dir()
        {
            return Err(RunnerError::Invalid(format!(
                "cwd {} is not a folder",
                cwd.display()
            )));
        }
        if self.live_map().contains_key(&spec.id) {
            return Err(RunnerError::Running(spec.id));
        }
        let dir = self.agent_dir(&spec.id);
        tokio::fs::create_dir_all(&dir).await?;
        let out_file = tokio::fs::File::create(dir.join("output.txt")).await?;
        let started = output::start(&spec).map_err(|source| RunnerError::Spawn {
            command: spec.command.clone(),
            source,
        })?;
        let pid = started.pid;
        let start_ticks = procfs::process::Process::new(pid as i32)
            .and_then(|p| p.stat())
            .map(|s| s.starttime)
            .ok();
        let record = AgentRecord {
            pid: Some(pid),
            task_id: spec.task_id.clone(),
            started_at: now_ms(),
            phase: Phase::Running,
            command: spec.command.clone(),
            args: spec.args.clone(),
            cwd: spec
                .cwd
                .clone()
                .or_else(|| std::env::current_dir().ok())
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            pty: spec.pty,
            start_ticks,
            ..AgentRecord::default()
        };
        let (ended_tx, ended_rx) = watch::channel(false);
        let live = Arc::new(Live {
            pid,
            stop_reason: Mutex::new(None),
            chunks: broadcast::channel(1024).0,
            ended: ended_rx,
        });
        self.live_map().insert(spec.id.clone(), live.clone());
        let stored = record.clone();
        let id = spec.id.clone();
        self.store
            .update(STATE_FILE, |s: &mut RunnerState| {
                s.agents.shift_remove(&id);
                s.agents.insert(id.clone(), stored);
                s.stats.spawned += 1;
                Ok::<(), ()>(())
            })
            .await?
            .ok();
        let _ = self.events.send(AgentEvent {
            kind: "spawned",
            id: spec.id.clone(),
            record: record.clone(),
        });
        let pump = tokio::spawn(output::pump(started.streams, out_file, live.chunks.clone()));
        let runner = self.clone();
        tokio::spawn(async move {
            let status = started.exit.await;
            // Output a grandchild keeps flowing is not waited for forever.
            let _ = tokio::time::timeout(OUTPUT_DRAIN, pump).await;
            runner.finish(&id, &live, status).await;
            let _ = ended_tx.send(true);
        });
        Ok(record)
    }

    /// Records how agent `id` ended.
    async fn finish(&self, id: &str, live: &Live, status: output::Exit) {
        let stop_reason = live
            .stop_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let output_bytes = tokio::fs::metadata(self.output_path(id))
            .await
            .map_or(0, |m| m.len());
        let updated = self
            .store
            .update(STATE_FILE, |s: &mut RunnerState| {
                let r = s.agents.entry(id.to_string()).or_default();
                r.ended_at = Some(now_ms());
                r.exit_code = status.code;
                r.signal = status.signal;
                match &stop_reason {
                    Some(why) => {
                        r.phase = Phase::Stopped;
                        r.reason = why.clone();
                    }
                    None => {
                        r.phase = Phase::Exited;
                        r.reason = match (status.code, status.signal) {
                            (Some(c), _) => format!("exited with code {c}"),
                            (None, Some(sig)) => format!("killed by signal {sig}"),
                            (None, None) => "ended".into(),
                        };
                    }
                }
                r.extra.insert("outputSize".into(), json!(output_bytes));
                s.stats.completed += 1;
                if status.code != Some(0) {
                    s.stats.failed += 1;
                }
                Ok::<_, ()>(r.clone())
            })
            .await;
        self.live_map().remove(id);
        match updated {
            Ok(Ok(r)) => {
                tracing::info!(agent = %id, "{}", r.reason);
                self.write_metadata(id, &r).await;
                let _ = self.events.send(AgentEvent {
                    kind: "ended",
                    id: id.to_string(),
                    record: r,
                });
            }
            Ok(Err(())) => {}
            Err(e) => tracing::error!(agent = %id, "cannot record the end: {e}"),
        }
    }

    /// `data/cos/agents/<id>/metadata.json`, merged as the original does.
    async fn write_metadata(&self, id: &str, r: &AgentRecord) {
        let rel = format!("cos/agents/{id}/metadata.json");
        let duration = r
            .ended_at
            .unwrap_or(r.started_at)
            .saturating_sub(r.started_at);
        let result = self
            .store
            .update(&rel, |m: &mut Map<String, Value>| {
                m.insert("agentId".into(), json!(id));
                m.insert("taskId".into(), json!(r.task_id));
                m.insert("completedAt".into(), json!(r.ended_at.map(iso)));
                m.insert("exitCode".into(), json!(r.exit_code));
                m.insert("success".into(), json!(r.exit_code == Some(0)));
                m.insert("duration".into(), json!(duration));
                m.insert("reason".into(), json!(r.reason));
                if let Some(size) = r.extra.get("outputSize") {
                    m.insert("outputSize".into(), size.clone());
                }
                Ok::<(), ()>(())
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(agent = %id, "cannot write metadata.json: {e}");
        }
    }

    /// SIGTERM to the agent's whole group, SIGKILL to what is left after
    /// `grace`; returns once the agent is recorded as ended.
    pub async fn stop(
        &self,
        id: &str,
        grace: Duration,
        reason: &str,
    ) -> Result<AgentRecord, RunnerError> {
        let Some(live) = self.live_map().get(id).cloned() else {
            return self.get(id).await;
        };
        live.stop_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(|| reason.to_string());
        let group = Pid::from_raw(live.pid as i32);
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = tokio::time::Instant::now() + grace;
        // Until the whole group is gone, not just the leader.
        while killpg(group, None).is_ok() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        if killpg(group, None).is_ok() {
            tracing::warn!(agent = %id, "still running after {grace:?}; SIGKILL");
            let _ = killpg(group, Signal::SIGKILL);
        }
        output::until_ended(&mut live.ended.clone()).await;
        self.get(id).await
    }

    /// Stops every running agent (the runner is shutting down).
    pub async fn stop_all(&self, grace: Duration) {
        let ids: Vec<String> = self.live_map().keys().cloned().collect();
        let stops = ids
            .iter()
            .map(|id| self.stop(id, grace, "the runner shut down"));
        for r in futures_util::future::join_all(stops).await {
            if let Err(e) = r {
                tracing::warn!("stopping an agent: {e}");
            }
        }
    }

    /// The agent's output from `from`, then (with `follow`) as it comes; the
    /// file is the source of truth, the broadcast only wakes followers early.
    pub async fn output(
        self: &Arc<Self>,
        id: &str,
        from: u64,
        follow: bool,
    ) -> Result<tokio::sync::mpsc::Receiver<Result<Chunk, RunnerError>>, RunnerError> {
        let path = self.output_path(id);
        let live = self.live_map().get(id).cloned();
        if live.is_none() {
            self.get(id).await?;
        }
        let subscription = live
            .as_ref()
            .filter(|_| follow)
            .map(|l| (l.chunks.subscribe(), l.ended.clone()));
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(output::follow(path, from, subscription, tx));
        Ok(rx)
    }
}
