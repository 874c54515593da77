//! The one reaper: on every SIGCHLD it collects every exited child with
//! `waitpid(-1, WNOHANG)`, so no zombie ever stays, and hands the exit status of
//! the children the supervisor spawned to whoever waits for them. The supervisor
//! is a child subreaper, so grandchildren orphaned by a dying child are
//! re-parented to it and reaped here as well.
//!
//! Nothing else in a supervising process may wait for children.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::sync::oneshot;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exited with code {c}"),
            ExitStatus::Signal(s) => {
                let name = nix::sys::signal::Signal::try_from(*s)
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|_| format!("signal {s}"));
                write!(f, "killed by {name}")
            }
        }
    }
}

#[derive(Default)]
struct Table {
    waiting: HashMap<i32, oneshot::Sender<ExitStatus>>,
}

/// Registry of children waited for. Cheap to clone.
#[derive(Clone)]
pub struct Reaper {
    table: Arc<Mutex<Table>>,
}

impl std::fmt::Debug for Reaper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reaper")
    }
}

impl Reaper {
    /// Becomes the subreaper of this process and starts reaping. Must be called
    /// inside a Tokio runtime, before the first child is spawned.
    pub fn start() -> std::io::Result<Self> {
        nix::sys::prctl::set_child_subreaper(true).map_err(std::io::Error::from)?;
        let mut sigchld = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child())?;
        let reaper = Reaper {
            table: Arc::default(),
        };
        let r = reaper.clone();
        tokio::spawn(async move {
            loop {
                r.reap_all();
                if sigchld.recv().await.is_none() {
                    return;
                }
            }
        });
        Ok(reaper)
    }

    /// Spawns with `spawn` while holding the table, so an exit reaped at once
    /// still finds its waiter. Returns the spawn result and the exit receiver.
    pub fn spawn<T>(
        &self,
        spawn: impl FnOnce() -> std::io::Result<(T, u32)>,
    ) -> std::io::Result<(T, u32, oneshot::Receiver<ExitStatus>)> {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let (value, pid) = spawn()?;
        let (tx, rx) = oneshot::channel();
        table.waiting.insert(pid as i32, tx);
        Ok((value, pid, rx))
    }

    /// Reaps every exited child. Holds the table throughout, so it never runs
    /// while [`Reaper::spawn`] forks: std waits for a child whose exec failed, and
    /// must find it unreaped.
    fn reap_all(&self) {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let (pid, status) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, ExitStatus::Code(code)),
                Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, ExitStatus::Signal(sig as i32)),
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "waitpid failed");
                    return;
                }
            };
            match table.waiting.remove(&pid.as_raw()) {
                Some(tx) => {
                    let _ = tx.send(status);
                }
                None => {
                    tracing::debug!(pid = pid.as_raw(), %status, "reaped an orphaned descendant")
                }
            }
        }
    }
}
