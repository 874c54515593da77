//! The endpoints the original backs with PM2, backed by our supervisor's
//! control API over its Unix socket: process list, log tails and live logs,
//! and start/stop/restart of the apps in `apps.json`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use pb::supervisor_client::SupervisorClient;
use portos_proto::supervisor::v1 as pb;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use crate::AppState;
use crate::error::{ApiError, now_ms};
use crate::routes::history;

/// How the api server reaches the supervisor.
#[derive(Debug, Clone)]
pub struct SupervisorLink {
    pub socket: PathBuf,
}

impl SupervisorLink {
    pub async fn client(&self) -> Result<SupervisorClient<Channel>, ApiError> {
        let channel = tokio::time::timeout(
            Duration::from_secs(2),
            portos_proto::unix::connect(&self.socket),
        )
        .await
        .map_err(|_| ApiError::unavailable("the supervisor did not answer within 2s"))?
        .map_err(|_| {
            ApiError::unavailable(format!(
                "the supervisor is not running (no control socket at {})",
                self.socket.display()
            ))
        })?;
        Ok(SupervisorClient::new(channel))
    }

    pub async fn list(&self) -> Result<Vec<pb::Process>, ApiError> {
        Ok(self
            .client()
            .await?
            .list_processes(pb::ListProcessesRequest {})
            .await
            .map_err(status_error)?
            .into_inner()
            .processes)
    }
}

fn status_error(s: tonic::Status) -> ApiError {
    match s.code() {
        tonic::Code::NotFound => ApiError::not_found(s.message().to_string()),
        tonic::Code::InvalidArgument => ApiError::validation(s.message().to_string()),
        _ => ApiError::unavailable(format!("supervisor: {}", s.message())),
    }
}

/// The PM2 status word the original's clients know.
fn pm2_status(state: i32) -> &'static str {
    match pb::State::try_from(state).unwrap_or(pb::State::Unspecified) {
        pb::State::Starting => "launching",
        pb::State::Healthy | pb::State::Unhealthy => "online",
        pb::State::Backoff => "waiting restart",
        pb::State::Stopping => "stopping",
        pb::State::Stopped => "stopped",
        pb::State::Errored => "errored",
        pb::State::Unspecified => "unknown",
    }
}

fn state_name(state: i32) -> String {
    pb::State::try_from(state)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("STATE_")
                .to_ascii_lowercase()
        })
        .unwrap_or_else(|_| "unknown".into())
}

/// A process in the original's summary shape, plus our richer fields.
pub fn summary(p: &pb::Process) -> Value {
    json!({
        "name": p.name,
        "status": pm2_status(p.state),
        "pid": (p.pid != 0).then_some(p.pid),
        "pm_id": Value::Null,
        "cpu": p.cpu_percent,
        "memory": p.memory_bytes,
        "uptime": (p.pid != 0).then_some(p.uptime_ms),
        "restarts": p.restarts,
        "state": state_name(p.state),
        "reason": p.reason,
        "ports": p.ports.iter().map(|x| (x.label.clone(), json!(x.port))).collect::<Map<String, Value>>(),
    })
}

/// `GET /api/logs/processes`.
#[utoipa::path(get, operation_id = "listProcesses", path = "/api/logs/processes", tag = "processes", responses((status = 200, description = "every supervised process"), (status = 503, description = "no supervisor")))]
pub async fn list_processes(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let ps = app.supervisor.list().await?;
    Ok(Json(Value::Array(ps.iter().map(summary).collect())))
}

#[derive(Debug, Default, Deserialize)]
pub struct LogsQuery {
    lines: Option<String>,
    follow: Option<String>,
}

fn valid_process_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "INVALID_PROCESS_NAME",
            format!("invalid process name {name:?}"),
        ))
    }
}

/// A `lines` query: 1 to 10,000, else `default`.
pub(crate) fn lines_param(v: Option<&str>, default: u32) -> u32 {
    v.and_then(|s| s.parse::<u32>().ok())
        .filter(|n| (1..=10_000).contains(n))
        .unwrap_or(default)
}

pub(crate) fn stream_name(s: i32) -> &'static str {
    if s == pb::Stream::Stderr as i32 {
        "stderr"
    } else {
        "stdout"
    }
}

/// `GET /api/logs/:processName` (`?follow=true` for server-sent events).
#[utoipa::path(get, operation_id = "processLogs", path = "/api/logs/{process}", tag = "processes", params(("process" = String, Path), ("lines" = Option<u32>, Query), ("follow" = Option<bool>, Query, description = "`true`: server-sent events")), responses((status = 200, description = "`{ processName, lines, logs }`, or an event stream"), (status = 400, description = "INVALID_PROCESS_NAME")))]
pub async fn process_logs(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<LogsQuery>,
) -> Result<Response, ApiError> {
    valid_process_name(&name)?;
    let lines = lines_param(q.lines.as_deref(), 100);
    let follow = q.follow.as_deref() == Some("true");
    let mut client = app.supervisor.client().await?;
    let stream = client
        .logs(pb::LogsRequest {
            name: name.clone(),
            tail: lines,
            follow,
        })
        .await
        .map_err(status_error)?
        .into_inner();
    if !follow {
        let text = collect_text(stream).await?;
        return Ok(
            Json(json!({ "processName": name, "lines": lines, "logs": text })).into_response(),
        );
    }
    let connected = Event::default()
        .event("connected")
        .json_data(json!({ "processName": name, "timestamp": now_ms() }))
        .unwrap_or_default();
    let events = tokio_stream::once(Ok::<_, Infallible>(connected)).chain(stream.map(|item| {
        Ok(match item {
            Ok(l) => Event::default()
                .event(stream_name(l.stream))
                .json_data(json!({ "line": l.text, "timestamp": l.timestamp, "type": stream_name(l.stream) }))
                .unwrap_or_default(),
            Err(s) => Event::default().event("error").json_data(json!({ "error": s.message() })).unwrap_or_default(),
        })
    }));
    let mut resp = Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response();
    resp.headers_mut().insert(
        "X-Accel-Buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    Ok(resp)
}

/// The apps of `apps.json`, as stored.
async fn apps(app: &AppState) -> Result<Map<String, Value>, ApiError> {
    let file: Map<String, Value> = app.store.load(portos_store::types::files::APPS).await?;
    Ok(file
        .get("apps")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default())
}

fn process_names(id: &str, a: &Value) -> Vec<String> {
    a.get("pm2ProcessNames")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .filter(|v: &Vec<String>| !v.is_empty())
        .unwrap_or_else(|| {
            let name = a.get("name").and_then(Value::as_str).unwrap_or(id);
            vec![
                name.to_ascii_lowercase()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join("-"),
            ]
        })
}

fn overall(statuses: &BTreeMap<String, Value>) -> &'static str {
    let st = |s: &str| statuses.values().any(|v| v["status"] == s);
    if statuses.is_empty() || statuses.values().all(|v| v["status"] == "not_found") {
        "not_started"
    } else if st("online") {
        "online"
    } else if st("stopped") {
        "stopped"
    } else {
        "unknown"
    }
}

fn statuses_for(names: &[String], running: &[pb::Process]) -> BTreeMap<String, Value> {
    names
        .iter()
        .map(|n| {
            let s = running
                .iter()
                .find(|p| &p.name == n)
                .map(summary)
                .unwrap_or_else(|| json!({ "name": n, "status": "not_found", "pm2_env": null }));
            (n.clone(), s)
        })
        .collect()
}

/// One app as listed: the record with its id, and its processes' states.
#[derive(Debug, Clone)]
pub struct AppView {
    pub id: String,
    /// The record as REST answers it (`id`, `overallStatus`, `pm2Status` added).
    pub record: Value,
    pub statuses: BTreeMap<String, Value>,
    pub overall: &'static str,
}

/// Every app with the state of its processes (one call to the supervisor).
pub async fn app_views(app: &AppState) -> Result<Vec<AppView>, ApiError> {
    let running = app.supervisor.list().await.unwrap_or_default();
    Ok(apps(app)
        .await?
        .into_iter()
        .map(|(id, a)| {
            let statuses = statuses_for(&process_names(&id, &a), &running);
            let overall = overall(&statuses);
            let mut record = a;
            record["id"] = json!(id);
            record["overallStatus"] = json!(overall);
            record["pm2Status"] = json!(statuses);
            AppView {
                id,
                record,
                statuses,
                overall,
            }
        })
        .collect())
}

/// `GET /api/apps`.
#[utoipa::path(get, operation_id = "listApps", path = "/api/apps", tag = "apps", responses((status = 200, description = "apps with `pm2Status` and `overallStatus`")))]
pub async fn list_apps(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let views = app_views(&app).await?;
    Ok(Json(Value::Array(
        views.into_iter().map(|v| v.record).collect(),
    )))
}

/// `GET /api/apps/:id`.
#[utoipa::path(get, operation_id = "getApp", path = "/api/apps/{id}", tag = "apps", params(("id" = String, Path)), responses((status = 200, description = "the app with `pm2Status`"), (status = 404, description = "App not found")))]
pub async fn get_app(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let all = apps(&app).await?;
    let a = all
        .get(&id)
        .ok_or_else(|| ApiError::not_found("App not found"))?;
    let running = app.supervisor.list().await.unwrap_or_default();
    let mut v = a.clone();
    v["id"] = json!(id);
    v["pm2Status"] = json!(statuses_for(&process_names(&id, a), &running));
    Ok(Json(v))
}

#[derive(Debug, Clone, Copy)]
pub enum AppAction {
    Start,
    Stop,
    Restart,
}

impl AppAction {
    fn word(self) -> &'static str {
        match self {
            AppAction::Start => "start",
            AppAction::Stop => "stop",
            AppAction::Restart => "restart",
        }
    }
}

/// `POST /api/apps/:id/{start,stop,restart}`.
pub async fn act_on_app(
    app: AppState,
    id: String,
    action: AppAction,
) -> Result<Json<Value>, ApiError> {
    let results = act(app, id, action).await?;
    Ok(Json(json!({ "success": true, "results": results })))
}

/// Starts, stops or restarts each process of an app ([`control_all`]), and
/// records it in the history; per process `{ success, error?, pending? }`.
pub async fn act(
    app: AppState,
    id: String,
    action: AppAction,
) -> Result<Map<String, Value>, ApiError> {
    let all = apps(&app).await?;
    let a = all
        .get(&id)
        .ok_or_else(|| ApiError::not_found("App not found"))?;
    let names = process_names(&id, a);
    let results = control_all(&app, &names, action).await;
    let all_ok = results.values().all(|r| r["success"] == true);
    let app_name = a.get("name").and_then(Value::as_str).map(str::to_string);
    history::record(
        &app,
        action.word(),
        Some(&id),
        app_name.as_deref(),
        json!({ "processNames": names }),
        all_ok,
        None,
    )
    .await?;
    app.hub.broadcast(
        "apps:changed",
        &json!({ "action": action.word(), "timestamp": now_ms() }),
    );
    Ok(results)
}

/// Acts on each named process through the supervisor, in order; per process
/// `{ success, error? }`. The api server's own process is acted on just after
/// (`{ success, pending }`), so the answer is never cut off by its own restart.
pub async fn control_all(
    app: &AppState,
    names: &[String],
    action: AppAction,
) -> Map<String, Value> {
    let me = std::env::var("PORTOS_PROCESS_NAME").ok();
    let mut results = Map::new();
    for n in names {
        if me.as_deref() == Some(n.as_str()) && !matches!(action, AppAction::Start) {
            results.insert(n.clone(), json!({ "success": true, "pending": true }));
            let (app, n) = (app.clone(), n.clone());
            tokio::spawn(async move {
                // Let the answer leave first.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = control(&app, &n, action).await;
            });
            continue;
        }
        let outcome = control(app, n, action).await;
        results.insert(
            n.clone(),
            match outcome {
                Ok(()) => json!({ "success": true }),
                Err(e) => json!({ "success": false, "error": e.message }),
            },
        );
    }
    results
}

pub(crate) async fn control(app: &AppState, name: &str, action: AppAction) -> Result<(), ApiError> {
    let mut c = app.supervisor.client().await?;
    let req = pb::ControlRequest {
        name: name.to_string(),
    };
    match action {
        AppAction::Start => c.start(req).await,
        AppAction::Stop => c.stop(req).await,
        AppAction::Restart => c.restart(req).await,
    }
    .map(drop)
    .map_err(status_error)
}

/// `POST /api/processes/:name/:action` (`start`, `stop`, `restart`): one
/// supervised process, by its name (the dashboard's buttons). The api server's
/// own process answers first and is acted on just after.
#[utoipa::path(post, operation_id = "controlProcess", path = "/api/processes/{name}/{action}", tag = "processes", params(("name" = String, Path), ("action" = String, Path, description = "start, stop or restart")), responses((status = 200, description = "`{ success, name, action, pending? }`"), (status = 400, description = "INVALID_ACTION or INVALID_PROCESS_NAME"), (status = 404, description = "no such process")))]
pub async fn control_process(
    State(app): State<AppState>,
    Path((name, action)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    valid_process_name(&name)?;
    let act = match action.as_str() {
        "start" => AppAction::Start,
        "stop" => AppAction::Stop,
        "restart" => AppAction::Restart,
        _ => {
            return Err(ApiError::bad_request(
                "INVALID_ACTION",
                format!("action {action:?}: use start, stop or restart"),
            ));
        }
    };
    let me = std::env::var("PORTOS_PROCESS_NAME").ok();
    let pending = if me.as_deref() == Some(name.as_str()) {
        control_all(&app, std::slice::from_ref(&name), act).await;
        true
    } else {
        control(&app, &name, act).await?;
        false
    };
    history::record(
        &app,
        act.word(),
        Some(&name),
        Some(&name),
        json!({ "process": name }),
        true,
        None,
    )
    .await?;
    Ok(Json(
        json!({ "success": true, "name": name, "action": act.word(), "pending": pending }),
    ))
}

/// Forwards one process's log lines to one live-events client, as the
/// original's `logs:subscribed`, `logs:line`, `logs:error` and `logs:close`.
pub async fn stream_logs_to(app: AppState, client: u64, process: String, lines: u32) {
    let hub = app.hub.clone();
    let fail = |e: String| {
        hub.send_to(
            client,
            "logs:error",
            &json!({ "error": e, "processName": process }),
        );
    };
    let mut sup = match app.supervisor.client().await {
        Ok(c) => c,
        Err(e) => return fail(e.message),
    };
    let mut stream = match sup
        .logs(pb::LogsRequest {
            // `all`: every process, each line naming its own.
            name: if process == "all" {
                String::new()
            } else {
                process.clone()
            },
            tail: lines,
            follow: true,
        })
        .await
    {
        Ok(s) => s.into_inner(),
        Err(s) => return fail(status_error(s).message),
    };
    hub.send_to(
        client,
        "logs:subscribed",
        &json!({ "processName": process, "timestamp": now_ms() }),
    );
    while let Some(item) = stream.next().await {
        match item {
            Ok(l) if !l.text.trim().is_empty() => hub.send_to(
                client,
                "logs:line",
                &json!({ "line": l.text, "type": stream_name(l.stream), "timestamp": l.timestamp, "processName": l.process }),
            ),
            Ok(_) => {}
            Err(s) => return fail(s.message().to_string()),
        }
    }
    hub.send_to(
        client,
        "logs:close",
        &json!({ "code": 0, "processName": process }),
    );
}

/// One log line in the original's text: `<stamp>: <line>`.
pub(crate) fn push_line(text: &mut String, l: &pb::LogLine) {
    text.push_str(&l.timestamp);
    text.push_str(": ");
    text.push_str(&l.text);
    text.push('\n');
}

/// A finished log stream as the original's text.
async fn collect_text(mut stream: tonic::Streaming<pb::LogLine>) -> Result<String, ApiError> {
    let mut text = String::new();
    while let Some(line) = stream.next().await {
        push_line(&mut text, &line.map_err(status_error)?);
    }
    Ok(text)
}

/// The last `lines` lines of one process, from the supervisor.
pub(crate) async fn log_tail(
    app: &AppState,
    name: &str,
    lines: u32,
) -> Result<tonic::Streaming<pb::LogLine>, ApiError> {
    Ok(app
        .supervisor
        .client()
        .await?
        .logs(pb::LogsRequest {
            name: name.to_string(),
            tail: lines,
            follow: false,
        })
        .await
        .map_err(status_error)?
        .into_inner())
}

/// The last `lines` lines of one process, as text.
async fn log_text(app: &AppState, name: &str, lines: u32) -> Result<String, ApiError> {
    collect_text(log_tail(app, name, lines).await?).await
}

async fn app_and_names(app: &AppState, id: &str) -> Result<(Value, Vec<String>), ApiError> {
    let all = apps(app).await?;
    let a = all
        .get(id)
        .ok_or_else(|| ApiError::not_found("App not found"))?;
    Ok((a.clone(), process_names(id, a)))
}

/// `GET /api/apps/:id/status`: `{ <process>: summary }`.
#[utoipa::path(get, operation_id = "appStatus", path = "/api/apps/{id}/status", tag = "apps", params(("id" = String, Path)), responses((status = 200, description = "`{ <process>: status }`"), (status = 404, description = "App not found")))]
pub async fn app_status(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (_, names) = app_and_names(&app, &id).await?;
    let running = app.supervisor.list().await.unwrap_or_default();
    Ok(Json(json!(statuses_for(&names, &running))))
}

#[derive(Debug, Default, Deserialize)]
pub struct AppLogsQuery {
    lines: Option<String>,
    process: Option<String>,
}

/// `GET /api/apps/:id/logs`: one process's tail (the first by default).
#[utoipa::path(get, operation_id = "appLogs", path = "/api/apps/{id}/logs", tag = "apps", params(("id" = String, Path), ("lines" = Option<u32>, Query), ("process" = Option<String>, Query)), responses((status = 200, description = "`{ processName, lines, logs }`"), (status = 400, description = "MISSING_PROCESS or INVALID_PROCESS_NAME"), (status = 404, description = "App not found")))]
pub async fn app_logs(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<AppLogsQuery>,
) -> Result<Json<Value>, ApiError> {
    let (_, names) = app_and_names(&app, &id).await?;
    let name = q
        .process
        .filter(|p| !p.is_empty())
        .or_else(|| names.first().cloned())
        .ok_or_else(|| ApiError::bad_request("MISSING_PROCESS", "No process name specified"))?;
    valid_process_name(&name)?;
    let lines = lines_param(q.lines.as_deref(), 100);
    let logs = log_text(&app, &name, lines)
        .await
        .unwrap_or_else(|e| format!("Error retrieving logs: {}", e.message));
    Ok(Json(
        json!({ "processName": name, "lines": lines, "logs": logs }),
    ))
}

/// `GET /api/logs/app/:appId`: every process of an app, `{ app, processes: { <name>: text } }`.
#[utoipa::path(get, operation_id = "logsOfApp", path = "/api/logs/app/{id}", tag = "processes", params(("id" = String, Path), ("lines" = Option<u32>, Query)), responses((status = 200, description = "`{ app, processes }`"), (status = 404, description = "App not found")))]
pub async fn logs_of_app(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LogsQuery>,
) -> Result<Json<Value>, ApiError> {
    let (a, names) = app_and_names(&app, &id).await?;
    let lines = lines_param(q.lines.as_deref(), 100);
    let mut processes = Map::new();
    for n in names {
        let text = log_text(&app, &n, lines)
            .await
            .unwrap_or_else(|e| format!("Error: {}", e.message));
        processes.insert(n, json!(text));
    }
    Ok(Json(
        json!({ "app": a.get("name").cloned().unwrap_or(Value::Null), "processes": processes }),
    ))
}
