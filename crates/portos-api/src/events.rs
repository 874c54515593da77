//! Live events: the original's Socket.IO channels as plain WebSocket messages
//! `{ "event": name, "data": ... }` on `/ws` (and as a gRPC stream).
//!
//! A client sends `<channel>:subscribe` and gets `<channel>:subscribed`;
//! `<channel>:unsubscribe` → `<channel>:unsubscribed`. Channel events reach only
//! subscribers; broadcasts reach everyone. Each client has a bounded queue: one
//! that falls behind is dropped with a reason, and nobody else waits for it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::AppState;
use crate::error::now_ms;

/// Channels a client may subscribe to. `cosmos` is another name for `cos`.
pub const CHANNELS: &[&str] = &[
    "cos",
    "errors",
    "notifications",
    "agents",
    "instances",
    "detect",
    "logs",
    "brain",
];

/// Messages a client may be behind before it is dropped.
pub const CLIENT_QUEUE: usize = 256;

/// Why a client was dropped: sent as its close frame's reason.
pub const DROPPED_SLOW: &str = "dropped: the client did not keep up with its events";

/// What goes to one client: a message, or the end with a reason.
#[derive(Debug, Clone)]
enum Outgoing {
    Text(Arc<str>),
    Close(&'static str),
}

struct Client {
    tx: mpsc::Sender<Outgoing>,
    channels: HashSet<&'static str>,
}

/// The fan-out of events to connected clients.
#[derive(Default)]
pub struct Hub {
    next: AtomicU64,
    clients: Mutex<HashMap<u64, Client>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("clients", &self.client_count())
            .finish()
    }
}

/// A subscription to the hub from inside the server (the gRPC stream).
pub struct Subscription {
    pub id: u64,
    rx: mpsc::Receiver<Outgoing>,
}

impl Subscription {
    /// The next message as JSON text, `None` once dropped.
    pub async fn next(&mut self) -> Option<Result<Arc<str>, &'static str>> {
        match self.rx.recv().await? {
            Outgoing::Text(t) => Some(Ok(t)),
            Outgoing::Close(reason) => Some(Err(reason)),
        }
    }
}

fn channel_name(name: &str) -> Option<&'static str> {
    let name = if name == "cosmos" { "cos" } else { name };
    CHANNELS.iter().copied().find(|c| *c == name)
}

fn encode(event: &str, data: &Value) -> Arc<str> {
    Arc::from(json!({ "event": event, "data": data }).to_string())
}

impl Hub {
    pub fn client_count(&self) -> usize {
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// A new client with its bounded queue.
    pub fn connect(&self) -> Subscription {
        let (tx, rx) = mpsc::channel(CLIENT_QUEUE);
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id,
                Client {
                    tx,
                    channels: HashSet::new(),
                },
            );
        Subscription { id, rx }
    }

    pub fn disconnect(&self, id: u64) {
        self.clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// Subscribes or unsubscribes; `None` for an unknown channel.
    pub fn set_subscribed(&self, id: u64, channel: &str, on: bool) -> Option<&'static str> {
        let ch = channel_name(channel)?;
        if let Some(c) = self
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&id)
        {
            if on {
                c.channels.insert(ch);
            } else {
                c.channels.remove(ch);
            }
        }
        Some(ch)
    }

    /// Sends to one client.
    pub fn send_to(&self, id: u64, event: &str, data: &Value) {
        self.deliver(encode(event, data), |cid, _| cid == id);
    }

    /// Sends to the subscribers of `channel`.
    pub fn publish(&self, channel: &str, event: &str, data: &Value) {
        let Some(ch) = channel_name(channel) else {
            return;
        };
        self.deliver(encode(event, data), |_, c| c.channels.contains(ch));
    }

    /// Sends to every client.
    pub fn broadcast(&self, event: &str, data: &Value) {
        self.deliver(encode(event, data), |_, _| true);
    }

    fn deliver(&self, text: Arc<str>, to: impl Fn(u64, &Client) -> bool) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let mut dropped = Vec::new();
        for (id, c) in clients.iter() {
            if !to(*id, c) {
                continue;
            }
            match c.tx.try_send(Outgoing::Text(text.clone())) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => dropped.push(*id),
                Err(mpsc::error::TrySendError::Closed(_)) => dropped.push(*id),
            }
        }
        for id in dropped {
            if let Some(c) = clients.remove(&id) {
                tracing::warn!(client = id, "{DROPPED_SLOW}");
                // The queue is full: the close notice goes through the writer's own path.
                tokio::spawn(async move {
                    let _ = c.tx.send(Outgoing::Close(DROPPED_SLOW)).await;
                });
            }
        }
    }

    /// The payload of the original's `error:occurred` and `error:notified`.
    pub fn publish_error(&self, status: u16, code: &str, message: &str, context: Option<&Value>) {
        let data = json!({
            "message": message,
            "code": code,
            "status": status,
            "severity": if status >= 500 { "error" } else { "warning" },
            "timestamp": now_ms(),
            "context": context.map(sanitize).unwrap_or_else(|| json!({})),
            "canAutoFix": false,
        });
        self.broadcast("error:occurred", &data);
        self.publish("errors", "error:notified", &data);
    }
}

pub use portos_core::secrets::sanitize;

/// The domain crates publish through the hub.
impl portos_core::Events for Hub {
    fn broadcast(&self, event: &str, data: &Value) {
        Hub::broadcast(self, event, data);
    }

    fn publish(&self, channel: &str, event: &str, data: &Value) {
        Hub::publish(self, channel, event, data);
    }
}

/// `GET /ws`: the live-events socket.
pub async fn ws_handler(
    State(app): State<AppState>,
    login: Option<axum::Extension<portos_login::Login>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let login = login.map_or_else(|| "anonymous".to_string(), |l| l.0.0);
    upgrade
        .max_message_size(64 << 10)
        .on_upgrade(move |socket| serve_socket(app, socket, login))
}

/// What a client asked for beyond channel subscriptions.
#[derive(Debug, PartialEq)]
enum Request {
    /// `logs:subscribe { processName, lines }`: one live log tail per client.
    LogsSubscribe {
        process: String,
        lines: u32,
    },
    LogsUnsubscribe,
    /// `app:update { appId }`: an app update reported to this client.
    AppUpdate {
        app_id: String,
    },
    /// `detect:start { path }`: what the app in a folder looks like.
    Detect {
        path: String,
    },
    /// `shell:*`: the web shell (`shell.rs`).
    Shell {
        event: String,
        data: Value,
    },
}

async fn serve_socket(app: AppState, socket: WebSocket, login: String) {
    let hub = app.hub.clone();
    use futures_util::{SinkExt, StreamExt};
    let mut sub = hub.connect();
    let id = sub.id;
    let (mut sink, mut stream) = socket.split();
    // The shell's own stream to this socket: bounded, and waited on, so a
    // terminal's output holds back only itself (`shell.rs`).
    let (shell_tx, mut shell_rx) = mpsc::channel::<Arc<str>>(4);
    let shells = crate::shell::SocketShells::new(app.shells.clone(), login, shell_tx);
    let writer = tokio::spawn(async move {
        loop {
            let next = tokio::select! {
                biased;
                n = sub.next() => match n { Some(n) => n, None => return },
                Some(text) = shell_rx.recv() => Ok(text),
            };
            let sent = match next {
                Ok(text) => {
                    sink.send(Message::Text(Utf8Bytes::from(text.as_ref())))
                        .await
                }
                Err(reason) => {
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame {
                            code: 1008,
                            reason: Utf8Bytes::from_static(reason),
                        })))
                        .await;
                    return;
                }
            };
            if sent.is_err() {
                return;
            }
        }
    });
    let mut tail: Option<tokio::task::JoinHandle<()>> = None;
    let detecting = Arc::new(std::sync::atomic::AtomicBool::new(false));
    while let Some(Ok(msg)) = stream.next().await {
        match msg {
            Message::Text(t) => match handle_client_message(&hub, id, t.as_str()) {
                Some(Request::LogsSubscribe { process, lines }) => {
                    if let Some(old) = tail.take() {
                        old.abort();
                    }
                    tail = Some(tokio::spawn(crate::routes::processes::stream_logs_to(
                        app.clone(),
                        id,
                        process,
                        lines,
                    )));
                }
                Some(Request::LogsUnsubscribe) => {
                    if let Some(old) = tail.take() {
                        old.abort();
                    }
                    hub.send_to(id, "logs:unsubscribed", &json!({}));
                }
                Some(Request::Detect { path }) => {
                    // One detection at a time per client: each runs Node.js on
                    // an ecosystem file, and a client may not queue them up.
                    if detecting.swap(true, std::sync::atomic::Ordering::AcqRel) {
                        hub.send_to(
                            id,
                            "detect:start:error",
                            &json!({ "message": "a detection is already running for this client" }),
                        );
                    } else {
                        let (app, done) = (app.clone(), detecting.clone());
                        tokio::spawn(async move {
                            detect_for_client(app, id, path).await;
                            done.store(false, std::sync::atomic::Ordering::Release);
                        });
                    }
                }
                Some(Request::AppUpdate { app_id }) => {
                    // Runs to its end even if the client leaves: an update
                    // cut in the middle would leave the repo half done.
                    tokio::spawn(update_for_client(app.clone(), id, app_id));
                }
                Some(Request::Shell { event, data }) if !shells.handle(&event, &data) => {
                    hub.send_to(
                        id,
                        &format!("{event}:error"),
                        &json!({ "message": format!("unknown event \"{event}\"") }),
                    );
                }
                Some(Request::Shell { .. }) => {}
                None => {}
            },
            Message::Close(_) => break,
            _ => {}
        }
    }
    if let Some(t) = tail {
        t.abort();
    }
    shells.detach_all();
    hub.disconnect(id);
    writer.abort();
}

/// `{ "event": "errors:subscribe" }` and friends. A bad message gets an error event, never a crash.
fn handle_client_message(hub: &Hub, id: u64, text: &str) -> Option<Request> {
    let parsed: Result<Value, _> = serde_json::from_str(text);
    let Some(event) = parsed.as_ref().ok().and_then(|v| v.get("event")?.as_str()) else {
        hub.send_to(
            id,
            "error",
            &json!({ "message": "expected {\"event\": name, \"data\": ...}" }),
        );
        return None;
    };
    let data = parsed
        .as_ref()
        .ok()
        .and_then(|v| v.get("data"))
        .cloned()
        .unwrap_or(Value::Null);
    match event {
        "logs:subscribe" => return logs_request(hub, id, &data),
        "logs:unsubscribe" => return Some(Request::LogsUnsubscribe),
        "detect:start" => {
            return required(hub, id, event, &data, "path", "a folder path is required")
                .map(|path| Request::Detect { path });
        }
        "app:update" => {
            return required(hub, id, event, &data, "appId", "an app id is required")
                .map(|app_id| Request::AppUpdate { app_id });
        }
        e if e.starts_with("shell:") => {
            return Some(Request::Shell {
                event: event.to_string(),
                data,
            });
        }
        _ => {}
    }
    if let Some((channel, verb)) = event.rsplit_once(':') {
        let on = match verb {
            "subscribe" => Some(true),
            "unsubscribe" => Some(false),
            _ => None,
        };
        if let Some(on) = on {
            match hub.set_subscribed(id, channel, on) {
                Some(_) => {
                    let ack = format!("{channel}:{}", if on { "subscribed" } else { "unsubscribed" });
                    hub.send_to(id, &ack, &json!({}));
                }
                None => hub.send_to(
                    id,
                    &format!("{event}:error"),
                    &json!({ "message": format!("unknown channel \"{channel}\""), "channels": CHANNELS }),
                ),
            }
            return None;
        }
    }
    hub.send_to(
        id,
        &format!("{event}:error"),
        &json!({ "message": format!("unknown event \"{event}\"") }),
    );
    None
}

/// A non-empty string field of an event's payload; when missing, the original's
/// `<event>:error { message: "Validation failed", details }` to the sender.
fn required(
    hub: &Hub,
    id: u64,
    event: &str,
    data: &Value,
    field: &str,
    message: &str,
) -> Option<String> {
    match data.get(field).and_then(Value::as_str) {
        Some(v) if !v.is_empty() => Some(v.to_string()),
        _ => {
            hub.send_to(
                id,
                &format!("{event}:error"),
                &json!({ "message": "Validation failed", "details": [{ "path": field, "message": message }] }),
            );
            None
        }
    }
}

/// Validates `logs:subscribe`'s payload like the original: `processName`
/// (letters, digits, `.`, `_`, `-`) and `lines` 1-10000 (default 100).
fn logs_request(hub: &Hub, id: u64, data: &Value) -> Option<Request> {
    let mut details = Vec::new();
    let process = data
        .get("processName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let valid = !process.is_empty()
        && process.len() <= 100
        && process
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        details.push(json!({ "path": "processName", "message": "a process name is required" }));
    }
    let lines = match data.get("lines") {
        None | Some(Value::Null) => Some(100),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=10_000).contains(n))
            .map(|n| n as u32),
    };
    if lines.is_none() {
        details.push(
            json!({ "path": "lines", "message": "lines must be a whole number from 1 to 10000" }),
        );
    }
    match (valid, lines) {
        (true, Some(lines)) => Some(Request::LogsSubscribe { process, lines }),
        _ => {
            hub.send_to(
                id,
                "logs:subscribe:error",
                &json!({ "message": "Validation failed", "details": details }),
            );
            None
        }
    }
}

/// `detect:start`: each step of the detection to the asking client.
async fn detect_for_client(app: AppState, client: u64, path: String) {
    let hub = app.hub.clone();
    portos_apps::detect::detect(&app.apps, &path, |event, data| {
        hub.send_to(client, event, data);
    })
    .await;
}

/// `app:update { appId }`: each progress event to the asking client as
/// `app:update:step`, then `app:update:complete { success, steps }`, or
/// `app:update:error { message, code }` when the update cannot start.
async fn update_for_client(app: AppState, client: u64, id: String) {
    let hub = app.hub.clone();
    let outcome = portos_apps::update::perform(&app.apps, &id, |e| {
        hub.send_to(client, "app:update:step", e);
    })
    .await;
    match outcome.map_err(crate::ApiError::from) {
        Ok(o) => hub.send_to(
            client,
            "app:update:complete",
            &json!({ "success": o.success, "steps": o.steps }),
        ),
        Err(e) => hub.send_to(
            client,
            "app:update:error",
            &json!({ "message": e.message, "code": e.code }),
        ),
    }
}
