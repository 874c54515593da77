//! `/api/prompts`: stages, variables, previews and template versions (the
//! work is in `crate::prompts`). Better than the original: variable updates
//! keep the fields they do not name, a taken name is a 409, an unknown stage
//! a 404, and every saved template is kept as a version.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::prompts::{self, STAGE_CONFIG, SYSTEM_STAGES, VARIABLES, check_key, check_stage};

fn conflict(message: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "CONFLICT", message)
}

fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::validation("a JSON object is required")),
    }
}

/// `GET /api/prompts`: `{ stages }`.
#[utoipa::path(get, operation_id = "listStages", path = "/api/prompts", tag = "prompts", responses((status = 200, description = "`{ stages }`")))]
pub async fn list(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "stages": prompts::stages(&app).await? })))
}

/// `POST /api/prompts`: a new stage.
#[utoipa::path(post, operation_id = "createStage", path = "/api/prompts", tag = "prompts", request_body(content = Object, description = "`{ stageName, name, description?, model?, returnsJson?, variables?, template? }`"), responses((status = 200, description = "`{ success, stageName }`"), (status = 400, description = "stageName and name are required"), (status = 409, description = "the stage exists")))]
pub async fn create(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let b = object(body)?;
    let (Some(stage), Some(name)) = (
        b.get("stageName").and_then(Value::as_str),
        b.get("name").and_then(Value::as_str),
    ) else {
        return Err(ApiError::validation("stageName and name are required"));
    };
    check_stage(stage)?;
    let config = json!({
        "name": name,
        "description": b.get("description").and_then(Value::as_str).unwrap_or_default(),
        "model": b.get("model").and_then(Value::as_str).unwrap_or("default"),
        "returnsJson": b.get("returnsJson").and_then(Value::as_bool).unwrap_or(false),
        "variables": b.get("variables").filter(|v| v.is_array()).cloned().unwrap_or_else(|| json!([])),
    });
    let stage_owned = stage.to_string();
    app.store
        .update(STAGE_CONFIG, |f: &mut Map<String, Value>| {
            let stages = f.entry("stages").or_insert_with(|| json!({}));
            if !stages.is_object() {
                *stages = json!({});
            }
            if stages.get(&stage_owned).is_some() {
                return Err(conflict(format!("Stage {stage_owned} already exists")));
            }
            stages[&stage_owned] = config;
            Ok(())
        })
        .await??;
    let template = b
        .get("template")
        .and_then(Value::as_str)
        .unwrap_or_default();
    prompts::save_template(&app, stage, template).await?;
    Ok(Json(json!({ "success": true, "stageName": stage })))
}

/// `POST /api/prompts/reload`: stages and variables are read from disk on
/// every request here, so there is nothing to reload; kept for the original's clients.
#[utoipa::path(post, operation_id = "reloadPrompts", path = "/api/prompts/reload", tag = "prompts", responses((status = 200, description = "`{ success: true }`")))]
pub async fn reload() -> Json<Value> {
    Json(json!({ "success": true }))
}

/// `GET /api/prompts/variables`.
#[utoipa::path(get, operation_id = "listVariables", path = "/api/prompts/variables", tag = "prompts", responses((status = 200, description = "`{ variables }`")))]
pub async fn list_variables(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "variables": prompts::variables(&app).await? }),
    ))
}

/// `POST /api/prompts/variables`: `{ key, content, name?, category? }`.
#[utoipa::path(post, operation_id = "createVariable", path = "/api/prompts/variables", tag = "prompts", request_body(content = Object, description = "`{ key, content, name?, category? }`"), responses((status = 200, description = "`{ success, key }`"), (status = 400, description = "key and content are required"), (status = 409, description = "the key exists")))]
pub async fn create_variable(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let b = object(body)?;
    let (Some(key), Some(content)) = (b.get("key").and_then(Value::as_str), b.get("content"))
    else {
        return Err(ApiError::validation("key and content are required"));
    };
    check_key(key)?;
    let mut v = Map::new();
    for f in ["name", "category"] {
        if let Some(x) = b.get(f) {
            v.insert(f.into(), x.clone());
        }
    }
    v.insert("content".into(), content.clone());
    let key_owned = key.to_string();
    app.store
        .update(VARIABLES, |f: &mut Map<String, Value>| {
            let vars = f.entry("variables").or_insert_with(|| json!({}));
            if !vars.is_object() {
                *vars = json!({});
            }
            if vars.get(&key_owned).is_some() {
                return Err(conflict(format!("Variable {key_owned} already exists")));
            }
            vars[&key_owned] = Value::Object(v);
            Ok(())
        })
        .await??;
    Ok(Json(json!({ "success": true, "key": key })))
}

/// `GET /api/prompts/variables/:key`.
#[utoipa::path(get, operation_id = "getVariable", path = "/api/prompts/variables/{key}", tag = "prompts", params(("key" = String, Path)), responses((status = 200, description = "`{ key, name, category, content }`"), (status = 404, description = "Variable not found")))]
pub async fn get_variable(
    State(app): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let vars = prompts::variables(&app).await?;
    let v = vars
        .get(&key)
        .ok_or_else(|| ApiError::not_found("Variable not found"))?;
    let mut out = json!({ "key": key });
    for f in ["name", "category", "content"] {
        out[f] = v.get(f).cloned().unwrap_or(Value::Null);
    }
    Ok(Json(out))
}

/// `PUT /api/prompts/variables/:key`: sets the fields given, keeps the others
/// (the original erased them); creates the key when missing.
#[utoipa::path(put, operation_id = "updateVariable", path = "/api/prompts/variables/{key}", tag = "prompts", params(("key" = String, Path)), request_body(content = Object, description = "`{ name?, category?, content? }`"), responses((status = 200, description = "`{ success: true }`")))]
pub async fn update_variable(
    State(app): State<AppState>,
    Path(key): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    check_key(&key)?;
    let b = object(body)?;
    app.store
        .update(VARIABLES, |f: &mut Map<String, Value>| {
            let vars = f.entry("variables").or_insert_with(|| json!({}));
            if !vars.is_object() {
                *vars = json!({});
            }
            let v = &mut vars[&key];
            if !v.is_object() {
                *v = json!({});
            }
            for field in ["name", "category", "content"] {
                if let Some(x) = b.get(field) {
                    v[field] = x.clone();
                }
            }
            Ok::<(), ()>(())
        })
        .await?
        .ok();
    Ok(Json(json!({ "success": true })))
}

/// `DELETE /api/prompts/variables/:key`: idempotent.
#[utoipa::path(delete, operation_id = "deleteVariable", path = "/api/prompts/variables/{key}", tag = "prompts", params(("key" = String, Path)), responses((status = 200, description = "`{ success: true }`")))]
pub async fn delete_variable(
    State(app): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.store
        .update(VARIABLES, |f: &mut Map<String, Value>| {
            match f
                .get_mut("variables")
                .and_then(Value::as_object_mut)
                .and_then(|v| v.shift_remove(&key))
            {
                Some(_) => Ok(()),
                None => Err(()),
            }
        })
        .await?
        .ok();
    Ok(Json(json!({ "success": true })))
}

/// `GET /api/prompts/:stage`: its configuration and template.
#[utoipa::path(get, operation_id = "getStage", path = "/api/prompts/{stage}", tag = "prompts", params(("stage" = String, Path)), responses((status = 200, description = "`{ ...config, template }`"), (status = 404, description = "Stage not found")))]
pub async fn get(
    State(app): State<AppState>,
    Path(stage): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (mut out, template) = prompts::stage(&app, &stage).await?;
    out["template"] = json!(template);
    Ok(Json(out))
}

/// `PUT /api/prompts/:stage`: `template` saved as a new version; every other
/// key merged into the configuration (the stage is created when missing).
#[utoipa::path(put, operation_id = "updateStage", path = "/api/prompts/{stage}", tag = "prompts", params(("stage" = String, Path)), request_body(content = Object, description = "`{ template?, ...config }`"), responses((status = 200, description = "`{ success: true, version? }`")))]
pub async fn update(
    State(app): State<AppState>,
    Path(stage): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let mut b = object(body)?;
    let template = match b.shift_remove("template") {
        None => None,
        Some(Value::String(t)) => Some(t),
        Some(_) => return Err(ApiError::validation("template must be a string")),
    };
    let version = prompts::save_stage(&app, &stage, b, template).await?;
    let mut out = json!({ "success": true });
    if let Some(v) = version {
        out["version"] = json!(v);
    }
    Ok(Json(out))
}

#[derive(Debug, Default, Deserialize)]
pub struct ForceQuery {
    force: Option<String>,
}

/// `DELETE /api/prompts/:stage` (`?force=true` for a stage PortOS uses).
#[utoipa::path(delete, operation_id = "deleteStage", path = "/api/prompts/{stage}", tag = "prompts", params(("stage" = String, Path), ("force" = Option<bool>, Query)), responses((status = 200, description = "`{ success: true }`"), (status = 400, description = "SYSTEM_STAGE_PROTECTED"), (status = 404, description = "Stage not found")))]
pub async fn delete(
    State(app): State<AppState>,
    Path(stage): Path<String>,
    Query(q): Query<ForceQuery>,
) -> Result<Json<Value>, ApiError> {
    check_stage(&stage)?;
    if SYSTEM_STAGES.iter().any(|(s, _)| *s == stage) && q.force.as_deref() != Some("true") {
        return Err(ApiError::bad_request(
            "SYSTEM_STAGE_PROTECTED",
            format!("{stage} is used by PortOS; add ?force=true to delete it"),
        ));
    }
    app.store
        .update(STAGE_CONFIG, |f: &mut Map<String, Value>| {
            f.get_mut("stages")
                .and_then(Value::as_object_mut)
                .and_then(|s| s.shift_remove(&stage))
                .map(drop)
                .ok_or_else(|| ApiError::not_found("Stage not found"))
        })
        .await??;
    let _ = tokio::fs::remove_file(app.store.path(&format!("prompts/stages/{stage}.md"))).await;
    Ok(Json(json!({ "success": true })))
}

/// `GET /api/prompts/:stage/usage`.
#[utoipa::path(get, operation_id = "stageUsage", path = "/api/prompts/{stage}/usage", tag = "prompts", params(("stage" = String, Path)), responses((status = 200, description = "`{ isSystemStage, usedBy, canDelete, warning }`")))]
pub async fn usage(Path(stage): Path<String>) -> Result<Json<Value>, ApiError> {
    check_stage(&stage)?;
    let used: Vec<&str> = SYSTEM_STAGES
        .iter()
        .filter(|(s, _)| *s == stage)
        .map(|(_, by)| *by)
        .collect();
    let system = !used.is_empty();
    Ok(Json(json!({
        "isSystemStage": system,
        "usedBy": used,
        "canDelete": !system,
        "warning": system.then_some("This stage is used by PortOS; deleting it may break those features."),
    })))
}

/// `POST /api/prompts/:stage/preview`: `{ testData }` → `{ preview, missing }`.
#[utoipa::path(post, operation_id = "previewStage", path = "/api/prompts/{stage}/preview", tag = "prompts", params(("stage" = String, Path)), request_body(content = Object, description = "`{ testData }`"), responses((status = 200, description = "`{ preview, missing: [variable names] }`"), (status = 404, description = "Stage not found"), (status = 422, description = "no template, or an include cycle")))]
pub async fn preview(
    State(app): State<AppState>,
    Path(stage): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let data = body
        .get("testData")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let (text, missing) = prompts::preview(&app, &stage, &data).await?;
    Ok(Json(json!({ "preview": text, "missing": missing })))
}

/// `GET /api/prompts/:stage/versions`: newest first.
#[utoipa::path(get, operation_id = "stageVersions", path = "/api/prompts/{stage}/versions", tag = "prompts", params(("stage" = String, Path)), responses((status = 200, description = "`{ versions: [{ version, savedAt, size }] }`")))]
pub async fn versions(
    State(app): State<AppState>,
    Path(stage): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "versions": prompts::versions(&app, &stage).await? }),
    ))
}

/// `GET /api/prompts/:stage/versions/:version`.
#[utoipa::path(get, operation_id = "stageVersion", path = "/api/prompts/{stage}/versions/{version}", tag = "prompts", params(("stage" = String, Path), ("version" = String, Path)), responses((status = 200, description = "`{ version, template }`"), (status = 404, description = "Version not found")))]
pub async fn version(
    State(app): State<AppState>,
    Path((stage, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let template = prompts::version(&app, &stage, &version).await?;
    Ok(Json(json!({ "version": version, "template": template })))
}
