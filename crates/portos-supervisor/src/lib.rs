//! The PortOS supervisor: runs the process table of `supervisor.toml` and keeps it
//! running. PM2's job, done with process groups instead of tree walks.
//!
//! Owns: spawning each child in a process group of its own with a parent-death
//! signal (so `kill -9` of the supervisor leaves no orphans); the one reaper (no
//! zombies, and grandchildren re-parented to us are reaped too); the restart
//! policy with reasons, exponential backoff and a crash-loop stop in `errored`;
//! start order by dependency health; health probes (gRPC, HTTP, TCP); per-group
//! CPU and memory with `max_memory_restart`; log capture with UTC stamps and
//! rotation; the event stream; and the `portos.supervisor.v1` control service on a
//! Unix socket. The table is live: [`Supervisor::apply`] sets one group's
//! processes (`portos` for `supervisor.toml`'s, an app's id for an app's),
//! starting what is new, stopping what is gone, restarting what changed and
//! leaving the rest and their pids alone; `groups` keeps the apps' groups in
//! the data dir for the next start.
//!
//! Must not depend on: any service crate, the store, or domain crates. It runs
//! binaries; it does not link them. Only `control` knows the wire types.

mod apply;
pub mod control;
pub mod groups;
pub mod health;
pub mod logs;
pub mod model;
mod process;
pub mod program;
mod reaper;
mod sample;
mod table;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use portos_config::Config;
use tokio::sync::{broadcast, oneshot, watch};
use tokio_util::sync::CancellationToken;

pub use apply::Applied;
pub use logs::{LogHub, LogLine, Stream};
pub use model::{Event, EventKind, ExitStatus, Health, ProcessInfo, State};
pub use process::human_bytes;

use process::{Cmd, Shared};
use table::{Handle, Table};

/// Name of the control socket inside the data dir.
pub const SOCKET_NAME: &str = "supervisor.sock";
/// Name of the pid file inside the data dir.
pub const PID_FILE: &str = "supervisor.pid";

/// Events a slow subscriber may fall behind before it is told it lagged.
const EVENT_BUFFER: usize = 256;

/// Errors a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("no process named \"{0}\" (see `portos status`)")]
    NotFound(String),
    /// A table refused whole: the same file, line and key messages as at start,
    /// or a clash with another group.
    #[error("{0}")]
    Invalid(String),
    #[error("the supervisor is shutting down")]
    ShuttingDown,
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// A control action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Restart,
}

struct Inner {
    /// `supervisor.toml` as loaded at start (its path and log settings).
    base: Config,
    table: Arc<RwLock<Table>>,
    /// One table change at a time.
    applying: tokio::sync::Mutex<()>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
}

/// A running supervisor. Cheap to clone.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("config", &self.inner.base.path)
            .finish()
    }
}

impl Supervisor {
    /// Sets up every process of `config` (stopped, in the `portos` group) and
    /// the background tasks. Call inside a Tokio runtime, before anything else
    /// in this process spawns children. `shutdown` is cancelled by
    /// [`Supervisor::request_shutdown`].
    pub fn new(
        config: Config,
        data_dir: &Path,
        shutdown: CancellationToken,
    ) -> Result<Self, SupervisorError> {
        let io = |what: &str| {
            let what = what.to_string();
            move |source| SupervisorError::Io { what, source }
        };
        let reaper =
            reaper::Reaper::start().map_err(io("cannot become the reaper of our children"))?;
        let logs_dir = data_dir.join("logs");
        let logs = LogHub::new(logs_dir.clone(), config.logs.clone())
            .map_err(io(&format!("cannot create {}", logs_dir.display())))?;
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let shared = Arc::new(Shared {
            reaper,
            logs: Arc::new(logs),
            events,
            data_dir: data_dir.to_path_buf(),
            bin_dir: program::bin_dir(),
            internal_token: portos_rt::internal::new_token(),
        });
        let config = config.in_group(portos_config::PORTOS_GROUP);
        let mut table = Table::default();
        table.add(&config.processes, &shared);
        let order: Vec<String> = config.processes.iter().map(|p| p.name.clone()).collect();
        table.reorder(portos_config::PORTOS_GROUP, &order);
        let table = Arc::new(RwLock::new(table));
        tokio::spawn(sample::run(
            {
                let table = table.clone();
                move || read(&table).senders()
            },
            shutdown.clone(),
        ));
        Ok(Self {
            inner: Arc::new(Inner {
                base: config,
                table,
                applying: tokio::sync::Mutex::new(()),
                shared,
                shutdown,
            }),
        })
    }

    /// `supervisor.toml` as loaded at start.
    pub fn config(&self) -> &Config {
        &self.inner.base
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.shared.data_dir
    }

    /// Every process, group by group, each group in its table's order.
    pub fn list(&self) -> Vec<ProcessInfo> {
        read(&self.inner.table)
            .handles
            .iter()
            .map(|h| h.info.borrow().clone())
            .collect()
    }

    pub fn get(&self, name: &str) -> Result<ProcessInfo, SupervisorError> {
        self.handle(name).map(|h| h.info.borrow().clone())
    }

    /// Watches one process's snapshot.
    pub fn watch(&self, name: &str) -> Result<watch::Receiver<ProcessInfo>, SupervisorError> {
        self.handle(name).map(|h| h.info)
    }

    fn handle(&self, name: &str) -> Result<Handle, SupervisorError> {
        let name = name.rsplit_once(':').map_or(name, |(_, n)| n);
        read(&self.inner.table)
            .handle(name)
            .cloned()
            .ok_or_else(|| SupervisorError::NotFound(name.to_string()))
    }

    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.inner.shared.events.subscribe()
    }

    pub fn logs(&self) -> &Arc<LogHub> {
        &self.inner.shared.logs
    }

    /// The names a target means: `all`, a process's `name` or `group:name`,
    /// or a group's name (every process of it).
    pub fn resolve(&self, target: &str) -> Result<Vec<String>, SupervisorError> {
        read(&self.inner.table)
            .resolve(target)
            .ok_or_else(|| SupervisorError::NotFound(target.to_string()))
    }

    /// Starts, stops or restarts `target` (see [`Supervisor::resolve`]). Returns
    /// once each request is under way (a stop: once the group is gone); progress
    /// shows in [`Supervisor::events`].
    pub async fn control(
        &self,
        action: Action,
        target: &str,
    ) -> Result<Vec<ProcessInfo>, SupervisorError> {
        let names = self.resolve(target)?;
        if self.inner.shutdown.is_cancelled() && action != Action::Stop {
            return Err(SupervisorError::ShuttingDown);
        }
        match action {
            Action::Start => {
                // What they depend on comes first (a running one ignores the start).
                let order = read(&self.inner.table).with_dependencies(&names);
                for n in &order {
                    self.ask(n, Cmd::Start).await?;
                }
            }
            Action::Stop => self.stop_in_order(&names).await?,
            Action::Restart if names.len() > 1 => {
                self.stop_in_order(&names).await?;
                for n in &names {
                    self.ask(n, Cmd::Start).await?;
                }
            }
            Action::Restart => self.ask(&names[0], Cmd::Restart).await?,
        }
        self.remember(action, &names);
        names.iter().map(|n| self.get(n)).collect()
    }

    /// Keeps, per app group, which processes the owner stopped, so the next
    /// start leaves them stopped (PortOS's own always start).
    fn remember(&self, action: Action, names: &[String]) {
        if self.inner.shutdown.is_cancelled() {
            return;
        }
        let mut by_group: Vec<(String, Vec<String>)> = Vec::new();
        for n in names {
            let Ok(info) = self.get(n) else { continue };
            if info.group == portos_config::PORTOS_GROUP {
                continue;
            }
            match by_group.iter_mut().find(|(g, _)| *g == info.group) {
                Some((_, list)) => list.push(info.name),
                None => by_group.push((info.group, vec![info.name])),
            }
        }
        for (group, list) in by_group {
            if let Err(e) = groups::remember(self.data_dir(), &group, &list, action == Action::Stop)
            {
                tracing::warn!(group, error = %e, "stopped processes not remembered");
            }
        }
    }

    /// Stops dependents before what they depend on.
    async fn stop_in_order(&self, names: &[String]) -> Result<(), SupervisorError> {
        let order = read(&self.inner.table).stop_order(names);
        for n in &order {
            self.ask(n, Cmd::Stop).await?;
        }
        Ok(())
    }

    async fn ask(
        &self,
        name: &str,
        make: fn(oneshot::Sender<()>) -> Cmd,
    ) -> Result<(), SupervisorError> {
        let h = self.handle(name)?;
        let (tx, rx) = oneshot::channel();
        h.tx.send(make(tx))
            .await
            .map_err(|_| SupervisorError::ShuttingDown)?;
        rx.await.map_err(|_| SupervisorError::ShuttingDown)
    }

    /// Asks the owner of this supervisor to stop everything and exit.
    pub fn request_shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Cancelled once shutdown was asked for.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Stops every process gracefully, dependents first.
    pub async fn stop_all(&self) {
        let names: Vec<String> = read(&self.inner.table).names();
        if let Err(e) = self.stop_in_order(&names).await {
            tracing::warn!(error = %e, "stopping all");
        }
    }
}

/// The table, read (a poisoned lock is still a consistent table: every
/// change under it is a plain push or removal).
fn read(table: &RwLock<Table>) -> std::sync::RwLockReadGuard<'_, Table> {
    table
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write(table: &RwLock<Table>) -> std::sync::RwLockWriteGuard<'_, Table> {
    table
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The control socket of a data dir.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}
