//! The registry of `data/apps.json` (`{ "apps": { <id>: app } }`, fields the
//! original wrote kept): create, update, delete, archive, unarchive, task-type
//! overrides, and each app's process names.

use serde_json::{Map, Value, json};

use portos_core::time::now_iso;
use portos_core::{Kind, Refuse};
use portos_store::JsonStore;
use portos_store::types::files;

use crate::{Apps, AppsError};

/// The app PortOS itself is: it cannot be deleted or archived.
pub const PROTECTED_APP: &str = "portos-default";

/// One problem with a field: `{ path, message }`.
fn problem(path: &str, message: &str) -> Value {
    json!({ "path": path, "message": message })
}

fn validation(details: Vec<Value>) -> AppsError {
    portos_core::Problem::new(Kind::Invalid, "VALIDATION_ERROR", "Validation failed")
        .with_context(json!({ "details": details }))
        .into()
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
fn validate(body: &Map<String, Value>, partial: bool) -> Result<(), AppsError> {
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

fn object(body: Value) -> Result<Map<String, Value>, AppsError> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(validation(vec![problem("", "an object is required")])),
    }
}

/// The apps, as stored.
pub async fn all(apps: &Apps) -> Result<Map<String, Value>, AppsError> {
    Ok(stored(&apps.store).await?)
}

/// The apps of `apps.json`, as stored, for a reader that holds only the store
/// (the autofixer: an app's group is its id).
pub async fn stored(store: &JsonStore) -> Result<Map<String, Value>, portos_store::StoreError> {
    let file: Map<String, Value> = store.load(files::APPS).await?;
    Ok(file
        .get("apps")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default())
}

/// App `id` as stored, or not found.
pub async fn get(apps: &Apps, id: &str) -> Result<Value, AppsError> {
    all(apps)
        .await?
        .shift_remove(id)
        .ok_or_else(|| AppsError::not_found("App not found"))
}

/// The repository folder of a registered app, for a `path` a client gave:
/// the same folder (after resolving links) as some app's `repoPath`, or not
/// found — git and the like work on the owner's apps only, not on any folder.
pub async fn app_repo(apps: &Apps, path: &str) -> Result<std::path::PathBuf, AppsError> {
    if path.trim().is_empty() {
        return Err(AppsError::validation("path is required"));
    }
    let wanted = std::fs::canonicalize(path)
        .map_err(|_| AppsError::not_found(format!("no registered app has the folder {path}")))?;
    all(apps)
        .await?
        .values()
        .filter_map(|a| a["repoPath"].as_str())
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .find(|r| *r == wanted)
        .ok_or_else(|| AppsError::not_found(format!("no registered app has the folder {path}")))
}

/// The supervised processes of an app: its `pm2ProcessNames`, else its name
/// in lower case with spaces as `-`.
pub fn process_names(id: &str, a: &Value) -> Vec<String> {
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
            vec![dashed(name)]
        })
}

/// A name in lower case, its words joined by `-` (the original's PM2 name).
pub(crate) fn dashed(name: &str) -> String {
    name.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
}

/// A new app from the original's `appSchema`; the app with its id.
pub async fn create(apps: &Apps, body: Value) -> Result<Value, AppsError> {
    let body = object(body)?;
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
        "pm2ProcessNames": [dashed(&name)],
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
    apps.store
        .update(files::APPS, |f: &mut Map<String, Value>| {
            let all = f.entry("apps").or_insert_with(|| json!({}));
            if !all.is_object() {
                *all = json!({});
            }
            all[&id] = stored;
            Ok::<(), ()>(())
        })
        .await?
        .ok();
    apps.changed("create");
    Ok(with_id(&id, &record))
}

/// Applies `f` to app `id` under the file's lock; not found when it is not there.
pub(crate) async fn edit(
    apps: &Apps,
    id: &str,
    f: impl FnOnce(&mut Value) -> Result<(), AppsError>,
) -> Result<Value, AppsError> {
    apps.store
        .update(files::APPS, |file: &mut Map<String, Value>| {
            let a = file
                .get_mut("apps")
                .and_then(|a| a.get_mut(id))
                .ok_or_else(|| AppsError::not_found("App not found"))?;
            f(a)?;
            a["updatedAt"] = json!(now_iso());
            Ok(with_id(id, a))
        })
        .await?
}

/// A shallow merge; `id` and `uiUrl` ignored, `createdAt` kept.
pub async fn update(apps: &Apps, id: &str, body: Value) -> Result<Value, AppsError> {
    let body = object(body)?;
    validate(&body, true)?;
    edit(apps, id, |a| {
        for (k, v) in body {
            if !matches!(k.as_str(), "id" | "uiUrl" | "createdAt") {
                a[k] = v;
            }
        }
        Ok(())
    })
    .await
}

fn protected(what: &str) -> AppsError {
    AppsError::problem(
        Kind::Forbidden,
        "PROTECTED",
        format!("PortOS itself cannot be {what}"),
    )
}

/// Removes an app from the registry; its supervised processes keep running.
pub async fn delete(apps: &Apps, id: &str) -> Result<(), AppsError> {
    if id == PROTECTED_APP {
        return Err(protected("deleted"));
    }
    apps.store
        .update(files::APPS, |f: &mut Map<String, Value>| {
            f.get_mut("apps")
                .and_then(Value::as_object_mut)
                .and_then(|a| a.remove(id))
                .map(drop)
                .ok_or_else(|| AppsError::not_found("App not found"))
        })
        .await??;
    apps.changed("delete");
    Ok(())
}

/// Archives or unarchives an app; the app.
pub async fn set_archived(apps: &Apps, id: &str, archived: bool) -> Result<Value, AppsError> {
    if archived && id == PROTECTED_APP {
        return Err(protected("archived"));
    }
    let updated = edit(apps, id, |a| {
        a["archived"] = json!(archived);
        Ok(())
    })
    .await?;
    apps.changed(if archived { "archive" } else { "unarchive" });
    Ok(updated)
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

/// The app's task type overrides, `{ appId, appName, taskTypeOverrides }` (a
/// legacy `disabledTaskTypes` list is migrated first, and saved).
pub async fn task_types(apps: &Apps, id: &str) -> Result<Value, AppsError> {
    let mut a = get(apps, id).await?;
    if migrate_task_types(&mut a.clone()) {
        a = edit(apps, id, |a| {
            migrate_task_types(a);
            Ok(())
        })
        .await?;
    }
    Ok(json!({
        "appId": id,
        "appName": a["name"],
        "taskTypeOverrides": a.get("taskTypeOverrides").cloned().unwrap_or_else(|| json!({})),
    }))
}

/// Intervals a task type may run at; `null` inherits the global one.
const INTERVALS: &[&str] = &["rotation", "daily", "weekly", "once", "on-demand"];

/// `{ enabled?, interval? }` for one task type of an app. An override that
/// inherits everything (not disabled, no interval) is removed.
pub async fn set_task_type(
    apps: &Apps,
    id: &str,
    task_type: &str,
    body: Value,
) -> Result<Value, AppsError> {
    let valid_name = !task_type.is_empty()
        && task_type.len() <= 100
        && task_type
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if !valid_name {
        return Err(AppsError::validation(format!(
            "task type {task_type:?} must be 1-100 letters, digits, '-', '_', '.' or ':'"
        )));
    }
    let enabled = body.get("enabled").and_then(Value::as_bool);
    let interval = body.get("interval");
    if enabled.is_none() && interval.is_none() {
        return Err(AppsError::validation(
            "enabled (boolean) or interval (string|null) required",
        ));
    }
    if let Some(i) = interval
        && !(i.is_null() || i.as_str().is_some_and(|s| INTERVALS.contains(&s)))
    {
        return Err(AppsError::validation(format!(
            "interval must be one of {} or null",
            INTERVALS.join("|")
        )));
    }
    let updated = edit(apps, id, |a| {
        migrate_task_types(a);
        if !a["taskTypeOverrides"].is_object() {
            a["taskTypeOverrides"] = json!({});
        }
        let overrides = &mut a["taskTypeOverrides"];
        let mut o = overrides
            .get(task_type)
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
                map.remove(task_type);
            } else {
                map.insert(task_type.to_string(), o);
            }
        }
        Ok(())
    })
    .await?;
    apps.changed("update-task-types");
    let mut out = json!({ "success": true, "appId": id, "taskType": task_type });
    if let Some(e) = enabled {
        out["enabled"] = json!(e);
    }
    if let Some(i) = interval {
        out["interval"] = i.clone();
    }
    out["taskTypeOverrides"] = updated["taskTypeOverrides"].clone();
    Ok(out)
}

/// App `id` and its `repoPath`, which must be an existing folder (else a 400
/// `PATH_NOT_FOUND` with `missing` as its message).
pub async fn with_repo(
    apps: &Apps,
    id: &str,
    missing: &'static str,
) -> Result<(Value, String), AppsError> {
    let a = get(apps, id).await?;
    let path = a["repoPath"].as_str().unwrap_or_default().to_string();
    let is_dir = !path.is_empty() && tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_dir());
    if !is_dir {
        return Err(AppsError::bad_request("PATH_NOT_FOUND", missing));
    }
    Ok((a, path))
}
