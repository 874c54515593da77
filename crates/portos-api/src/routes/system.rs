//! `/api/system/health` and `/api/system/health/details` over `portos-health`.

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use crate::AppState;

/// `GET /api/system/health`.
#[utoipa::path(get, operation_id = "systemHealth", path = "/api/system/health", tag = "system",
    responses((status = 200, description = "`{ status, timestamp, uptime, version, hostname, instanceId }`")))]
pub async fn health(State(app): State<AppState>) -> Json<Value> {
    Json(portos_health::health(app.started))
}

/// `GET /api/system/health/details`.
#[utoipa::path(get, operation_id = "systemHealthDetails", path = "/api/system/health/details", tag = "system",
    responses((status = 200, description = "`{ timestamp, hostname, instanceId, overallHealth, warnings, system: { uptime, uptimeFormatted, memory, cpu }, processes, apps, cos }`")))]
pub async fn details(State(app): State<AppState>) -> Json<Value> {
    Json(portos_health::details(&app.apps, app.started).await)
}
