//! `/api/system/health` and `/api/system/health/details` over `portos-health`.

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use crate::AppState;

/// `GET /api/system/health`.
#[utoipa::path(get, operation_id = "systemHealth", path = "/api/system/health", tag = "system",
    responses((status = 200, description = "`{ status, timestamp, uptime, version, hostname, instanceId }`", body = crate::schemas::system::Health)))]
pub async fn health(State(app): State<AppState>) -> Json<Value> {
    let mut v = portos_health::health(app.started);
    v["instanceId"] = serde_json::json!(app.instances.instance_id().await);
    Json(v)
}

/// `GET /api/system/health/details`.
#[utoipa::path(get, operation_id = "systemHealthDetails", path = "/api/system/health/details", tag = "system",
    responses((status = 200, description = "`{ timestamp, hostname, instanceId, overallHealth, warnings, system: { uptime, uptimeFormatted, memory, cpu }, processes, apps, cos }`", body = crate::schemas::system::HealthDetails)))]
pub async fn details(State(app): State<AppState>) -> Json<Value> {
    Json(crate::peers::health_details(&app).await)
}
