//! One running command: its process group, its output read from both pipes,
//! coalesced into live events, kept up to a cap, and how it ended.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use portos_core::Events;
use portos_core::text::Utf8Carry;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Child;
use tokio::sync::watch;

/// How long a stopped command has between SIGTERM and SIGKILL.
pub(crate) const GRACE: Duration = Duration::from_secs(5);
/// Output is sent at most this often per stream (or when a piece is this big).
const COALESCE_EVERY: Duration = Duration::from_millis(25);
const FLUSH_AT: usize = 64 << 10;
/// Output streamed live, at most; the command goes on beyond it.
const STREAM_CAP: usize = 16 << 20;
/// Output kept for the completion event (the history keeps 10,000 characters).
const KEEP: usize = 1 << 20;
/// After the program exits, how long what it left behind may hold its pipes.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub id: String,
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    pub timeout_seconds: u64,
}

/// A running command, for stopping it and for waiting until it ended.
#[derive(Debug, Clone)]
pub(crate) struct Handle(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    group: Pid,
    stopped: AtomicBool,
    done: watch::Sender<bool>,
}

impl Handle {
    /// SIGTERM to the group now, SIGKILL after [`GRACE`] unless it ended.
    pub(crate) fn stop(&self) {
        if self.0.stopped.swap(true, Ordering::SeqCst) || *self.0.done.borrow() {
            return;
        }
        let _ = killpg(self.0.group, Signal::SIGTERM);
        let this = self.clone();
        tokio::spawn(async move {
            if !this.ended(GRACE).await {
                let _ = killpg(this.0.group, Signal::SIGKILL);
            }
        });
    }

    /// Waits up to `limit` for the command to end; whether it did.
    pub(crate) async fn ended(&self, limit: Duration) -> bool {
        let mut rx = self.0.done.subscribe();
        tokio::time::timeout(limit, rx.wait_for(|d| *d))
            .await
            .is_ok()
    }
}

/// Starts the program in a process group of its own, stdin closed, without
/// the internal token, with the original's `FORCE_COLOR=1`.
pub(crate) fn spawn(spec: &Spec) -> std::io::Result<(Handle, Child)> {
    let child = tokio::process::Command::new(&spec.argv[0])
        .args(&spec.argv[1..])
        .current_dir(&spec.cwd)
        .env("FORCE_COLOR", "1")
        .env_remove(portos_core::secrets::INTERNAL_TOKEN_ENV)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let group = Pid::from_raw(child.id().unwrap_or_default() as i32);
    let handle = Handle(Arc::new(Inner {
        group,
        stopped: AtomicBool::new(false),
        done: watch::channel(false).0,
    }));
    Ok((handle, child))
}

/// How a command ended.
#[derive(Debug, Clone, Default)]
pub(crate) struct End {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub runtime_ms: u64,
    pub output: String,
    pub truncated: bool,
    pub stopped: bool,
    pub timed_out: Option<u64>,
    pub failed: Option<String>,
}

impl End {
    /// The payload of `command:<id>:complete`.
    pub(crate) fn event(&self) -> Value {
        let mut v = json!({
            "success": self.error().is_none(),
            "exitCode": self.exit_code,
            "runtime": self.runtime_ms,
            "output": self.output,
        });
        if let Some(error) = self.error() {
            v["error"] = json!(error);
        }
        for (key, on) in [("truncated", self.truncated), ("stopped", self.stopped)] {
            if on {
                v[key] = json!(true);
            }
        }
        if let Some(s) = self.signal {
            v["signal"] = json!(s);
        }
        v
    }

    /// Why it did not succeed, as the history says it.
    pub(crate) fn error(&self) -> Option<String> {
        if let Some(f) = &self.failed {
            return Some(f.clone());
        }
        if let Some(m) = self.timed_out {
            return Some(format!("Timed out after {m} s"));
        }
        if self.stopped {
            return Some("Stopped".into());
        }
        match (self.exit_code, self.signal) {
            (Some(0), _) => None,
            (Some(c), _) => Some(format!("Exit code {c}")),
            (None, Some(s)) => Some(format!("Killed by signal {s}")),
            (None, None) => Some("Exit code null".into()),
        }
    }
}

/// One output stream's pending piece.
struct Piece {
    stream: &'static str,
    pending: Vec<u8>,
    carry: Utf8Carry,
}

/// Everything a command said: streamed in pieces, kept up to [`KEEP`].
struct Output<'a> {
    event: String,
    events: &'a dyn Events,
    pieces: [Piece; 2],
    streamed: usize,
    /// The note that live output stops was sent.
    capped: bool,
    kept: Vec<u8>,
    truncated: bool,
}

impl Output<'_> {
    fn take(&mut self, i: usize, bytes: &[u8]) {
        let room = KEEP.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.truncated |= bytes.len() > room;
        if self.streamed >= STREAM_CAP {
            return;
        }
        self.pieces[i].pending.extend_from_slice(bytes);
        if self.pieces[i].pending.len() >= FLUSH_AT {
            self.flush(i);
        }
    }

    fn pending(&self) -> bool {
        self.pieces.iter().any(|p| !p.pending.is_empty())
    }

    fn flush(&mut self, i: usize) {
        let p = &mut self.pieces[i];
        let bytes = std::mem::take(&mut p.pending);
        let (text, stream) = (p.carry.text(&bytes), p.stream);
        self.send(text, stream);
        if self.streamed >= STREAM_CAP && !self.capped {
            self.capped = true;
            let note = format!(
                "\n[more than {} MiB of output: the rest is not shown live]\n",
                STREAM_CAP >> 20
            );
            self.send(note, "stderr");
        }
    }

    fn flush_all(&mut self) {
        for i in 0..2 {
            if !self.pieces[i].pending.is_empty() {
                self.flush(i);
            }
        }
    }

    fn send(&mut self, data: String, stream: &str) {
        if data.is_empty() {
            return;
        }
        self.streamed += data.len();
        self.events
            .broadcast(&self.event, &json!({ "data": data, "stream": stream }));
    }
}

async fn read_some<R: AsyncRead + Unpin>(
    r: Option<&mut R>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match r {
        Some(r) => r.read(buf).await,
        None => std::future::pending().await,
    }
}

/// Follows a command to its end: output streamed and kept, the time limit
/// kept, the exit taken; the handle is marked ended.
pub(crate) async fn follow(
    spec: &Spec,
    mut child: Child,
    handle: &Handle,
    events: &dyn Events,
) -> End {
    let started = Instant::now();
    let mut out = Output {
        event: format!("command:{}:data", spec.id),
        events,
        pieces: ["stdout", "stderr"].map(|stream| Piece {
            stream,
            pending: Vec::new(),
            carry: Utf8Carry::default(),
        }),
        streamed: 0,
        capped: false,
        kept: Vec::new(),
        truncated: false,
    };
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    let (mut ob, mut eb) = (vec![0u8; 32 << 10], vec![0u8; 32 << 10]);
    let mut tick = tokio::time::interval(COALESCE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let limit = Duration::from_secs(spec.timeout_seconds);
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    let grace = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(grace);
    let mut status = None;
    let mut end = End::default();
    loop {
        tokio::select! {
            r = read_some(stdout.as_mut(), &mut ob), if stdout.is_some() => match r {
                Ok(n) if n > 0 => out.take(0, &ob[..n]),
                _ => stdout = None,
            },
            r = read_some(stderr.as_mut(), &mut eb), if stderr.is_some() => match r {
                Ok(n) if n > 0 => out.take(1, &eb[..n]),
                _ => stderr = None,
            },
            _ = tick.tick(), if out.pending() => out.flush_all(),
            s = child.wait(), if status.is_none() => {
                status = Some(s);
                grace.as_mut().reset(tokio::time::Instant::now() + EXIT_GRACE);
            }
            _ = &mut grace, if status.is_some() => break,
            _ = &mut deadline, if spec.timeout_seconds > 0 && end.timed_out.is_none() => {
                end.timed_out = Some(spec.timeout_seconds);
                handle.stop();
            }
        }
        if status.is_some() && stdout.is_none() && stderr.is_none() {
            break;
        }
    }
    out.flush_all();
    for p in &mut out.pieces {
        let rest = p.carry.finish();
        let stream = p.stream;
        if !rest.is_empty() {
            events.broadcast(&out.event, &json!({ "data": rest, "stream": stream }));
        }
    }
    match status {
        Some(Ok(s)) => {
            end.exit_code = s.code();
            end.signal = s.signal();
        }
        Some(Err(e)) => end.failed = Some(format!("waiting for the command failed: {e}")),
        None => {}
    }
    end.stopped = handle.0.stopped.load(Ordering::SeqCst) && end.timed_out.is_none();
    end.runtime_ms = started.elapsed().as_millis() as u64;
    end.output = String::from_utf8_lossy(&out.kept).into_owned();
    end.truncated = out.truncated;
    handle.0.done.send_replace(true);
    end
}
