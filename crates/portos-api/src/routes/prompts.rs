//! `/api/prompts`: stages, variables, previews and template versions, over
//! `portos-ai`'s stored prompts (the work is there).

use axum::Json;
use axum::extract::{Path, Query, State};
use portos_ai::prompts::{self, edit};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// `GET /api/prompts`: `{ stages }`.
#[utoipa::path(get, operation_id = "listStages", path = "/api/prompts", tag = "prompts", responses((status = 200, description = "`{ stages }`", body = crate::schemas::runs::Stages)))]
pub async fn list(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "stages": prompts::stages(&app.ai).await? })))
}

/// `POST /api/prompts`: a new stage.
#[utoipa::path(post, operation_id = "createStage", path = "/api/prompts", tag = "prompts", request_body(content = crate::schemas::requests::NewStage, description = "`{ stageName, name, description?, model?, returnsJson?, variables?, template? }`"), responses((status = 200, description = "`{ success, stageName }`", body = crate::schemas::writes::StageCreated), (status = 400, description = "stageName and name are required"), (status = 409, description = "the stage exists")))]
pub async fn create(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let stage = edit::create_stage(&app.ai, body).await?;
    Ok(Json(json!({ "success": true, "stageName": stage })))
}

/// `POST /api/prompts/reload`: stages and variables are read from disk on
/// every request here, so there is nothing to reload; kept for the original's clients.
#[utoipa::path(post, operation_id = "reloadPrompts", path = "/api/prompts/reload", tag = "prompts", responses((status = 200, description = "`{ success: true }`", body = crate::schemas::Done)))]
pub async fn reload() -> Json<Value> {
    Json(json!({ "success": true }))
}

/// `GET /api/prompts/variables`.
#[utoipa::path(get, operation_id = "listVariables", path = "/api/prompts/variables", tag = "prompts", responses((status = 200, description = "`{ variables }`", body = crate::schemas::runs::Variables)))]
pub async fn list_variables(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "variables": prompts::variables(&app.ai).await? }),
    ))
}

/// `POST /api/prompts/variables`: `{ key, content, name?, category? }`.
#[utoipa::path(post, operation_id = "createVariable", path = "/api/prompts/variables", tag = "prompts", request_body(content = crate::schemas::requests::NewVariable, description = "`{ key, content, name?, category? }`"), responses((status = 200, description = "`{ success, key }`", body = crate::schemas::writes::VariableCreated), (status = 400, description = "key and content are required"), (status = 409, description = "the key exists")))]
pub async fn create_variable(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let key = edit::create_variable(&app.ai, body).await?;
    Ok(Json(json!({ "success": true, "key": key })))
}

/// `GET /api/prompts/variables/:key`.
#[utoipa::path(get, operation_id = "getVariable", path = "/api/prompts/variables/{key}", tag = "prompts", params(("key" = String, Path)), responses((status = 200, description = "`{ key, name, category, content }`", body = crate::schemas::runs::Variable), (status = 404, description = "Variable not found")))]
pub async fn get_variable(
    State(app): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(edit::variable(&app.ai, &key).await?))
}

/// `PUT /api/prompts/variables/:key`: sets the fields given, keeps the others
/// (the original erased them); creates the key when missing.
#[utoipa::path(put, operation_id = "updateVariable", path = "/api/prompts/variables/{key}", tag = "prompts", params(("key" = String, Path)), request_body(content = Object, description = "`{ name?, category?, content? }`"), responses((status = 200, description = "`{ success: true }`", body = crate::schemas::Done)))]
pub async fn update_variable(
    State(app): State<AppState>,
    Path(key): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    edit::update_variable(&app.ai, &key, body).await?;
    Ok(Json(json!({ "success": true })))
}

/// `DELETE /api/prompts/variables/:key`: idempotent.
#[utoipa::path(delete, operation_id = "deleteVariable", path = "/api/prompts/variables/{key}", tag = "prompts", params(("key" = String, Path)), responses((status = 200, description = "`{ success: true }`", body = crate::schemas::Done)))]
pub async fn delete_variable(
    State(app): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    edit::delete_variable(&app.ai, &key).await?;
    Ok(Json(json!({ "success": true })))
}

/// `GET /api/prompts/:stage`: its configuration and template.
#[utoipa::path(get, operation_id = "getStage", path = "/api/prompts/{stage}", tag = "prompts", params(("stage" = String, Path)), responses((status = 200, description = "`{ ...config, template }`", body = crate::schemas::runs::Stage), (status = 404, description = "Stage not found")))]
pub async fn get(
    State(app): State<AppState>,
    Path(stage): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (mut out, template) = prompts::stage(&app.ai, &stage).await?;
    out["template"] = json!(template);
    Ok(Json(out))
}

/// `PUT /api/prompts/:stage`: `template` saved as a new version; every other
/// key merged into the configuration (the stage is created when missing).
#[utoipa::path(put, operation_id = "updateStage", path = "/api/prompts/{stage}", tag = "prompts", params(("stage" = String, Path)), request_body(content = Object, description = "`{ template?, ...config }`"), responses((status = 200, description = "`{ success: true, version? }`", body = crate::schemas::writes::StageUpdated)))]
pub async fn update(
    State(app): State<AppState>,
    Path(stage): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let version = edit::update_stage(&app.ai, &stage, body).await?;
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
#[utoipa::path(delete, operation_id = "deleteStage", path = "/api/prompts/{stage}", tag = "prompts", params(("stage" = String, Path), ("force" = Option<bool>, Query)), responses((status = 200, description = "`{ success: true }`", body = crate::schemas::Done), (status = 400, description = "SYSTEM_STAGE_PROTECTED"), (status = 404, description = "Stage not found")))]
pub async fn delete(
    State(app): State<AppState>,
    Path(stage): Path<String>,
    Query(q): Query<ForceQuery>,
) -> Result<Json<Value>, ApiError> {
    let force = q.force.as_deref() == Some("true");
    edit::delete_stage(&app.ai, &stage, force).await?;
    Ok(Json(json!({ "success": true })))
}

/// `GET /api/prompts/:stage/usage`.
#[utoipa::path(get, operation_id = "stageUsage", path = "/api/prompts/{stage}/usage", tag = "prompts", params(("stage" = String, Path)), responses((status = 200, description = "`{ isSystemStage, usedBy, canDelete, warning }`", body = crate::schemas::services::StageUsage)))]
pub async fn usage(Path(stage): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(edit::usage(&stage)?))
}

/// `POST /api/prompts/:stage/preview`: `{ testData }` → `{ preview, missing }`.
#[utoipa::path(post, operation_id = "previewStage", path = "/api/prompts/{stage}/preview", tag = "prompts", params(("stage" = String, Path)), request_body(content = crate::schemas::requests::PreviewBody, description = "`{ testData }`"), responses((status = 200, description = "`{ preview, missing: [variable names] }`", body = crate::schemas::writes::StagePreview), (status = 404, description = "Stage not found"), (status = 422, description = "no template, or an include cycle")))]
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
    let (text, missing) = prompts::preview(&app.ai, &stage, &data).await?;
    Ok(Json(json!({ "preview": text, "missing": missing })))
}

/// `GET /api/prompts/:stage/versions`: newest first.
#[utoipa::path(get, operation_id = "stageVersions", path = "/api/prompts/{stage}/versions", tag = "prompts", params(("stage" = String, Path)), responses((status = 200, description = "`{ versions: [{ version, savedAt, size }] }`", body = crate::schemas::runs::StageVersions)))]
pub async fn versions(
    State(app): State<AppState>,
    Path(stage): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "versions": prompts::versions(&app.ai, &stage).await? }),
    ))
}

/// `GET /api/prompts/:stage/versions/:version`.
#[utoipa::path(get, operation_id = "stageVersion", path = "/api/prompts/{stage}/versions/{version}", tag = "prompts", params(("stage" = String, Path), ("version" = String, Path)), responses((status = 200, description = "`{ version, template }`", body = crate::schemas::runs::StageVersion), (status = 404, description = "Version not found")))]
pub async fn version(
    State(app): State<AppState>,
    Path((stage, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let template = prompts::version(&app.ai, &stage, &version).await?;
    Ok(Json(json!({ "version": version, "template": template })))
}
