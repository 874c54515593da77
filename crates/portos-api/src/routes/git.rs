//! `/api/git`: git on a registered app's repository only (any other folder is
//! 404), over `portos-git` (the work and the argument checks are there).

use axum::Json;
use axum::extract::{Path, State};
use portos_apps::registry;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;

/// `GET /api/git/:appId`.
#[utoipa::path(get, operation_id = "gitInfoOfApp", path = "/api/git/{id}", tag = "git", params(("id" = String, Path, description = "an app's id")), responses((status = 200, description = "as POST /api/git/info, on the app's repoPath", body = crate::schemas::system::GitInfo), (status = 404, description = "App not found")))]
pub async fn app_info(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = registry::get(&app.apps, &id).await?;
    let repo = registry::app_repo(&app.apps, a["repoPath"].as_str().unwrap_or_default()).await?;
    Ok(Json(portos_git::info(&repo).await?))
}

/// `POST /api/git/:action` with `{ path, … }`: `path` must be a registered
/// app's repoPath.
#[utoipa::path(post, operation_id = "git", path = "/api/git/{id}", tag = "git",
    params(("id" = String, Path, description = "the action: status, diff, commits, stage, unstage, commit, update-branches, branch-comparison, push, info, branches, checkout, pull, sync")),
    request_body(content = Object, description = "`{ path }` and per action: diff `staged?`; commits `limit?` (10, 1-100); stage/unstage `files` (inside the repository); commit `message`; branch-comparison `base?` (main), `head?` (dev); push/sync `branch?`; checkout `branch` (never starting with '-')"),
    responses(
        (status = 200, description = "the original's answer of the action, e.g. status `{ clean, files: [{ path, status, staged, modified, added, deleted }], staged, unstaged }`, commit `{ hash, message }`, sync `{ success, pulled, pushed, output, error }`"),
        (status = 400, description = "VALIDATION_ERROR"),
        (status = 404, description = "not a registered app's folder, or no such action"),
        (status = 422, description = "GIT_FAILED: git's own words")))]
pub async fn act(
    State(app): State<AppState>,
    Path(action): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let repo = registry::app_repo(&app.apps, body["path"].as_str().unwrap_or_default()).await?;
    Ok(Json(portos_git::act(&repo, &action, &body).await?))
}
