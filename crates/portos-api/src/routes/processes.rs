//! The endpoints the original backs with PM2, backed by our supervisor's
//! control API over its Unix socket: the process list, log tails and live
//! logs, and start/stop/restart of one process (apps: `routes::apps`).

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use portos_apps::control::{self, check_process_name};
use portos_apps::{AppAction, Supervisor};
use portos_core::time::now_ms;
use portos_proto::supervisor::v1 as pb;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_stream::StreamExt;

use crate::AppState;
use crate::error::ApiError;
use portos_supervisor_client::status_problem;

/// `GET /api/logs/processes`.
#[utoipa::path(get, operation_id = "listProcesses", path = "/api/logs/processes", tag = "processes", responses((status = 200, description = "every supervised process", body = Vec<crate::schemas::services::SupervisedProcess>), (status = 503, description = "no supervisor")))]
pub async fn list_processes(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let ps = app.supervisor.list().await?;
    Ok(Json(Value::Array(ps.iter().map(|p| p.summary()).collect())))
}

#[derive(Debug, Default, Deserialize)]
pub struct LogsQuery {
    pub(crate) lines: Option<String>,
    follow: Option<String>,
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
    check_process_name(&name)?;
    let lines = lines_param(q.lines.as_deref(), 100);
    let follow = q.follow.as_deref() == Some("true");
    let stream = app.supervisor.logs(&name, lines, follow).await?;
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

/// `POST /api/processes/:name/:action` (`start`, `stop`, `restart`): one
/// supervised process, by its name (the dashboard's buttons). The api server's
/// own process answers first and is acted on just after.
#[utoipa::path(post, operation_id = "controlProcess", path = "/api/processes/{name}/{action}", tag = "processes", params(("name" = String, Path), ("action" = String, Path, description = "start, stop or restart")), responses((status = 200, description = "`{ success, name, action, pending? }`", body = crate::schemas::writes::ProcessControlled), (status = 400, description = "INVALID_ACTION or INVALID_PROCESS_NAME"), (status = 404, description = "no such process")))]
pub async fn control_process(
    State(app): State<AppState>,
    Path((name, action)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    check_process_name(&name)?;
    let act = AppAction::parse(&action)?;
    let pending = control::control_process(&app.apps, &name, act).await?;
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
    // `all`: every process, each line naming its own.
    let name = if process == "all" {
        ""
    } else {
        process.as_str()
    };
    let mut stream = match app.supervisor.logs(name, lines, true).await {
        Ok(s) => s,
        Err(e) => return fail(e.message),
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
        push_line(&mut text, &line.map_err(status_problem)?);
    }
    Ok(text)
}

/// The last `lines` lines of one process, from the supervisor.
pub(crate) async fn log_tail(
    app: &AppState,
    name: &str,
    lines: u32,
) -> Result<tonic::Streaming<pb::LogLine>, ApiError> {
    Ok(app.supervisor.logs(name, lines, false).await?)
}

/// The last `lines` lines of one process, as text.
pub(crate) async fn log_text(app: &AppState, name: &str, lines: u32) -> Result<String, ApiError> {
    collect_text(log_tail(app, name, lines).await?).await
}
