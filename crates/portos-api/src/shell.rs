//! The web shell on the live socket: the original's `shell:start`,
//! `shell:input`, `shell:resize`, `shell:stop` (→ `shell:started`,
//! `shell:output`, `shell:exit`, `shell:error`), plus `shell:attach`,
//! `shell:detach` and `shell:list`. Sessions live in the runner and belong to
//! the socket's login, not to the socket: closing the page detaches, it does
//! not kill; another login's socket cannot attach or type (the runner says
//! so). `shell:screen {sessionId, data}` replaces what the client shows (on
//! attaching, and after falling behind); output is coalesced, and a client
//! that does not keep up holds back its own stream only, never the queue of
//! its other events.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use portos_runner_client::shell::{OpenShell, ShellFrame, ShellLink};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Output gathered into one `shell:output` message at most.
const COALESCE: usize = 64 << 10;
/// Input taken in one `shell:input` at most (a large paste).
const MAX_INPUT: usize = 48 << 10;

/// The shell sessions one socket follows.
pub struct SocketShells {
    link: ShellLink,
    login: String,
    /// The socket's own stream of shell messages (its writer sends them).
    out: mpsc::Sender<Arc<str>>,
    following: Arc<std::sync::Mutex<HashMap<String, JoinHandle<()>>>>,
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
        self.following().retain(|_, t| !t.is_finished());
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
            "shell:attach" | "shell:detach" | "shell:input" | "shell:resize" | "shell:stop" => {
                let Some(id) = session_id(data) else {
                    self.invalid(event, "sessionId", "a session id is required");
                    return true;
                };
                match event {
                    "shell:attach" => self.attach(id),
                    "shell:detach" => {
                        if let Some(t) = self.following().remove(&id) {
                            t.abort();
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

    fn following(&self) -> std::sync::MutexGuard<'_, HashMap<String, JoinHandle<()>>> {
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
        let task = tokio::spawn(follow(
            self.link.clone(),
            self.login.clone(),
            id.clone(),
            self.out.clone(),
        ));
        if let Some(old) = self.following().insert(id, task) {
            old.abort();
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
        for (_, t) in self.following().drain() {
            t.abort();
        }
    }
}

/// One session to one socket: the screen, then output gathered while the
/// socket is busy, the exit last.
async fn follow(link: ShellLink, login: String, id: String, out: mpsc::Sender<Arc<str>>) {
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
            let text = carry.text(&pending);
            let m = message("shell:output", &json!({ "sessionId": id, "data": text }));
            if out.send(m).await.is_err() {
                return;
            }
        }
    }
}
