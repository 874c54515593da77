//! `/api/ports`: who listens where, the apps' reserved ports, free ranges and
//! the next free ports, over `portos_apps::ports` (the work is there).

use axum::Json;
use axum::extract::State;
use portos_apps::ports;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// `GET /api/ports/scan`.
#[utoipa::path(get, operation_id = "scanPorts", path = "/api/ports/scan", tag = "ports", responses((status = 200, description = "`{ usedPorts, reservedPorts, allOccupied, freeRanges, suggestedPorts, defaultRange, owners: [{ port, address, pid, command, process, group }] }`", body = crate::schemas::system::PortScan)))]
pub async fn scan(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(ports::scan(&app.apps).await?))
}

/// `POST /api/ports/check`.
#[utoipa::path(post, operation_id = "checkPorts", path = "/api/ports/check", tag = "ports", request_body(content = crate::schemas::requests::PortsToCheck, description = "`{ ports: [number] }`"), responses((status = 200, description = "`{ <port>: available }`", body = BTreeMap<String,bool>), (status = 400, description = "VALIDATION_ERROR")))]
pub async fn check(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(ports::check(&app.apps, &body["ports"]).await?)))
}

/// `POST /api/ports/allocate`.
#[utoipa::path(post, operation_id = "allocatePorts", path = "/api/ports/allocate", tag = "ports", request_body(content = crate::schemas::requests::PortsToAllocate, description = "`{ count: 1-10 }`"), responses((status = 200, description = "`{ allocated: [port] }`, distinct and free", body = crate::schemas::writes::Allocated), (status = 400, description = "VALIDATION_ERROR")))]
pub async fn allocate(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let allocated = ports::allocate(&app.apps, &body["count"]).await?;
    Ok(Json(json!({ "allocated": allocated })))
}
