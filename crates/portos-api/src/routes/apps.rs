//! `/api/apps` registry changes: create, update, delete, archive, unarchive
//! (`data/apps.json`, `{ "apps": { <id>: app } }`, fields the original wrote kept).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portos_store::types::files;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::{ApiError, now_iso, now_ms};

/// The app PortOS itself is: it cannot be deleted or archived.
pub const PROTECTED_APP: &str = "portos-default";

/// One problem with a field: `{ path, message }`.
fn problem(path: &str, message: &str) -> Value {
    json!({ "path": path, "message": message })
}

fn validation(details: Vec<Value>) -> ApiError {
    ApiError::validation("Validation failed").with_context(json!({ "details": details }))
}

fn check_port(body: &Map<String, Value>, key: &str, details: &mut Vec<Value>) {
    match body.get(key) {
        None | Some(Value::Null) => {}
        Some(v) if v.as_u64().is_some_and(|p| (1..=65535).contains(&p)) => {}
        Some(_) => details.push(problem(
            key,
            "must be a whole number from 1 to 65535, or null",
        )),
    }
}

fn check_strings(body: &Map<String, Value>, key: &str, non_empty: bool, details: &mut Vec<Value>) {
    match body.get(key) {
        None => {}
        Some(Value::Array(a))
            if a.iter().all(Value::is_string) && (!non_empty || !a.is_empty()) => {}
        Some(_) => details.push(problem(
            key,
            if non_empty {
                "must be a non-empty list of strings"
            } else {
                "must be a list of strings"
            },
        )),
    }
}

/// The original's `appSchema`; `partial` for updates (nothing required).
fn validate(body: &Map<String, Value>, partial: bool) -> Result<(), ApiError> {
    let mut details = Vec::new();
    match body.get("name") {
        None if partial => {}
        Some(Value::String(n)) if (1..=100).contains(&n.chars().count()) => {}
        _ => details.push(problem("name", "a name of 1 to 100 characters is required")),
    }
    match body.get("repoPath") {
        None if partial => {}
        Some(Value::String(p)) if !p.is_empty() => {}
        _ => details.push(problem("repoPath", "a repository path is required")),
    }
    check_port(body, "uiPort", &mut details);
    check_port(body, "apiPort", &mut details);
    check_strings(body, "startCommands", true, &mut details);
    check_strings(body, "pm2ProcessNames", false, &mut details);
    for key in ["type", "envFile", "editorCommand", "description"] {
        if body.get(key).is_some_and(|v| !v.is_string()) {
            details.push(problem(key, "must be a string"));
        }
    }
    if details.is_empty() {
        Ok(())
    } else {
        Err(validation(details))
    }
}

fn with_id(id: &str, app: &Value) -> Value {
    let mut v = app.clone();
    v["id"] = json!(id);
    v
}

fn change(app: &AppState, action: &str) {
    app.hub.broadcast(
        "apps:changed",
        &json!({ "action": action, "timestamp": now_ms() }),
    );
}

/// `POST /api/apps`.
#[utoipa::path(post, operation_id = "createApp", path = "/api/apps", tag = "apps", request_body(content = Object, description = "`{ name, repoPath, type?, uiPort?, apiPort?, startCommands?, pm2ProcessNames?, … }`"), responses((status = 201, description = "the created app"), (status = 400, description = "VALIDATION_ERROR with `context.details`")))]
pub async fn create(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let Value::Object(body) = body else {
        return Err(validation(vec![problem("", "an object is required")]));
    };
    validate(&body, false)?;
    let name = body["name"].as_str().unwrap_or_default().to_string();
    let now = now_iso();
    let mut record = json!({
        "name": name,
        "description": "",
        "repoPath": body["repoPath"],
        "type": "express",
        "uiPort": null,
        "apiPort": null,
        "startCommands": ["npm run dev"],
        "pm2ProcessNames": [name.to_lowercase().split_whitespace().collect::<Vec<_>>().join("-")],
        "envFile": ".env",
        "icon": null,
        "editorCommand": "code .",
        "archived": false,
        "jira": null,
    });
    // As the original: these are not taken on create.
    const DROPPED: &[&str] = &[
        "id",
        "uiUrl",
        "processes",
        "pm2Home",
        "disabledTaskTypes",
        "taskTypeOverrides",
        "defaultUseWorktree",
        "archived",
        "createdAt",
        "updatedAt",
    ];
    for (k, v) in body {
        if !DROPPED.contains(&k.as_str()) {
            record[k] = v;
        }
    }
    record["createdAt"] = json!(now);
    record["updatedAt"] = json!(now);
    let id = uuid::Uuid::new_v4().to_string();
    let stored = record.clone();
    app.store
        .update(files::APPS, |f: &mut Map<String, Value>| {
            let apps = f.entry("apps").or_insert_with(|| json!({}));
            if !apps.is_object() {
                *apps = json!({});
            }
            apps[&id] = stored;
            Ok::<(), ()>(())
        })
        .await?
        .ok();
    change(&app, "create");
    Ok((StatusCode::CREATED, Json(with_id(&id, &record))).into_response())
}

/// Applies `f` to app `id` under the file's lock; 404 when it is not there.
async fn edit(
    app: &AppState,
    id: &str,
    f: impl FnOnce(&mut Value) -> Result<(), ApiError>,
) -> Result<Value, ApiError> {
    app.store
        .update(files::APPS, |file: &mut Map<String, Value>| {
            let a = file
                .get_mut("apps")
                .and_then(|a| a.get_mut(id))
                .ok_or_else(|| ApiError::not_found("App not found"))?;
            f(a)?;
            a["updatedAt"] = json!(now_iso());
            Ok(a.clone())
        })
        .await?
}

/// `PUT /api/apps/:id`: a shallow merge; `id` and `uiUrl` ignored, `createdAt` kept.
#[utoipa::path(put, operation_id = "updateApp", path = "/api/apps/{id}", tag = "apps", params(("id" = String, Path)), request_body(content = Object, description = "fields to change"), responses((status = 200, description = "the updated app"), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "App not found")))]
pub async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let Value::Object(body) = body else {
        return Err(validation(vec![problem("", "an object is required")]));
    };
    validate(&body, true)?;
    let updated = edit(&app, &id, |a| {
        for (k, v) in body {
            if !matches!(k.as_str(), "id" | "uiUrl" | "createdAt") {
                a[k] = v;
            }
        }
        Ok(())
    })
    .await?;
    Ok(Json(with_id(&id, &updated)))
}

/// `DELETE /api/apps/:id`: 204; the supervised processes keep running.
#[utoipa::path(delete, operation_id = "deleteApp", path = "/api/apps/{id}", tag = "apps", params(("id" = String, Path)), responses((status = 204, description = "deleted"), (status = 403, description = "PROTECTED"), (status = 404, description = "App not found")))]
pub async fn delete(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if id == PROTECTED_APP {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "PROTECTED",
            "PortOS itself cannot be deleted",
        ));
    }
    app.store
        .update(files::APPS, |f: &mut Map<String, Value>| {
            f.get_mut("apps")
                .and_then(Value::as_object_mut)
                .and_then(|a| a.remove(&id))
                .map(drop)
                .ok_or_else(|| ApiError::not_found("App not found"))
        })
        .await??;
    change(&app, "delete");
    Ok(StatusCode::NO_CONTENT)
}

async fn set_archived(app: AppState, id: String, archived: bool) -> Result<Json<Value>, ApiError> {
    if archived && id == PROTECTED_APP {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "PROTECTED",
            "PortOS itself cannot be archived",
        ));
    }
    let updated = edit(&app, &id, |a| {
        a["archived"] = json!(archived);
        Ok(())
    })
    .await?;
    change(&app, if archived { "archive" } else { "unarchive" });
    Ok(Json(with_id(&id, &updated)))
}

/// `POST /api/apps/:id/archive`.
#[utoipa::path(post, operation_id = "archiveApp", path = "/api/apps/{id}/archive", tag = "apps", params(("id" = String, Path)), responses((status = 200, description = "the app, archived"), (status = 403, description = "PROTECTED"), (status = 404, description = "App not found")))]
pub async fn archive(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_archived(app, id, true).await
}

/// `POST /api/apps/:id/unarchive`.
#[utoipa::path(post, operation_id = "unarchiveApp", path = "/api/apps/{id}/unarchive", tag = "apps", params(("id" = String, Path)), responses((status = 200, description = "the app"), (status = 404, description = "App not found")))]
pub async fn unarchive(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_archived(app, id, false).await
}

/// The original's legacy `disabledTaskTypes: [..]` becomes
/// `taskTypeOverrides: { <type>: { enabled: false } }`; whether anything changed.
fn migrate_task_types(a: &mut Value) -> bool {
    let Some(obj) = a.as_object_mut() else {
        return false;
    };
    if obj.contains_key("taskTypeOverrides") || !obj.contains_key("disabledTaskTypes") {
        return false;
    }
    let legacy = obj.remove("disabledTaskTypes").unwrap_or_default();
    let overrides: Map<String, Value> = legacy
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|t| (t.to_string(), json!({ "enabled": false })))
        .collect();
    obj.insert("taskTypeOverrides".into(), Value::Object(overrides));
    true
}

/// `GET /api/apps/:id/task-types`: the app's task type overrides (a legacy
/// `disabledTaskTypes` list is migrated first, and saved).
#[utoipa::path(get, operation_id = "appTaskTypes", path = "/api/apps/{id}/task-types", tag = "apps", params(("id" = String, Path)), responses((status = 200, description = "`{ appId, appName, taskTypeOverrides }`"), (status = 404, description = "App not found")))]
pub async fn task_types(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let file: Map<String, Value> = app.store.load(files::APPS).await?;
    let mut a = file
        .get("apps")
        .and_then(|a| a.get(&id))
        .cloned()
        .ok_or_else(|| ApiError::not_found("App not found"))?;
    if migrate_task_types(&mut a.clone()) {
        a = app
            .store
            .update(files::APPS, |file: &mut Map<String, Value>| {
                let a = file
                    .get_mut("apps")
                    .and_then(|a| a.get_mut(&id))
                    .ok_or_else(|| ApiError::not_found("App not found"))?;
                migrate_task_types(a);
                Ok::<Value, ApiError>(a.clone())
            })
            .await??;
    }
    Ok(Json(json!({
        "appId": id,
        "appName": a["name"],
        "taskTypeOverrides": a.get("taskTypeOverrides").cloned().unwrap_or_else(|| json!({})),
    })))
}

/// Intervals a task type may run at; `null` inherits the global one.
const INTERVALS: &[&str] = &["rotation", "daily", "weekly", "once", "on-demand"];

/// `PUT /api/apps/:id/task-types/:taskType`: `{ enabled?, interval? }`. An
/// override that inherits everything (not disabled, no interval) is removed.
#[utoipa::path(put, operation_id = "setAppTaskType", path = "/api/apps/{id}/task-types/{taskType}", tag = "apps", params(("id" = String, Path), ("taskType" = String, Path)), request_body(content = Object, description = "`{ enabled?: bool, interval?: rotation|daily|weekly|once|on-demand|null }`"), responses((status = 200, description = "`{ success, appId, taskType, enabled, interval, taskTypeOverrides }`"), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "App not found")))]
pub async fn set_task_type(
    State(app): State<AppState>,
    Path((id, task_type)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let valid_name = !task_type.is_empty()
        && task_type.len() <= 100
        && task_type
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if !valid_name {
        return Err(ApiError::validation(format!(
            "task type {task_type:?} must be 1-100 letters, digits, '-', '_', '.' or ':'"
        )));
    }
    let enabled = body.get("enabled").and_then(Value::as_bool);
    let interval = body.get("interval");
    if enabled.is_none() && interval.is_none() {
        return Err(ApiError::validation(
            "enabled (boolean) or interval (string|null) required",
        ));
    }
    if let Some(i) = interval
        && !(i.is_null() || i.as_str().is_some_and(|s| INTERVALS.contains(&s)))
    {
        return Err(ApiError::validation(format!(
            "interval must be one of {} or null",
            INTERVALS.join("|")
        )));
    }
    let updated = edit(&app, &id, |a| {
        migrate_task_types(a);
        if !a["taskTypeOverrides"].is_object() {
            a["taskTypeOverrides"] = json!({});
        }
        let overrides = &mut a["taskTypeOverrides"];
        let mut o = overrides
            .get(&task_type)
            .filter(|o| o.is_object())
            .cloned()
            .unwrap_or_else(|| json!({}));
        if let Some(e) = enabled {
            o["enabled"] = json!(e);
        }
        if let Some(i) = interval {
            o["interval"] = i.clone();
        }
        let inherits = o["enabled"] != false && o["interval"].as_str().is_none_or(str::is_empty);
        if let Some(map) = overrides.as_object_mut() {
            if inherits {
                map.remove(&task_type);
            } else {
                map.insert(task_type.clone(), o);
            }
        }
        Ok(())
    })
    .await?;
    change(&app, "update-task-types");
    let mut out = json!({ "success": true, "appId": id, "taskType": task_type });
    if let Some(e) = enabled {
        out["enabled"] = json!(e);
    }
    if let Some(i) = interval {
        out["interval"] = i.clone();
    }
    out["taskTypeOverrides"] = updated["taskTypeOverrides"].clone();
    Ok(Json(out))
}

/// Editors `open-editor` may start (the first word of `editorCommand`).
pub const EDITORS: &[&str] = &[
    "code", "cursor", "zed", "subl", "atom", "vim", "nvim", "nano", "emacs", "idea", "pycharm",
    "webstorm", "phpstorm", "rubymine", "goland", "clion", "rider", "studio",
];
/// Characters an editor argument may not hold: no shell runs it, and none
/// should look like it could.
const SHELL_CHARS: &[char] = &[
    ';', '|', '&', '`', '$', '(', ')', '{', '}', '[', ']', '<', '>', '\\', '!', '#', '*', '?', '~',
];

/// App `id` and its `repoPath`, which must be an existing folder (else a 400
/// `PATH_NOT_FOUND` with `missing` as its message).
pub async fn with_repo(
    app: &AppState,
    id: &str,
    missing: &'static str,
) -> Result<(Value, String), ApiError> {
    let file: Map<String, Value> = app.store.load(files::APPS).await?;
    let a = file
        .get("apps")
        .and_then(|a| a.get(id))
        .cloned()
        .ok_or_else(|| ApiError::not_found("App not found"))?;
    let path = a["repoPath"].as_str().unwrap_or_default().to_string();
    let is_dir = !path.is_empty() && tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_dir());
    if !is_dir {
        return Err(ApiError::bad_request("PATH_NOT_FOUND", missing));
    }
    Ok((a, path))
}

/// Starts `program ARGS` in `dir`, detached: its own process group (so
/// stopping the api server leaves it), no shell, no terminal. Reaped by tokio.
fn spawn_detached(program: &str, args: &[&str], dir: &str) -> Result<(), ApiError> {
    tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| {
            ApiError::bad_request(
                "COMMAND_NOT_FOUND",
                format!("cannot start {program:?}: {e}"),
            )
        })
}

/// `POST /api/apps/:id/open-editor`: the app's `editorCommand` (default
/// `code .`) in its repo, if its first word is a known editor.
#[utoipa::path(post, operation_id = "openAppEditor", path = "/api/apps/{id}/open-editor", tag = "apps", params(("id" = String, Path)), responses((status = 200, description = "`{ success, command, path }`"), (status = 400, description = "PATH_NOT_FOUND, INVALID_EDITOR (`context.allowedEditors`), INVALID_EDITOR_ARGS, COMMAND_NOT_FOUND"), (status = 404, description = "App not found")))]
pub async fn open_editor(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (a, path) = with_repo(&app, &id, "App path does not exist").await?;
    let command = a["editorCommand"].as_str().unwrap_or("code .").to_string();
    let mut words = command.split_whitespace();
    let editor = words.next().unwrap_or_default();
    if !EDITORS.contains(&editor) {
        return Err(ApiError::bad_request(
            "INVALID_EDITOR",
            format!("editor {editor:?} is not one PortOS starts"),
        )
        .with_context(json!({ "allowedEditors": EDITORS })));
    }
    let args: Vec<&str> = words.collect();
    if let Some(bad) = args.iter().find(|a| a.contains(SHELL_CHARS)) {
        return Err(ApiError::bad_request(
            "INVALID_EDITOR_ARGS",
            format!("editor argument {bad:?} holds a shell character"),
        ));
    }
    spawn_detached(editor, &args, &path)?;
    Ok(Json(
        json!({ "success": true, "command": command, "path": path }),
    ))
}

/// `POST /api/apps/:id/open-folder`: the repo in the desktop's file manager
/// (`xdg-open`; `open` on macOS).
#[utoipa::path(post, operation_id = "openAppFolder", path = "/api/apps/{id}/open-folder", tag = "apps", params(("id" = String, Path)), responses((status = 200, description = "`{ success, path }`"), (status = 400, description = "PATH_NOT_FOUND, COMMAND_NOT_FOUND"), (status = 404, description = "App not found")))]
pub async fn open_folder(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (_, path) = with_repo(&app, &id, "App path does not exist").await?;
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    spawn_detached(opener, &[&path], &path)?;
    Ok(Json(json!({ "success": true, "path": path })))
}

/// Reads a PM2 ecosystem file by asking Node.js for its value (the original
/// guessed it with regular expressions over the source, which misses every
/// computed port); prints `{ apps: [...] }` as JSON.
const READ_ECOSYSTEM: &str = "import { pathToFileURL } from 'node:url';
const m = await import(pathToFileURL(process.argv[1]).href);
const c = (m && m.default) || m;
process.stdout.write(JSON.stringify({ apps: Array.isArray(c && c.apps) ? c.apps : [] }));";

/// The ecosystem file of a repo, if it has one.
pub fn ecosystem_file(repo: &std::path::Path) -> Option<std::path::PathBuf> {
    [
        "ecosystem.config.cjs",
        "ecosystem.config.js",
        "ecosystem.config.mjs",
    ]
    .iter()
    .map(|f| repo.join(f))
    .find(|p| p.is_file())
}

/// A port from an env value: a number, or a string of digits.
fn port_of(v: &Value) -> Option<u64> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    n.filter(|p| (1..=65535).contains(p))
}

/// One PM2 app as the original's `{ name, port, ports }`, labelled as it does:
/// a `ports` object as given; else `PORT` is `ui` for `-ui`/`-client` names,
/// `health` for a `-browser` with a `CDP_PORT` (which is `cdp`), `api`
/// otherwise; `VITE_PORT` is `ui`; `--port N` in the args is `ui`.
fn process_of(app: &Value) -> Option<Value> {
    let name = app["name"].as_str()?.to_string();
    let mut ports = Map::new();
    if let Some(given) = app["ports"].as_object() {
        for (label, v) in given {
            if let Some(p) = port_of(v) {
                ports.insert(label.clone(), json!(p));
            }
        }
    }
    if ports.is_empty() {
        let env = &app["env"];
        let cdp = port_of(&env["CDP_PORT"]);
        if let Some(p) = cdp {
            ports.insert("cdp".into(), json!(p));
        }
        if let Some(p) = port_of(&env["PORT"]) {
            let lower = name.to_lowercase();
            let label = if lower.ends_with("-ui")
                || lower.ends_with("_ui")
                || lower.ends_with("-client")
                || lower.ends_with("_client")
            {
                "ui"
            } else if (lower.ends_with("-browser") || lower.ends_with("_browser")) && cdp.is_some()
            {
                "health"
            } else {
                "api"
            };
            ports.insert(label.into(), json!(p));
        }
        if let Some(p) = port_of(&env["VITE_PORT"]) {
            ports.insert("ui".into(), json!(p));
        }
        if ports.is_empty() {
            let args = match &app["args"] {
                Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            if let Some(p) = args
                .windows(2)
                .find(|w| w[0] == "--port")
                .and_then(|w| port_of(&json!(w[1])))
            {
                ports.insert("ui".into(), json!(p));
            }
        }
    }
    let port = ports.values().next().cloned().unwrap_or(Value::Null);
    Some(json!({ "name": name, "port": port, "ports": ports }))
}

/// The processes of `file`, read by Node.js (in the repo, 10 s at most), and
/// the `PM2_HOME` one of them sets.
pub async fn read_ecosystem(
    repo: &std::path::Path,
    file: &std::path::Path,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let run = tokio::process::Command::new("node")
        .args(["--input-type=module", "-e", READ_ECOSYSTEM])
        .arg(file)
        .current_dir(repo)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(std::time::Duration::from_secs(10), run).await {
        Err(_) => {
            return Err(ApiError::bad_request(
                "ECOSYSTEM_UNREADABLE",
                format!("{} took longer than 10 s to load", file.display()),
            ));
        }
        Ok(Err(e)) => {
            return Err(ApiError::bad_request(
                "COMMAND_NOT_FOUND",
                format!("Node.js is needed to read {}: {e}", file.display()),
            ));
        }
        Ok(Ok(out)) => out,
    };
    let parsed: Option<Value> = out
        .status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())
        .flatten();
    let Some(parsed) = parsed else {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why
            .lines()
            .find(|l| l.contains("Error"))
            .unwrap_or("it did not load");
        return Err(ApiError::bad_request(
            "ECOSYSTEM_UNREADABLE",
            format!("{}: {}", file.display(), why.trim()),
        ));
    };
    let apps = parsed["apps"].as_array().cloned().unwrap_or_default();
    let home = apps
        .iter()
        .find_map(|a| a["env"]["PM2_HOME"].as_str().map(str::to_string));
    Ok((apps.iter().filter_map(process_of).collect(), home))
}

/// `POST /api/apps/:id/refresh-config`: re-reads the repo's PM2 ecosystem file
/// and keeps what changed: `processes`, `pm2ProcessNames`, `apiPort` (the first
/// process with a port), `pm2Home`.
#[utoipa::path(post, operation_id = "refreshAppConfig", path = "/api/apps/{id}/refresh-config", tag = "apps", params(("id" = String, Path)), responses((status = 200, description = "`{ success, updated, app, processes }`"), (status = 400, description = "PATH_NOT_FOUND, ECOSYSTEM_UNREADABLE, COMMAND_NOT_FOUND (no Node.js)"), (status = 404, description = "App not found")))]
pub async fn refresh_config(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (a, repo) = with_repo(&app, &id, "App path does not exist").await?;
    let repo = std::path::PathBuf::from(repo);
    let unchanged = |a: &Value| {
        let processes = a.get("processes").cloned().unwrap_or_else(|| json!([]));
        Json(
            json!({ "success": true, "updated": false, "app": with_id(&id, a), "processes": processes }),
        )
    };
    let Some(file) = ecosystem_file(&repo) else {
        return Ok(unchanged(&a));
    };
    let (processes, home) = read_ecosystem(&repo, &file).await?;
    let mut changes = Map::new();
    if let Some(h) = home.filter(|h| a["pm2Home"].as_str() != Some(h)) {
        changes.insert("pm2Home".into(), json!(h));
    }
    if !processes.is_empty() {
        let names: Vec<Value> = processes.iter().map(|p| p["name"].clone()).collect();
        if a["processes"] != json!(processes) {
            changes.insert("processes".into(), json!(processes));
        }
        if a["pm2ProcessNames"] != json!(names) {
            changes.insert("pm2ProcessNames".into(), json!(names));
        }
        if let Some(port) = processes.iter().map(|p| &p["port"]).find(|p| !p.is_null())
            && &a["apiPort"] != port
        {
            changes.insert("apiPort".into(), port.clone());
        }
    }
    if changes.is_empty() {
        return Ok(unchanged(&a));
    }
    let updated = edit(&app, &id, |a| {
        for (k, v) in changes {
            a[k] = v;
        }
        Ok(())
    })
    .await?;
    Ok(Json(json!({
        "success": true, "updated": true, "app": with_id(&id, &updated), "processes": processes,
    })))
}
