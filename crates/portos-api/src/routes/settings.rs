//! `/api/settings`: free-form settings, merged on update, secrets masked on the way out.

use axum::Json;
use axum::extract::State;
use portos_store::types::{Settings, files};
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use portos_core::secrets::redact_secrets;

/// `GET /api/settings`.
#[utoipa::path(get, operation_id = "getSettings", path = "/api/settings", tag = "settings", responses((status = 200, description = "the settings, secrets masked", body = BTreeMap<String,serde_json::Value>)))]
pub async fn get(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(read(&app).await?))
}

/// Keys the settings API neither shows nor writes: `security` holds how
/// PortOS is protected, which only the owner changes, on the machine.
const HIDDEN: &[&str] = &["security"];

fn shown(mut s: Settings) -> Value {
    for k in HIDDEN {
        s.shift_remove(*k);
    }
    redact_secrets(&Value::Object(s))
}

/// The settings, secrets masked, `security` left out.
pub async fn read(app: &AppState) -> Result<Value, ApiError> {
    let s: Settings = app.store.load(files::SETTINGS).await?;
    Ok(shown(s))
}

/// Sets the keys of `patch` (a JSON object); the merged settings, secrets masked.
pub async fn merge(app: &AppState, patch: Value) -> Result<Value, ApiError> {
    let Value::Object(patch) = patch else {
        return Err(ApiError::validation("settings must be a JSON object"));
    };
    if let Some(k) = patch.keys().find(|k| HIDDEN.contains(&k.as_str())) {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "FORBIDDEN_SETTING",
            format!("{k} is not changed through the API; use `portos token` on the machine"),
        ));
    }
    if let Some(c) = patch.get("commands") {
        portos_commands::CommandSettings::from_value(c).map_err(ApiError::validation)?;
    }
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
    Ok(shown(merged))
}

/// `PUT /api/settings`: a shallow merge of the body's keys.
#[utoipa::path(put, operation_id = "updateSettings", path = "/api/settings", tag = "settings", request_body(content = Object, description = "keys to set (shallow merge)"), responses((status = 200, description = "the merged settings, secrets masked", body = BTreeMap<String,serde_json::Value>), (status = 400, description = "not a JSON object")))]
pub async fn put(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(merge(&app, body).await?))
}
