//! `/api/instances` over `portos-instances`: this instance and its peers
//! (the original's routes but the anonymous announce, which is a peer call
//! of `portos.instances.v1` now), plus `GET /api/instances/agents` (ours: the
//! peers' agents as relayed, for a page opened after they started).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use portos_instances::{NewPeer, PeerUpdate};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

type Answer = Result<Json<Value>, ApiError>;

/// `GET /api/instances`.
#[utoipa::path(get, operation_id = "listInstances", path = "/api/instances", tag = "instances",
    responses((status = 200, description = "`{ self, peers }`; each peer with `needsPairing` (no credential held for it)", body = crate::schemas::system::Instances)))]
pub async fn list(State(app): State<AppState>) -> Answer {
    Ok(Json(app.instances.list().await?))
}

/// `GET /api/instances/self`.
#[utoipa::path(get, operation_id = "getSelfInstance", path = "/api/instances/self", tag = "instances",
    responses((status = 200, description = "`{ instanceId, name }`", body = crate::schemas::system::SelfInstance)))]
pub async fn get_self(State(app): State<AppState>) -> Answer {
    Ok(Json(json!(app.instances.ensure_self().await?)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    #[serde(default)]
    name: String,
}

/// `PUT /api/instances/self`.
#[utoipa::path(put, operation_id = "renameSelfInstance", path = "/api/instances/self", tag = "instances",
    request_body(content = crate::schemas::requests::Rename, description = "`{ name }`"),
    responses((status = 200, description = "the identity", body = crate::schemas::system::SelfInstance), (status = 400, description = "Name is required")))]
pub async fn rename_self(State(app): State<AppState>, Json(b): Json<Rename>) -> Answer {
    Ok(Json(json!(app.instances.rename_self(&b.name).await?)))
}

/// `POST /api/instances/peers`.
#[utoipa::path(post, operation_id = "addPeer", path = "/api/instances/peers", tag = "instances",
    request_body(content = Object, description = "`{ address, port? (5554), name?, token }`: `token` from `portos token --peer NAME` on the peer"),
    responses((status = 201, description = "the peer (announced to and probed; `offline` with `lastError` when not reachable now)", body = crate::schemas::system::PeerInstance),
        (status = 400, description = "VALIDATION_ERROR, TOKEN_REQUIRED, INVALID_TOKEN"), (status = 409, description = "PEER_EXISTS"),
        (status = 422, description = "PEER_REFUSED: the peer refused the credential; nothing kept")))]
pub async fn add_peer(
    State(app): State<AppState>,
    Json(b): Json<NewPeer>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    Ok((StatusCode::CREATED, Json(app.instances.add_peer(b).await?)))
}

/// `PUT /api/instances/peers/:id`.
#[utoipa::path(put, operation_id = "updatePeer", path = "/api/instances/peers/{id}", tag = "instances", params(("id" = String, Path)),
    request_body(content = Object, description = "`{ name?, enabled?, token? }`: a token pairs the peer again"),
    responses((status = 200, description = "the peer", body = crate::schemas::system::PeerInstance), (status = 400, description = "VALIDATION_ERROR, INVALID_TOKEN"), (status = 404, description = "Peer not found"), (status = 422, description = "PEER_REFUSED")))]
pub async fn update_peer(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(b): Json<PeerUpdate>,
) -> Answer {
    Ok(Json(app.instances.update_peer(&id, b).await?))
}

/// `DELETE /api/instances/peers/:id`.
#[utoipa::path(delete, operation_id = "removePeer", path = "/api/instances/peers/{id}", tag = "instances", params(("id" = String, Path)),
    responses((status = 200, description = "`{ success: true }`; the peer's way back is revoked", body = crate::schemas::Done), (status = 404, description = "Peer not found")))]
pub async fn remove_peer(State(app): State<AppState>, Path(id): Path<String>) -> Answer {
    app.instances.remove_peer(&id).await?;
    Ok(Json(json!({ "success": true })))
}

/// `POST /api/instances/peers/:id/connect`.
#[utoipa::path(post, operation_id = "connectPeer", path = "/api/instances/peers/{id}/connect", tag = "instances", params(("id" = String, Path)),
    responses((status = 200, description = "the peer, announced to again and probed", body = crate::schemas::system::PeerInstance), (status = 404, description = "Peer not found"), (status = 409, description = "NEEDS_PAIRING")))]
pub async fn connect(State(app): State<AppState>, Path(id): Path<String>) -> Answer {
    Ok(Json(app.instances.connect(&id).await?))
}

/// `POST /api/instances/peers/:id/probe`.
#[utoipa::path(post, operation_id = "probePeer", path = "/api/instances/peers/{id}/probe", tag = "instances", params(("id" = String, Path)),
    responses((status = 200, description = "the peer after probing", body = crate::schemas::system::PeerInstance), (status = 404, description = "Peer not found")))]
pub async fn probe(State(app): State<AppState>, Path(id): Path<String>) -> Answer {
    Ok(Json(app.instances.probe(&id).await?))
}

#[derive(Debug, Deserialize)]
pub struct QueryParams {
    #[serde(default)]
    path: String,
}

/// `GET /api/instances/peers/:id/query?path=`.
#[utoipa::path(get, operation_id = "queryPeer", path = "/api/instances/peers/{id}/query", tag = "instances",
    params(("id" = String, Path), ("path" = String, Query, description = "one of the allow-list: /api/system/health, /api/system/health/details, /api/apps, /api/logs/processes, /api/runs, /api/cos/agents, /api/cos (a query string may follow)")),
    responses((status = 200, description = "the peer's JSON answer, as it is"), (status = 403, description = "PATH_NOT_ALLOWED"), (status = 404, description = "Peer not found"),
        (status = 409, description = "NEEDS_PAIRING"), (status = 502, description = "PEER_UNREACHABLE")))]
pub async fn query(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<QueryParams>,
) -> Answer {
    Ok(Json(app.instances.query(&id, &q.path).await?))
}

/// `GET /api/instances/agents`.
#[utoipa::path(get, operation_id = "peerAgents", path = "/api/instances/agents", tag = "instances",
    responses((status = 200, description = "`{ <peer id>: [agent with its last 200 output lines] }` of the online peers", body = BTreeMap<String,serde_json::Value>)))]
pub async fn agents(State(app): State<AppState>) -> Json<Value> {
    Json(app.instances.peer_agents())
}
