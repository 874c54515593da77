//! `/api/settings`: free-form settings, merged on update, secrets masked on the way out.

use axum::Json;
use axum::extract::State;
use portos_store::types::{Settings, files};
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use portos_core::secrets::redact_secrets;

/// `GET /api/settings`.
#[utoipa::path(get, operation_id = "getSettings", path = "/api/settings", tag = "settings", responses((status = 200, description = "the settings, secrets masked")))]
pub async fn get(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(read(&app).await?))
}

/// The settings, secrets masked.
pub async fn read(app: &AppState) -> Result<Value, ApiError> {
    let s: Settings = app.store.load(files::SETTINGS).await?;
    Ok(redact_secrets(&Value::Object(s)))
}

/// Sets the keys of `patch` (a JSON object); the merged settings, secrets masked.
pub async fn merge(app: &AppState, patch: Value) -> Result<Value, ApiError> {
    let Value::Object(patch) = patch else {
        return Err(ApiError::validation("settings must be a JSON object"));
    };
    let merged = app
        .store
        .update(files::SETTINGS, |s: &mut Settings| {
            for (k, v) in patch {
                s.insert(k, v);
            }
            Ok::<Settings, ()>(s.clone())
        })
        .await?
        .map_err(|()| ApiError::internal("settings update failed"))?;
    Ok(redact_secrets(&Value::Object(merged)))
}

/// `PUT /api/settings`: a shallow merge of the body's keys.
#[utoipa::path(put, operation_id = "updateSettings", path = "/api/settings", tag = "settings", request_body(content = Object, description = "keys to set (shallow merge)"), responses((status = 200, description = "the merged settings, secrets masked"), (status = 400, description = "not a JSON object")))]
pub async fn put(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(merge(&app, body).await?))
}
