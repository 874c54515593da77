//! `/api/commands`: the original's command runner over `portos-commands`
//! (the allow-list, the run and the history are there), and its two
//! process views over the supervisor.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portos_apps::Supervisor;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteBody {
    /// The program and its arguments; quotes group words, nothing expands.
    command: Option<Value>,
    /// An absolute folder to run in (the server's folder when absent).
    workspace_path: Option<String>,
}

/// `POST /api/commands/execute`.
#[utoipa::path(post, operation_id = "executeCommand", path = "/api/commands/execute", tag = "commands", request_body = ExecuteBody,
    responses(
        (status = 202, description = "`{ commandId, status: \"started\" }`; output follows as `command:<id>:data` and `command:<id>:complete` on /ws", body = crate::schemas::writes::CommandStarted),
        (status = 400, description = "MISSING_COMMAND or INVALID_WORKSPACE"),
        (status = 403, description = "FORBIDDEN: not in the allow-list, shell characters, empty; recorded in the history"),
        (status = 409, description = "TOO_MANY_COMMANDS"),
        (status = 422, description = "COMMAND_NOT_RUN (the program cannot start) or SETTINGS_INVALID")))]
pub async fn execute(
    State(app): State<AppState>,
    Json(body): Json<ExecuteBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let command = body.command.as_ref().and_then(Value::as_str);
    let started = app
        .commands
        .execute(command, body.workspace_path.as_deref())
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "commandId": started.id, "status": "started" })),
    ))
}

/// `POST /api/commands/:id/stop`.
#[utoipa::path(post, operation_id = "stopCommand", path = "/api/commands/{id}/stop", tag = "commands", params(("id" = String, Path)),
    responses((status = 200, description = "`{ stopped: true }`: SIGTERM to the command's process group, SIGKILL 5 s later", body = crate::schemas::writes::CommandStopped), (status = 404, description = "NOT_ACTIVE")))]
pub async fn stop(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.commands.stop(&id)?;
    Ok(Json(json!({ "stopped": true })))
}

/// `GET /api/commands/allowed`.
#[utoipa::path(get, operation_id = "allowedCommands", path = "/api/commands/allowed", tag = "commands",
    responses((status = 200, description = "the allow-list (settings.json `commands.allowed`), sorted", body = Vec<String>), (status = 422, description = "SETTINGS_INVALID")))]
pub async fn allowed(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(app.commands.allowed().await?)))
}

/// `GET /api/commands/processes`.
#[utoipa::path(get, operation_id = "commandProcesses", path = "/api/commands/processes", tag = "commands",
    responses((status = 200, description = "the supervised processes, as PM2 listed them: `[{ name, status, pid, pm_id, cpu, memory, uptime, restarts }]`", body = Vec<crate::schemas::services::SupervisedProcess>), (status = 503, description = "no supervisor")))]
pub async fn processes(state: State<AppState>) -> Result<Json<Value>, ApiError> {
    super::processes::list_processes(state).await
}

/// `GET /api/commands/processes/:name/monit`.
#[utoipa::path(get, operation_id = "commandProcessMonit", path = "/api/commands/processes/{name}/monit", tag = "commands", params(("name" = String, Path)),
    responses((status = 200, description = "`{ name, status, pid, cpu, memory, uptime, restarts }`", body = crate::schemas::services::ProcessMonit), (status = 404, description = "Process not found")))]
pub async fn monit(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ps = app.supervisor.list().await?;
    let p = ps
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| ApiError::not_found("Process not found"))?;
    let s = p.summary();
    let pick = [
        "name", "status", "pid", "cpu", "memory", "uptime", "restarts",
    ];
    Ok(Json(Value::Object(
        pick.iter()
            .map(|k| (k.to_string(), s[*k].clone()))
            .collect(),
    )))
}
