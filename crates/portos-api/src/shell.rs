//! The web shell on the live socket: the original's `shell:start`,
//! `shell:input`, `shell:resize`, `shell:stop` (→ `shell:started`,
//! `shell:output`, `shell:exit`, `shell:error`), plus `shell:attach`,
//! `shell:detach` and `shell:list`. Sessions live in the runner and belong to
//! the socket's login, not to the socket: closing the page detaches, it does
//! not kill; another login's socket cannot attach or type (the runner says
//! so). `shell:screen {sessionId, data}` replaces what the client shows (on
//! attaching, and after falling behind); output is coalesced, and a client
//! that does not keep up holds back its own stream only, never the queue of
//! its other events. A page that acknowledges what its terminal has drawn
//! (`shell:ack {sessionId, count}`, one per `shell:output`/`shell:screen`) is
//! sent at most [`AHEAD`] messages beyond that: a flood then costs it one
//! fresh screen, not minutes of backlog.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures_util::StreamExt;
use portos_runner_client::shell::{OpenShell, ShellFrame, ShellLink};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

/// Output gathered into one `shell:output` message at most.
const COALESCE: usize = 64 << 10;
/// Input taken in one `shell:input` at most (a large paste).
const MAX_INPUT: usize = 48 << 10;
/// Messages a page that acknowledges may have undrawn; beyond it the
/// session's output waits, and the runner, finding this follower behind,
/// sends the screen instead of the backlog.
pub const AHEAD: usize = 8;

/// What a following page has not yet drawn; counted once it acknowledges.
#[derive(Debug, Default)]
struct Credit {
    acking: AtomicBool,
    unacked: AtomicUsize,
    drawn: Notify,
}

impl Credit {
    fn ack(&self, count: usize) {
        self.acking.store(true, Ordering::SeqCst);
        let _ = self
            .unacked
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_sub(count))
            });
        self.drawn.notify_waiters();
    }

    fn full(&self) -> bool {
        self.acking.load(Ordering::SeqCst) && self.unacked.load(Ordering::SeqCst) >= AHEAD
    }

    /// Waits until one more message may go, and counts it.
    async fn room(&self) {
        while self.full() {
            let drawn = self.drawn.notified();
            tokio::pin!(drawn);
            drawn.as_mut().enable();
            if !self.full() {
                break;
            }
            drawn.await;
        }
        self.unacked.fetch_add(1, Ordering::SeqCst);
    }
}

/// One session this socket follows.
struct Following {
    task: JoinHandle<()>,
    credit: Arc<Credit>,
}

/// The shell sessions one socket follows.
pub struct SocketShells {
    link: ShellLink,
    login: String,
    /// The socket's own stream of shell messages (its writer sends them).
    out: mpsc::Sender<Arc<str>>,
    following: Arc<std::sync::Mutex<HashMap<String, Following>>>,
}

fn message(event: &str, data: &Value) -> Arc<str> {
    Arc::from(json!({ "event": event, "data": data }).to_string())
}

/// `shell:error {sessionId?, error, code}`: the one shape of a refusal.
fn refusal(id: Option<&str>, p: &portos_core::Problem) -> Arc<str> {
    let mut data = json!({ "error": p.message, "code": p.code });
    if let Some(id) = id {
        data["sessionId"] = json!(id);
    }
    message("shell:error", &data)
}

fn session_id(data: &Value) -> Option<String> {
    data.get("sessionId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 64)
        .map(str::to_string)
}

/// A terminal dimension: 1-500, as the original validates.
fn dim(data: &Value, field: &str) -> Option<u32> {
    data.get(field)
        .and_then(Value::as_u64)
        .filter(|n| (1..=500).contains(n))
        .map(|n| n as u32)
}

impl SocketShells {
    pub fn new(link: ShellLink, login: String, out: mpsc::Sender<Arc<str>>) -> Self {
        Self {
            link,
            login,
            out,
            following: Arc::default(),
        }
    }

    fn send(&self, event: &str, data: Value) {
        let out = self.out.clone();
        let text = message(event, &data);
        tokio::spawn(async move {
            let _ = out.send(text).await;
        });
    }

    fn invalid(&self, event: &str, path: &str, why: &str) {
        self.send(
            &format!("{event}:error"),
            json!({ "message": "Validation failed", "details": [{ "path": path, "message": why }] }),
        );
    }

    /// Handles `event` if it is one of the shell's; false otherwise.
    pub fn handle(&self, event: &str, data: &Value) -> bool {
        self.following().retain(|_, f| !f.task.is_finished());
        match event {
            "shell:start" => self.start(data),
            "shell:list" => {
                let (link, login, out) = (self.link.clone(), self.login.clone(), self.out.clone());
                tokio::spawn(async move {
                    let answer = match link.list(&login).await {
                        Ok(s) => message("shell:list", &json!({ "sessions": s })),
                        Err(p) => refusal(None, &p),
                    };
                    let _ = out.send(answer).await;
                });
            }
            "shell:attach" | "shell:detach" | "shell:input" | "shell:resize" | "shell:stop"
            | "shell:ack" => {
                let Some(id) = session_id(data) else {
                    self.invalid(event, "sessionId", "a session id is required");
                    return true;
                };
                match event {
                    "shell:attach" => self.attach(id),
                    "shell:detach" => {
                        if let Some(f) = self.following().remove(&id) {
                            f.task.abort();
                        }
                    }
                    "shell:ack" => {
                        let count = data.get("count").and_then(Value::as_u64).unwrap_or(1);
                        if let Some(f) = self.following().get(&id) {
                            f.credit.ack(count.min(1000) as usize);
                        }
                    }
                    "shell:input" => self.input(id, data),
                    "shell:resize" => self.resize(id, data),
                    _ => self.stop(id),
                }
            }
            _ => return false,
        }
        true
    }

    fn start(&self, data: &Value) {
        let open = OpenShell {
            cwd: data
                .get("cwd")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            cols: dim(data, "cols").unwrap_or(0),
            rows: dim(data, "rows").unwrap_or(0),
        };
        let me = self.clone_parts();
        // Opened, then followed by this socket at once.
        tokio::spawn(async move {
            match me.link.open(&me.login, open).await {
                Ok(s) => {
                    let started =
                        message("shell:started", &json!({ "sessionId": s.id, "session": s }));
                    let _ = me.out.send(started).await;
                    me.attach(s.id);
                }
                Err(p) => {
                    let _ = me.out.send(refusal(None, &p)).await;
                }
            }
        });
    }

    fn following(&self) -> std::sync::MutexGuard<'_, HashMap<String, Following>> {
        self.following.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn clone_parts(&self) -> Self {
        Self {
            link: self.link.clone(),
            login: self.login.clone(),
            out: self.out.clone(),
            following: self.following.clone(),
        }
    }

    /// This socket follows session `id` (again, from its screen).
    fn attach(&self, id: String) {
        let credit = Arc::new(Credit::default());
        let task = tokio::spawn(follow(
            self.link.clone(),
            self.login.clone(),
            id.clone(),
            self.out.clone(),
            credit.clone(),
        ));
        if let Some(old) = self.following().insert(id, Following { task, credit }) {
            old.task.abort();
        }
    }

    fn input(&self, id: String, data: &Value) {
        let Some(text) = data.get("data").and_then(Value::as_str) else {
            self.invalid("shell:input", "data", "the input is a string");
            return;
        };
        if text.len() > MAX_INPUT {
            self.invalid("shell:input", "data", "at most 48 KiB at a time");
            return;
        }
        let bytes = text.as_bytes().to_vec();
        let (link, login, out) = (self.link.clone(), self.login.clone(), self.out.clone());
        tokio::spawn(async move {
            if let Err(p) = link.write(&login, &id, bytes).await {
                let _ = out.send(refusal(Some(&id), &p)).await;
            }
        });
    }

    fn resize(&self, id: String, data: &Value) {
        let (Some(cols), Some(rows)) = (dim(data, "cols"), dim(data, "rows")) else {
            self.invalid(
                "shell:resize",
                "cols",
                "cols and rows are whole numbers from 1 to 500",
            );
            return;
        };
        let (link, login, out) = (self.link.clone(), self.login.clone(), self.out.clone());
        tokio::spawn(async move {
            if let Err(p) = link.resize(&login, &id, cols, rows).await {
                let _ = out.send(refusal(Some(&id), &p)).await;
            }
        });
    }

    fn stop(&self, id: String) {
        let (link, login, out) = (self.link.clone(), self.login.clone(), self.out.clone());
        tokio::spawn(async move {
            // The exit reaches every follower through its stream; an unknown
            // session is ignored, as in the original, but another login's is refused.
            if let Err(p) = link.close(&login, &id).await
                && p.code != "SESSION_NOT_FOUND"
            {
                let _ = out.send(refusal(Some(&id), &p)).await;
            }
        });
    }
}

impl SocketShells {
    /// The socket went: its streams end, its sessions go on.
    pub fn detach_all(&self) {
        for (_, f) in self.following().drain() {
            f.task.abort();
        }
    }
}

/// One session to one socket: the screen, then output gathered while the
/// socket is busy, the exit last.
async fn follow(
    link: ShellLink,
    login: String,
    id: String,
    out: mpsc::Sender<Arc<str>>,
    credit: Arc<Credit>,
) {
    let stream = match link.attach(&login, &id).await {
        Ok(s) => s,
        Err(p) => {
            let _ = out.send(refusal(Some(&id), &p)).await;
            return;
        }
    };
    let mut stream = Box::pin(stream.ready_chunks(256));
    let mut carry = portos_core::text::Utf8Carry::default();
    while let Some(frames) = stream.next().await {
        let mut pending: Vec<u8> = Vec::new();
        for frame in frames {
            match frame {
                ShellFrame::Output(bytes) => {
                    pending.extend_from_slice(&bytes);
                    if pending.len() >= COALESCE {
                        credit.room().await;
                        let text = carry.text(&std::mem::take(&mut pending));
                        let m = message("shell:output", &json!({ "sessionId": id, "data": text }));
                        if out.send(m).await.is_err() {
                            return;
                        }
                    }
                }
                ShellFrame::Screen(bytes) => {
                    pending.clear();
                    carry = portos_core::text::Utf8Carry::default();
                    credit.room().await;
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    let m = message("shell:screen", &json!({ "sessionId": id, "data": text }));
                    if out.send(m).await.is_err() {
                        return;
                    }
                }
                ShellFrame::Exit { code, signal } => {
                    if !pending.is_empty() {
                        let text = carry.text(&std::mem::take(&mut pending));
                        let _ = out
                            .send(message(
                                "shell:output",
                                &json!({ "sessionId": id, "data": text }),
                            ))
                            .await;
                    }
                    let _ = out
                        .send(message(
                            "shell:exit",
                            &json!({ "sessionId": id, "code": code, "signal": signal }),
                        ))
                        .await;
                    return;
                }
            }
        }
        if !pending.is_empty() {
            credit.room().await;
            let text = carry.text(&pending);
            let m = message("shell:output", &json!({ "sessionId": id, "data": text }));
            if out.send(m).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{AHEAD, Credit};
    use std::time::Duration;

    #[tokio::test]
    async fn a_page_that_acknowledges_is_held_at_ahead_messages() {
        let c = std::sync::Arc::new(Credit::default());
        // A page that never acknowledges is never held (older pages, scripts).
        for _ in 0..AHEAD * 4 {
            c.room().await;
        }
        c.ack(AHEAD * 4);
        for _ in 0..AHEAD {
            c.room().await;
        }
        let held = tokio::time::timeout(Duration::from_millis(100), c.room()).await;
        assert!(held.is_err(), "the {}th message waits", AHEAD + 1);
        let waiting = tokio::spawn({
            let c = c.clone();
            async move { c.room().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        c.ack(1);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("an acknowledgement lets it go")
            .unwrap();
    }
}
