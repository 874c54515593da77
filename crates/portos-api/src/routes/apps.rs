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
