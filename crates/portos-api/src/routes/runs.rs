//! `/api/runs`: AI runs (the toolkit's routes, kept path for path; the work
//! is in `portos_ai::runs`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use portos_ai::runs::{self, NewRun};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    limit: Option<String>,
    offset: Option<String>,
    source: Option<String>,
}

/// `GET /api/runs`: `{ total, runs }`, newest first.
#[utoipa::path(get, operation_id = "listRuns", path = "/api/runs", tag = "runs", params(("limit" = Option<u32>, Query, description = "default 50"), ("offset" = Option<u32>, Query), ("source" = Option<String>, Query, description = "`all` (default), `devtools`, …")), responses((status = 200, description = "`{ total, runs: [metadata] }`", body = crate::schemas::runs::RunList)))]
pub async fn list(State(app): State<AppState>, Query(q): Query<ListQuery>) -> Json<Value> {
    // The original's leniency: a missing, zero or bad number is the default.
    let num = |v: Option<&str>, default: usize| {
        v.and_then(|s| s.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or(default)
    };
    let limit = num(q.limit.as_deref(), 50);
    let offset = q
        .offset
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Json(runs::list(&app.ai, limit, offset, q.source.as_deref().unwrap_or("all")).await)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateBody {
    #[serde(default)]
    provider_id: String,
    #[serde(default)]
    prompt: String,
    model: Option<String>,
    workspace_path: Option<String>,
    workspace_name: Option<String>,
    timeout: Option<u64>,
    /// A stored prompt (its stage name) to run instead of `prompt`.
    stage: Option<String>,
    /// The values for `stage`.
    variables: Option<serde_json::Map<String, Value>>,
}

/// `POST /api/runs`: 202 at once; the run goes on.
#[utoipa::path(post, operation_id = "createRun", path = "/api/runs", tag = "runs", request_body(content = Object, description = "`{ providerId, prompt, model?, workspacePath?, workspaceName?, timeout? (ms) }`, or `stage` and `variables` in place of `prompt`"), responses((status = 202, description = "`{ runId, status: \"started\", metadata }`", body = crate::schemas::writes::RunStarted), (status = 400, description = "providerId / prompt missing, provider disabled"), (status = 404, description = "Provider or stage not found"), (status = 422, description = "MISSING_VARIABLES (`context.missing`)")))]
pub async fn create(
    State(app): State<AppState>,
    Json(b): Json<CreateBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let metadata = runs::create(
        &app.ai,
        NewRun {
            provider_id: b.provider_id,
            model: b.model,
            prompt: b.prompt,
            workspace_path: b.workspace_path,
            workspace_name: b.workspace_name,
            timeout_ms: b.timeout,
            source: None,
            stage: b.stage,
            variables: b.variables.unwrap_or_default(),
            extra_args: Vec::new(),
        },
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "runId": metadata["id"], "status": "started", "metadata": metadata })),
    ))
}

/// `GET /api/runs/:id`: the metadata with `isActive`.
#[utoipa::path(get, operation_id = "getRun", path = "/api/runs/{id}", tag = "runs", params(("id" = String, Path)), responses((status = 200, description = "metadata with `isActive`", body = crate::schemas::runs::RunMetadata), (status = 404, description = "Run not found")))]
pub async fn get(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(runs::get(&app.ai, &id).await?))
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// `GET /api/runs/:id/output`: the output so far, as text.
#[utoipa::path(get, operation_id = "runOutput", path = "/api/runs/{id}/output", tag = "runs", params(("id" = String, Path)), responses((status = 200, description = "text/plain"), (status = 404, description = "Run not found")))]
pub async fn output(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(text(runs::output(&app.ai, &id).await?))
}

/// `GET /api/runs/:id/prompt`.
#[utoipa::path(get, operation_id = "runPrompt", path = "/api/runs/{id}/prompt", tag = "runs", params(("id" = String, Path)), responses((status = 200, description = "text/plain"), (status = 404, description = "Run not found")))]
pub async fn prompt(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(text(runs::prompt(&app.ai, &id).await?))
}

/// `POST /api/runs/:id/stop`: API and CLI runs alike (the original could not stop CLI runs).
#[utoipa::path(post, operation_id = "stopRun", path = "/api/runs/{id}/stop", tag = "runs", params(("id" = String, Path)), responses((status = 200, description = "`{ success: true }` once it has ended", body = crate::schemas::Done), (status = 404, description = "Run not found or not active")))]
pub async fn stop(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    runs::check_id(&id)?;
    if runs::stop(&app.ai, &id).await {
        Ok(Json(json!({ "success": true })))
    } else {
        Err(ApiError::not_found("Run not found or not active"))
    }
}

/// `DELETE /api/runs/:id`: 204.
#[utoipa::path(delete, operation_id = "deleteRun", path = "/api/runs/{id}", tag = "runs", params(("id" = String, Path)), responses((status = 204, description = "deleted"), (status = 404, description = "Run not found"), (status = 409, description = "the run is in flight")))]
pub async fn delete(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    runs::delete(&app.ai, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
pub struct BulkQuery {
    filter: Option<String>,
}

/// `DELETE /api/runs?filter=failed`: `{ deletedCount }`.
#[utoipa::path(delete, operation_id = "deleteFailedRuns", path = "/api/runs", tag = "runs", params(("filter" = String, Query, description = "`failed`")), responses((status = 200, description = "`{ deletedCount }`", body = crate::schemas::writes::RunsDeleted), (status = 400, description = "another filter")))]
pub async fn delete_failed(
    State(app): State<AppState>,
    Query(q): Query<BulkQuery>,
) -> Result<Json<Value>, ApiError> {
    if q.filter.as_deref() != Some("failed") {
        return Err(ApiError::validation(
            "Only filter=failed is supported for bulk delete",
        ));
    }
    Ok(Json(
        json!({ "deletedCount": runs::delete_failed(&app.ai).await }),
    ))
}
