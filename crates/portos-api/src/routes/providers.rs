//! `/api/providers`: the AI providers of `providers.json`, as the original
//! answers them (secrets withheld), over `portos-ai`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use portos_ai::providers::{self, ProviderList, public_json};
use portos_ai::status;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;

/// `GET /api/providers`: every provider, in the file's order, secrets withheld.
#[utoipa::path(get, operation_id = "listProviders", path = "/api/providers", tag = "providers", responses((status = 200, description = "`{ activeProvider, providers: [...] }`, with `hasApiKey` in place of `apiKey`", body = crate::schemas::runs::ProviderList)))]
pub async fn list(State(app): State<AppState>) -> Result<Response, ApiError> {
    let file = providers::load(&app.ai).await?;
    app.rendered
        .json(&file, "providers", |f| ProviderList { file: f.clone() })
}

/// `GET /api/providers/active`: the active provider, or `null`.
#[utoipa::path(get, operation_id = "activeProvider", path = "/api/providers/active", tag = "providers", responses((status = 200, description = "the active provider (secrets withheld), or null", body = Option<crate::schemas::runs::PublicProvider>)))]
pub async fn active(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let active = providers::active(&app.ai).await?;
    Ok(Json(active.as_ref().map_or(Value::Null, public_json)))
}

/// `PUT /api/providers/active`: `{ id }`.
#[utoipa::path(put, operation_id = "setActiveProvider", path = "/api/providers/active", tag = "providers", request_body(content = crate::schemas::requests::ProviderId, description = "`{ id }`"), responses((status = 200, description = "the provider now active", body = crate::schemas::runs::PublicProvider), (status = 400, description = "Provider ID required"), (status = 404, description = "Provider not found")))]
pub async fn put_active(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let id = body["id"].as_str().unwrap_or_default();
    Ok(Json(public_json(
        &providers::set_active(&app.ai, id).await?,
    )))
}

/// `GET /api/providers/:id`.
#[utoipa::path(get, operation_id = "getProvider", path = "/api/providers/{id}", tag = "providers", params(("id" = String, Path)), responses((status = 200, description = "the provider, secrets withheld", body = crate::schemas::runs::PublicProvider), (status = 404, description = "Provider not found")))]
pub async fn get_one(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(public_json(&providers::get(&app.ai, &id).await?)))
}

/// `POST /api/providers`: 201 with the provider, secrets withheld (the
/// original answered the key itself here).
#[utoipa::path(post, operation_id = "createProvider", path = "/api/providers", tag = "providers", request_body(content = Object, description = "`{ name, type: cli|api, id?, command?, args?, endpoint?, apiKey?, models?, … }`"), responses((status = 201, description = "the provider, secrets withheld", body = crate::schemas::runs::PublicProvider), (status = 400, description = "VALIDATION_ERROR"), (status = 409, description = "the id is taken")))]
pub async fn create(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let p = providers::create_provider(&app.ai, body).await?;
    Ok((StatusCode::CREATED, Json(public_json(&p))))
}

/// `PUT /api/providers/:id`: a shallow merge; secrets kept unless replaced.
#[utoipa::path(put, operation_id = "updateProvider", path = "/api/providers/{id}", tag = "providers", params(("id" = String, Path)), request_body(content = Object, description = "fields to change; no `apiKey` keeps the key, `***` keeps a secret env value"), responses((status = 200, description = "the provider, secrets withheld", body = crate::schemas::runs::PublicProvider), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "Provider not found")))]
pub async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(public_json(
        &providers::update_provider(&app.ai, &id, body).await?,
    )))
}

/// `DELETE /api/providers/:id`: 204; the next one becomes active if it was.
#[utoipa::path(delete, operation_id = "deleteProvider", path = "/api/providers/{id}", tag = "providers", params(("id" = String, Path)), responses((status = 204, description = "deleted"), (status = 404, description = "Provider not found")))]
pub async fn delete(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    providers::delete_provider(&app.ai, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/providers/:id/test`.
#[utoipa::path(post, operation_id = "testProvider", path = "/api/providers/{id}/test", tag = "providers", params(("id" = String, Path)), responses((status = 200, description = "`{ success, error? }` with `path`, `version` (CLI) or `endpoint`, `models` (API)"), (status = 404, description = "Provider not found")))]
pub async fn test(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(providers::test(&app.ai, &id).await?))
}

/// `GET /api/providers/status`: `{ providers: { <id>: status }, lastUpdated }`.
#[utoipa::path(get, operation_id = "providerStatuses", path = "/api/providers/status", tag = "providers", responses((status = 200, description = "`{ providers: { <id>: { available, reason, message, failureCount, lastChecked, timeUntilRecovery, … } }, lastUpdated }`", body = crate::schemas::runs::ProviderStatuses)))]
pub async fn statuses(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(status::all(&app.ai).await?))
}

/// `GET /api/providers/:id/status` (an unknown id looks available, as the original).
#[utoipa::path(get, operation_id = "providerStatus", path = "/api/providers/{id}/status", tag = "providers", params(("id" = String, Path)), responses((status = 200, description = "the status with `timeUntilRecovery`", body = crate::schemas::runs::ProviderStatus)))]
pub async fn status(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(status::get(&app.ai, &id).await?))
}

/// `POST /api/providers/:id/status/recover`.
#[utoipa::path(post, operation_id = "recoverProvider", path = "/api/providers/{id}/status/recover", tag = "providers", params(("id" = String, Path)), responses((status = 200, description = "`{ success, status }`", body = crate::schemas::runs::Recovered), (status = 404, description = "Provider not found")))]
pub async fn recover(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    providers::get(&app.ai, &id).await?;
    let status = status::recover(&app.ai, &id).await?;
    Ok(Json(
        serde_json::json!({ "success": true, "status": status }),
    ))
}
