//! `/api/apps`: the apps registry, its processes' states and logs, updates,
//! and start/stop/restart, over `portos-apps` (the work is there).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portos_apps::{AppAction, control, ecosystem, launch, registry, supervise, update};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::routes::processes::{LogsQuery, lines_param, log_text};

/// `GET /api/apps`.
#[utoipa::path(get, operation_id = "listApps", path = "/api/apps", tag = "apps", responses((status = 200, description = "apps with `pm2Status` and `overallStatus`", body = Vec<crate::schemas::system::AppView>)))]
pub async fn list(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let views = control::views(&app.apps).await?;
    Ok(Json(Value::Array(
        views.into_iter().map(|v| v.record).collect(),
    )))
}

/// `GET /api/apps/:id`.
#[utoipa::path(get, operation_id = "getApp", path = "/api/apps/{id}", tag = "apps", params(("id" = String, Path)), responses((status = 200, description = "the app with `pm2Status`", body = crate::schemas::system::AppView), (status = 404, description = "App not found")))]
pub async fn get(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(control::view(&app.apps, &id).await?))
}

/// `POST /api/apps`.
#[utoipa::path(post, operation_id = "createApp", path = "/api/apps", tag = "apps", request_body(content = Object, description = "`{ name, repoPath, type?, uiPort?, apiPort?, startCommands?, pm2ProcessNames?, … }`"), responses((status = 201, description = "the created app", body = crate::schemas::system::AppView), (status = 400, description = "VALIDATION_ERROR with `context.details`")))]
pub async fn create(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let created = supervise::register(&app.apps, body).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `POST /api/apps/preview`: what registering the folder would run.
#[utoipa::path(post, operation_id = "previewApp", path = "/api/apps/preview", tag = "apps", request_body(content = Object, description = "`{ repoPath, name? }`"), responses((status = 200, description = "`{ source, processes: [{ name, command, cwd, ports }], unhonoured }`"), (status = 400, description = "VALIDATION_ERROR, ECOSYSTEM_INVALID, ECOSYSTEM_UNREADABLE")))]
pub async fn preview(Json(body): Json<Value>) -> Result<Json<Value>, ApiError> {
    let repo = body["repoPath"].as_str().unwrap_or_default();
    let name = body["name"].as_str().unwrap_or("app");
    Ok(Json(supervise::preview(repo, name).await?))
}

/// `PUT /api/apps/:id`: a shallow merge; `id` and `uiUrl` ignored, `createdAt` kept.
#[utoipa::path(put, operation_id = "updateApp", path = "/api/apps/{id}", tag = "apps", params(("id" = String, Path)), request_body(content = Object, description = "fields to change"), responses((status = 200, description = "the updated app", body = crate::schemas::system::AppView), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "App not found")))]
pub async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(registry::update(&app.apps, &id, body).await?))
}

/// `DELETE /api/apps/:id`: 204; its processes stopped and removed first.
#[utoipa::path(delete, operation_id = "deleteApp", path = "/api/apps/{id}", tag = "apps", params(("id" = String, Path)), responses((status = 204, description = "deleted"), (status = 403, description = "PROTECTED"), (status = 404, description = "App not found")))]
pub async fn delete(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    supervise::delete(&app.apps, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/apps/:id/archive`.
#[utoipa::path(post, operation_id = "archiveApp", path = "/api/apps/{id}/archive", tag = "apps", params(("id" = String, Path)), responses((status = 200, description = "the app, archived", body = crate::schemas::system::AppView), (status = 403, description = "PROTECTED"), (status = 404, description = "App not found")))]
pub async fn archive(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(supervise::set_archived(&app.apps, &id, true).await?))
}

/// `POST /api/apps/:id/unarchive`.
#[utoipa::path(post, operation_id = "unarchiveApp", path = "/api/apps/{id}/unarchive", tag = "apps", params(("id" = String, Path)), responses((status = 200, description = "the app", body = crate::schemas::system::AppView), (status = 404, description = "App not found")))]
pub async fn unarchive(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(supervise::set_archived(&app.apps, &id, false).await?))
}

/// `GET /api/apps/:id/task-types`.
#[utoipa::path(get, operation_id = "appTaskTypes", path = "/api/apps/{id}/task-types", tag = "apps", params(("id" = String, Path)), responses((status = 200, description = "`{ appId, appName, taskTypeOverrides }`", body = crate::schemas::system::AppTaskTypes), (status = 404, description = "App not found")))]
pub async fn task_types(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(registry::task_types(&app.apps, &id).await?))
}

/// `PUT /api/apps/:id/task-types/:taskType`: `{ enabled?, interval? }`.
#[utoipa::path(put, operation_id = "setAppTaskType", path = "/api/apps/{id}/task-types/{taskType}", tag = "apps", params(("id" = String, Path), ("taskType" = String, Path)), request_body(content = Object, description = "`{ enabled?: bool, interval?: rotation|daily|weekly|once|on-demand|null }`"), responses((status = 200, description = "`{ success, appId, taskType, enabled, interval, taskTypeOverrides }`"), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "App not found")))]
pub async fn set_task_type(
    State(app): State<AppState>,
    Path((id, task_type)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        registry::set_task_type(&app.apps, &id, &task_type, body).await?,
    ))
}

/// `POST /api/apps/:id/open-editor`.
#[utoipa::path(post, operation_id = "openAppEditor", path = "/api/apps/{id}/open-editor", tag = "apps", params(("id" = String, Path)), responses((status = 200, description = "`{ success, command, path }`"), (status = 400, description = "PATH_NOT_FOUND, INVALID_EDITOR (`context.allowedEditors`), INVALID_EDITOR_ARGS, COMMAND_NOT_FOUND"), (status = 404, description = "App not found")))]
pub async fn open_editor(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(launch::open_editor(&app.apps, &id).await?))
}

/// `POST /api/apps/:id/open-folder`.
#[utoipa::path(post, operation_id = "openAppFolder", path = "/api/apps/{id}/open-folder", tag = "apps", params(("id" = String, Path)), responses((status = 200, description = "`{ success, path }`"), (status = 400, description = "PATH_NOT_FOUND, COMMAND_NOT_FOUND"), (status = 404, description = "App not found")))]
pub async fn open_folder(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(launch::open_folder(&app.apps, &id).await?))
}

/// `POST /api/apps/:id/refresh-config`: the PM2 ecosystem file read again.
#[utoipa::path(post, operation_id = "refreshAppConfig", path = "/api/apps/{id}/refresh-config", tag = "apps", params(("id" = String, Path)), responses((status = 200, description = "`{ success, updated, app, processes }`"), (status = 400, description = "PATH_NOT_FOUND, ECOSYSTEM_UNREADABLE, COMMAND_NOT_FOUND (no Node.js)"), (status = 404, description = "App not found")))]
pub async fn refresh_config(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(ecosystem::refresh_config(&app.apps, &id).await?))
}

/// `POST /api/apps/:id/update`: git pull, npm install, setup, restart.
#[utoipa::path(post, operation_id = "updateAppCode", path = "/api/apps/{id}/update", tag = "apps", params(("id" = String, Path)), responses((status = 200, description = "`{ success, steps: [{ step, success, message }], progress: [{ step, status, message, timestamp }] }`; a failing step ends the update with `success: false`; a second update of the same repo answers the `lock` step"), (status = 400, description = "PATH_NOT_FOUND"), (status = 404, description = "App not found")))]
pub async fn update_code(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let o = update::perform(&app.apps, &id, |_| {}).await?;
    Ok(Json(
        json!({ "success": o.success, "steps": o.steps, "progress": o.progress }),
    ))
}

/// `GET /api/apps/:id/status`: `{ <process>: summary }`.
#[utoipa::path(get, operation_id = "appStatus", path = "/api/apps/{id}/status", tag = "apps", params(("id" = String, Path)), responses((status = 200, description = "`{ <process>: status }`", body = BTreeMap<String,crate::schemas::system::ProcessStatus>), (status = 404, description = "App not found")))]
pub async fn status(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(control::status(&app.apps, &id).await?)))
}

#[derive(Debug, Default, Deserialize)]
pub struct AppLogsQuery {
    lines: Option<String>,
    process: Option<String>,
}

/// `GET /api/apps/:id/logs`: one process's tail (the first by default).
#[utoipa::path(get, operation_id = "appLogs", path = "/api/apps/{id}/logs", tag = "apps", params(("id" = String, Path), ("lines" = Option<u32>, Query), ("process" = Option<String>, Query)), responses((status = 200, description = "`{ processName, lines, logs }`", body = crate::schemas::services::ProcessLogText), (status = 400, description = "MISSING_PROCESS or INVALID_PROCESS_NAME"), (status = 404, description = "App not found")))]
pub async fn logs(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<AppLogsQuery>,
) -> Result<Json<Value>, ApiError> {
    let (_, names) = control::with_names(&app.apps, &id).await?;
    let name = q
        .process
        .filter(|p| !p.is_empty())
        .or_else(|| names.first().cloned())
        .ok_or_else(|| ApiError::bad_request("MISSING_PROCESS", "No process name specified"))?;
    control::check_process_name(&name)?;
    let lines = lines_param(q.lines.as_deref(), 100);
    let logs = log_text(&app, &name, lines)
        .await
        .unwrap_or_else(|e| format!("Error retrieving logs: {}", e.message));
    Ok(Json(
        json!({ "processName": name, "lines": lines, "logs": logs }),
    ))
}

/// `GET /api/logs/app/:appId`: every process of an app, `{ app, processes: { <name>: text } }`.
#[utoipa::path(get, operation_id = "logsOfApp", path = "/api/logs/app/{id}", tag = "processes", params(("id" = String, Path), ("lines" = Option<u32>, Query)), responses((status = 200, description = "`{ app, processes }`", body = crate::schemas::services::AppLogs), (status = 404, description = "App not found")))]
pub async fn logs_of_app(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LogsQuery>,
) -> Result<Json<Value>, ApiError> {
    let (a, names) = control::with_names(&app.apps, &id).await?;
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

macro_rules! app_action {
    ($fn:ident, $action:expr, $path:literal) => {
        #[utoipa::path(post, path = $path, tag = "apps", operation_id = concat!(stringify!($fn), "App"), params(("id" = String, Path)),
            responses((status = 200, description = "`{ success, results: { <process>: { success, error? } } }`", body = crate::schemas::writes::AppControlled),
                      (status = 404, description = "App not found")))]
        pub async fn $fn(State(app): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
            let results = control::act(&app.apps, &id, $action).await?;
            Ok(Json(json!({ "success": true, "results": results })))
        }
    };
}
app_action!(start, AppAction::Start, "/api/apps/{id}/start");
app_action!(stop, AppAction::Stop, "/api/apps/{id}/stop");
app_action!(restart, AppAction::Restart, "/api/apps/{id}/restart");
