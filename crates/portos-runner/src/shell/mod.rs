//! Terminal sessions for the web shell: a shell in a pseudo-terminal of its
//! own (a new session, so its own process group), owned by one login, with
//! its screen kept here (`screen.rs`) so a client that attaches later sees
//! what is there. Output to followers goes through a bounded broadcast: one
//! that falls behind is given the screen again instead of what it missed, so
//! no queue grows without bound and the reader never waits for a client.
//! Sessions end by `exit`, by a close (SIGHUP, then SIGKILL to every process
//! of the session), when idle with nobody attached, or with the runner.

pub mod env;
mod screen;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};
use portos_store::JsonStore;
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc, watch};

use crate::now_ms;
use screen::Screen;

/// What can go wrong, each with the gRPC status it becomes.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("{0}")]
    Invalid(String),
    #[error("no shell session {0:?}")]
    NotFound(String),
    #[error("shell session {0:?} belongs to another login")]
    NotYours(String),
    #[error("{0} shell sessions are open, the limit (settings: shell.maxSessions)")]
    Limit(usize),
    #[error("the web shell is switched off (settings: shell.enabled)")]
    Disabled,
    #[error("cannot start the shell: {0}")]
    Spawn(String),
}

/// `settings.json`'s `shell` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ShellSettings {
    pub enabled: bool,
    pub max_sessions: usize,
    /// A session nobody follows and nobody typed into for this long is
    /// closed; 0: never.
    pub idle_minutes: u64,
    /// Lines kept above the screen for a client that attaches.
    pub scrollback: usize,
}

impl Default for ShellSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_sessions: 8,
            idle_minutes: 24 * 60,
            scrollback: 5000,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct SettingsFile {
    #[serde(default)]
    shell: Option<ShellSettings>,
}

/// What a caller asks to open.
#[derive(Debug, Clone, Default)]
pub struct OpenSpec {
    pub owner: String,
    pub shell: String,
    pub cwd: String,
    pub cols: u16,
    pub rows: u16,
}

/// A session as answered.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: String,
    pub owner: String,
    pub pid: u32,
    pub shell: String,
    pub cwd: String,
    pub cols: u16,
    pub rows: u16,
    pub created_at: u64,
    pub last_active_at: u64,
    pub attached: usize,
}

/// How the shell ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShellExit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

/// What an attached client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Replaces what the client shows.
    Screen(Vec<u8>),
    Output(Arc<[u8]>),
    Exit(ShellExit),
}

/// Pieces of output a follower may be behind before it gets the screen again.
const FOLLOWER_BACKLOG: usize = 64;

struct Session {
    info: Mutex<SessionInfo>,
    screen: Mutex<Screen>,
    master: Mutex<Box<dyn MasterPty + Send>>,
    input: mpsc::Sender<Vec<u8>>,
    output: broadcast::Sender<Arc<[u8]>>,
    ended: watch::Receiver<Option<ShellExit>>,
    attached: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every open session of this runner.
pub struct Shells {
    store: JsonStore,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

impl std::fmt::Debug for Shells {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shells")
            .field("open", &lock(&self.sessions).len())
            .finish_non_exhaustive()
    }
}

fn size(cols: u16, rows: u16) -> Result<(u16, u16), ShellError> {
    let (cols, rows) = (
        if cols == 0 { 80 } else { cols },
        if rows == 0 { 24 } else { rows },
    );
    if cols > 500 || rows > 500 {
        return Err(ShellError::Invalid(format!(
            "a terminal of {cols} x {rows}: columns and rows are 1-500"
        )));
    }
    Ok((cols, rows))
}

impl Shells {
    /// The sessions of the runner over `data_dir`, with the idle sweep.
    pub fn new(store: JsonStore) -> Arc<Self> {
        let shells = Arc::new(Self {
            store,
            sessions: Mutex::default(),
        });
        let weak = Arc::downgrade(&shells);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(15));
            loop {
                tick.tick().await;
                let Some(shells) = weak.upgrade() else { return };
                shells.close_idle().await;
            }
        });
        shells
    }

    /// The owner's settings, the defaults when the file or section is missing.
    pub async fn settings(&self) -> ShellSettings {
        match self.store.load_opt::<SettingsFile>("settings.json").await {
            Ok(f) => f.and_then(|f| f.shell).unwrap_or_default(),
            Err(e) => {
                tracing::warn!("settings.json: {e}; the shell uses its defaults");
                ShellSettings::default()
            }
        }
    }

    fn session(&self, owner: &str, id: &str) -> Result<Arc<Session>, ShellError> {
        let s = lock(&self.sessions)
            .get(id)
            .cloned()
            .ok_or_else(|| ShellError::NotFound(id.to_string()))?;
        if lock(&s.info).owner != owner {
            return Err(ShellError::NotYours(id.to_string()));
        }
        Ok(s)
    }

    fn info(s: &Session) -> SessionInfo {
        let mut i = lock(&s.info).clone();
        i.attached = s.attached.load(Ordering::Relaxed);
        i
    }

    /// Opens a session for `spec.owner`.
    pub async fn open(self: &Arc<Self>, spec: OpenSpec) -> Result<SessionInfo, ShellError> {
        let settings = self.settings().await;
        if !settings.enabled {
            return Err(ShellError::Disabled);
        }
        if spec.owner.is_empty() {
            return Err(ShellError::Invalid("a session needs its owner".into()));
        }
        let (cols, rows) = size(spec.cols, spec.rows)?;
        let program = env::shell_program(&spec.shell).map_err(ShellError::Invalid)?;
        let cwd = env::folder(&spec.cwd).map_err(ShellError::Invalid)?;
        // The limit and the new entry under one lock, so two opens cannot both pass.
        let mut sessions = lock(&self.sessions);
        if sessions.len() >= settings.max_sessions {
            return Err(ShellError::Limit(sessions.len()));
        }
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .map_err(|e| ShellError::Spawn(e.to_string()))?;
        let mut cmd = CommandBuilder::new(&program);
        cmd.env_clear();
        for (k, v) in env::environment(std::env::vars()) {
            cmd.env(k, v);
        }
        cmd.cwd(&cwd);
        // portable-pty starts it as a session leader: its own process group.
        let child = pair
            .slave
            .spawn_command(cmd)
            .map_err(|e| ShellError::Spawn(e.to_string()))?;
        drop(pair.slave);
        let pid = child.process_id().unwrap_or(0);
        let reader = pair.master.try_clone_reader();
        let writer = pair.master.take_writer();
        let (Ok(reader), Ok(writer)) = (reader, writer) else {
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
            return Err(ShellError::Spawn("the terminal cannot be read".into()));
        };
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_ms();
        let (input, inputs) = mpsc::channel(1024);
        let (ended_tx, ended) = watch::channel(None);
        let session = Arc::new(Session {
            info: Mutex::new(SessionInfo {
                id: id.clone(),
                owner: spec.owner,
                pid,
                shell: program.display().to_string(),
                cwd: cwd.display().to_string(),
                cols,
                rows,
                created_at: now,
                last_active_at: now,
                attached: 0,
            }),
            screen: Mutex::new(Screen::new(rows, cols, settings.scrollback)),
            master: Mutex::new(pair.master),
            input,
            output: broadcast::channel(FOLLOWER_BACKLOG).0,
            ended,
            attached: AtomicUsize::new(0),
        });
        sessions.insert(id.clone(), session.clone());
        drop(sessions);
        std::thread::spawn(move || write_input(writer, inputs));
        let s = session.clone();
        let (read_all, all_read) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            read_output(reader, &s);
            drop(read_all);
        });
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let exit = wait(child);
            lock(&me.sessions).remove(&id);
            // Whatever the shell left behind in its session goes with it.
            end_session(pid, Signal::SIGKILL);
            // Its last output first (a process that left the session may
            // hold the terminal open: not waited for long).
            let _ = all_read.recv_timeout(Duration::from_secs(2));
            let _ = ended_tx.send(Some(exit));
        });
        tracing::info!(pid, "shell session opened");
        Ok(Self::info(&session))
    }

    /// Writes to the terminal, in order.
    pub async fn write(&self, owner: &str, id: &str, data: Vec<u8>) -> Result<(), ShellError> {
        let s = self.session(owner, id)?;
        lock(&s.info).last_active_at = now_ms();
        s.input
            .send(data)
            .await
            .map_err(|_| ShellError::NotFound(id.to_string()))
    }

    pub fn resize(
        &self,
        owner: &str,
        id: &str,
        cols: u16,
        rows: u16,
    ) -> Result<SessionInfo, ShellError> {
        let s = self.session(owner, id)?;
        if cols == 0 || rows == 0 {
            return Err(ShellError::Invalid("columns and rows are 1-500".into()));
        }
        let (cols, rows) = size(cols, rows)?;
        lock(&s.master)
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .map_err(|e| ShellError::Invalid(e.to_string()))?;
        lock(&s.screen).resize(rows, cols);
        {
            let mut i = lock(&s.info);
            i.cols = cols;
            i.rows = rows;
        }
        Ok(Self::info(&s))
    }

    /// The owner's sessions, oldest first.
    pub fn list(&self, owner: &str) -> Vec<SessionInfo> {
        let mut all: Vec<SessionInfo> = lock(&self.sessions)
            .values()
            .map(|s| Self::info(s))
            .filter(|i| i.owner == owner)
            .collect();
        all.sort_by_key(|i| i.created_at);
        all
    }

    /// The screen now, then output as it comes, the exit last. The screen is
    /// taken and the subscription made under the screen's lock, which the
    /// reader holds while it feeds a piece to both: nothing is missed or
    /// shown twice.
    pub fn attach(&self, owner: &str, id: &str) -> Result<mpsc::Receiver<Frame>, ShellError> {
        let s = self.session(owner, id)?;
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(follow(s, tx));
        Ok(rx)
    }

    /// SIGHUP to the shell, SIGKILL after a second to every process still in
    /// its session; answers once the shell has ended.
    pub async fn close(&self, owner: &str, id: &str) -> Result<SessionInfo, ShellError> {
        let s = self.session(owner, id)?;
        Ok(Self::end(&s).await)
    }

    async fn end(s: &Arc<Session>) -> SessionInfo {
        let info = Self::info(s);
        let pid = info.pid;
        end_session(pid, Signal::SIGHUP);
        let mut ended = s.ended.clone();
        let waited = tokio::time::timeout(Duration::from_secs(1), ended.wait_for(Option::is_some));
        if waited.await.is_err() {
            end_session(pid, Signal::SIGKILL);
            let _ = ended.wait_for(Option::is_some).await;
        }
        info
    }

    /// Every session ended (the runner is shutting down).
    pub async fn close_all(&self) {
        let all: Vec<Arc<Session>> = lock(&self.sessions).values().cloned().collect();
        futures_util::future::join_all(all.iter().map(Self::end)).await;
    }

    async fn close_idle(&self) {
        let idle = self.settings().await.idle_minutes;
        if idle == 0 {
            return;
        }
        let limit = idle.saturating_mul(60_000);
        let now = now_ms();
        let stale: Vec<Arc<Session>> = lock(&self.sessions)
            .values()
            .filter(|s| {
                s.attached.load(Ordering::Relaxed) == 0
                    && now.saturating_sub(lock(&s.info).last_active_at) > limit
            })
            .cloned()
            .collect();
        for s in stale {
            tracing::info!(
                pid = lock(&s.info).pid,
                "shell session idle for {idle} min: closed"
            );
            Self::end(&s).await;
        }
    }
}

/// Sends `sig` to every live process of the session `sid` (and its group,
/// which a process may have left its session without leaving).
fn end_session(sid: u32, sig: Signal) {
    if sid == 0 {
        return;
    }
    let _ = killpg(Pid::from_raw(sid as i32), sig);
    let Ok(all) = procfs::process::all_processes() else {
        return;
    };
    for stat in all.flatten().filter_map(|p| p.stat().ok()) {
        if stat.session == sid as i32 && stat.state != 'Z' {
            let _ = kill(Pid::from_raw(stat.pid), sig);
        }
    }
}

fn wait(child: Box<dyn portable_pty::Child + Send + Sync>) -> ShellExit {
    use std::os::unix::process::ExitStatusExt;
    let child: Box<dyn portable_pty::Child> = child;
    match child.downcast::<std::process::Child>() {
        Ok(mut c) => match c.wait() {
            Ok(s) => ShellExit {
                code: s.code(),
                signal: s.signal(),
            },
            Err(_) => ShellExit::default(),
        },
        Err(mut other) => ShellExit {
            code: other.wait().ok().map(|s| s.exit_code() as i32),
            signal: None,
        },
    }
}

fn write_input(mut writer: Box<dyn Write + Send>, mut inputs: mpsc::Receiver<Vec<u8>>) {
    while let Some(data) = inputs.blocking_recv() {
        if writer
            .write_all(&data)
            .and_then(|()| writer.flush())
            .is_err()
        {
            return;
        }
    }
}

fn read_output(mut reader: Box<dyn Read + Send>, s: &Session) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let piece: Arc<[u8]> = Arc::from(&buf[..n]);
                let mut screen = lock(&s.screen);
                screen.process(&piece);
                // Nobody attached is not an error.
                let _ = s.output.send(piece);
            }
        }
    }
}

/// One follower: the screen, then output, the screen again after falling
/// behind, the exit last.
async fn follow(s: Arc<Session>, tx: mpsc::Sender<Frame>) {
    s.attached.fetch_add(1, Ordering::Relaxed);
    let mut ended = s.ended.clone();
    let mut first = true;
    loop {
        // The whole screen with its scrollback on attaching; after falling
        // behind, the visible screen drawn over (what was skipped is skipped).
        let (frame, mut rx) = {
            let mut screen = lock(&s.screen);
            let frame = if first {
                Frame::Screen(screen.snapshot())
            } else {
                Frame::Output(Arc::from(screen.redraw()))
            };
            (frame, s.output.subscribe())
        };
        first = false;
        if tx.send(frame).await.is_err() {
            break;
        }
        let behind = loop {
            tokio::select! {
                piece = rx.recv() => match piece {
                    Ok(p) => if tx.send(Frame::Output(p)).await.is_err() { break false },
                    Err(broadcast::error::RecvError::Lagged(_)) => break true,
                    Err(broadcast::error::RecvError::Closed) => break false,
                },
                exit = async { ended.wait_for(Option::is_some).await.ok().and_then(|e| *e) } => {
                    let exit = exit.unwrap_or_default();
                    // What the reader still had for us, then the exit.
                    while let Ok(p) = rx.try_recv() {
                        if tx.send(Frame::Output(p)).await.is_err() { break; }
                    }
                    let _ = tx.send(Frame::Exit(exit)).await;
                    break false;
                }
                () = tx.closed() => break false,
            }
        };
        if !behind {
            break;
        }
    }
    s.attached.fetch_sub(1, Ordering::Relaxed);
    lock(&s.info).last_active_at = now_ms();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(owner: &str) -> OpenSpec {
        OpenSpec {
            owner: owner.into(),
            shell: "/bin/sh".into(),
            ..OpenSpec::default()
        }
    }

    #[tokio::test]
    async fn the_limit_the_switch_and_the_owner_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let settings = |s: &str| std::fs::write(dir.path().join("settings.json"), s).unwrap();
        settings(r#"{"shell": {"maxSessions": 1}}"#);
        let shells = Shells::new(JsonStore::new(dir.path()));
        let one = shells.open(spec("a")).await.unwrap();
        assert!(matches!(
            shells.open(spec("a")).await,
            Err(ShellError::Limit(1))
        ));
        assert!(matches!(
            shells.write("b", &one.id, b"x".to_vec()).await,
            Err(ShellError::NotYours(_))
        ));
        assert!(matches!(
            shells.attach("b", &one.id),
            Err(ShellError::NotYours(_))
        ));
        assert!(shells.list("b").is_empty());
        assert_eq!(shells.list("a").len(), 1);
        shells.close("a", &one.id).await.unwrap();
        settings(r#"{"shell": {"enabled": false}}"#);
        assert!(matches!(
            shells.open(spec("a")).await,
            Err(ShellError::Disabled)
        ));
    }
}
