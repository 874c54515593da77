//! `/api/git`: git on a registered app's repository only (any other folder is
//! 404), over `portos-git` (the work and the argument checks are there).

use std::path::PathBuf;

use axum::Json;
use axum::extract::{Path, State};
use portos_apps::registry;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;

type Answer = Result<Json<Value>, ApiError>;

/// The app's repository a body's `path` names.
async fn repo(app: &AppState, body: &Value) -> Result<PathBuf, ApiError> {
    let path = body["path"].as_str().unwrap_or_default();
    Ok(registry::app_repo(&app.apps, path).await?)
}

/// A required string field.
fn field<'a>(body: &'a Value, key: &str, message: &str) -> Result<&'a str, ApiError> {
    body[key]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::validation(message.to_string()))
}

/// `GET /api/git/:appId`.
#[utoipa::path(get, operation_id = "gitInfoOfApp", path = "/api/git/{appId}", tag = "git", params(("appId" = String, Path)), responses((status = 200, description = "as POST /api/git/info, on the app's repoPath"), (status = 404, description = "App not found")))]
pub async fn app_info(State(app): State<AppState>, Path(id): Path<String>) -> Answer {
    let a = registry::get(&app.apps, &id).await?;
    let repo = registry::app_repo(&app.apps, a["repoPath"].as_str().unwrap_or_default()).await?;
    Ok(Json(portos_git::info(&repo).await?))
}

/// `POST /api/git/info`.
#[utoipa::path(post, operation_id = "gitInfo", path = "/api/git/info", tag = "git", request_body(content = Object, description = "`{ path }`: a registered app's repoPath"), responses((status = 200, description = "`{ isRepo, branch, status, recentCommits, diffStats, remote, baseBranch, devBranch, hasChangelog }`"), (status = 404, description = "not a registered app's folder")))]
pub async fn info(State(app): State<AppState>, Json(body): Json<Value>) -> Answer {
    Ok(Json(portos_git::info(&repo(&app, &body).await?).await?))
}

/// `POST /api/git/status`.
#[utoipa::path(post, operation_id = "gitStatus", path = "/api/git/status", tag = "git", request_body(content = Object, description = "`{ path }`"), responses((status = 200, description = "`{ clean, files: [{ path, status, staged, modified, added, deleted }], staged, unstaged }`"), (status = 404, description = "not a registered app's folder")))]
pub async fn status(State(app): State<AppState>, Json(body): Json<Value>) -> Answer {
    let s = portos_git::status(&repo(&app, &body).await?).await?;
    Ok(Json(s.to_json()))
}

/// `POST /api/git/diff`.
#[utoipa::path(post, operation_id = "gitDiff", path = "/api/git/diff", tag = "git", request_body(content = Object, description = "`{ path, staged? }`"), responses((status = 200, description = "`{ diff }`"), (status = 404, description = "not a registered app's folder")))]
pub async fn diff(State(app): State<AppState>, Json(body): Json<Value>) -> Answer {
    let staged = body["staged"].as_bool().unwrap_or(false);
    Ok(Json(
        portos_git::diff(&repo(&app, &body).await?, staged).await?,
    ))
}

/// `POST /api/git/commits`.
#[utoipa::path(post, operation_id = "gitCommits", path = "/api/git/commits", tag = "git", request_body(content = Object, description = "`{ path, limit? (10, 1-100) }`"), responses((status = 200, description = "`{ commits: [{ hash, message, author, date }] }`"), (status = 404, description = "not a registered app's folder")))]
pub async fn commits(State(app): State<AppState>, Json(body): Json<Value>) -> Answer {
    let limit = body["limit"].as_u64().unwrap_or(10).min(100) as u32;
    Ok(Json(
        portos_git::commits(&repo(&app, &body).await?, limit).await?,
    ))
}

/// `POST /api/git/stage`.
#[utoipa::path(post, operation_id = "gitStage", path = "/api/git/stage", tag = "git", request_body(content = Object, description = "`{ path, files }`: paths inside the repository"), responses((status = 200, description = "`{ success }`"), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "not a registered app's folder")))]
pub async fn stage(State(app): State<AppState>, Json(body): Json<Value>) -> Answer {
    Ok(Json(
        portos_git::stage(&repo(&app, &body).await?, &body["files"]).await?,
    ))
}

/// `POST /api/git/unstage`.
#[utoipa::path(post, operation_id = "gitUnstage", path = "/api/git/unstage", tag = "git", request_body(content = Object, description = "`{ path, files }`"), responses((status = 200, description = "`{ success }`"), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "not a registered app's folder")))]
pub async fn unstage(State(app): State<AppState>, Json(body): Json<Value>) -> Answer {
    Ok(Json(
        portos_git::unstage(&repo(&app, &body).await?, &body["files"]).await?,
    ))
}

/// `POST /api/git/commit`.
#[utoipa::path(post, operation_id = "gitCommit", path = "/api/git/commit", tag = "git", request_body(content = Object, description = "`{ path, message }`"), responses((status = 200, description = "`{ hash, message }`"), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "not a registered app's folder"), (status = 422, description = "GIT_FAILED (e.g. nothing staged)")))]
pub async fn commit(State(app): State<AppState>, Json(body): Json<Value>) -> Answer {
    let message = field(&body, "message", "path and message are required")?;
    Ok(Json(
        portos_git::commit(&repo(&app, &body).await?, message).await?,
    ))
}

/// `POST /api/git/update-branches`.
#[utoipa::path(post, operation_id = "gitUpdateBranches", path = "/api/git/update-branches", tag = "git", request_body(content = Object, description = "`{ path }`"), responses((status = 200, description = "`{ stashed, stashRestored, currentBranch, <branch>: updated|failed }`"), (status = 404, description = "not a registered app's folder")))]
pub async fn update_branches(State(app): State<AppState>, Json(body): Json<Value>) -> Answer {
    Ok(Json(
        portos_git::update_branches(&repo(&app, &body).await?).await?,
    ))
}

/// `POST /api/git/branch-comparison`.
#[utoipa::path(post, operation_id = "gitBranchComparison", path = "/api/git/branch-comparison", tag = "git", request_body(content = Object, description = "`{ path, base? (main), head? (dev) }`"), responses((status = 200, description = "`{ ahead, commits, stats: { files, insertions, deletions } }`"), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "not a registered app's folder")))]
pub async fn branch_comparison(State(app): State<AppState>, Json(body): Json<Value>) -> Answer {
    let base = body["base"].as_str().unwrap_or("main");
    let head = body["head"].as_str().unwrap_or("dev");
    Ok(Json(
        portos_git::branch_comparison(&repo(&app, &body).await?, base, head).await?,
    ))
}

/// `POST /api/git/push`.
#[utoipa::path(post, operation_id = "gitPush", path = "/api/git/push", tag = "git", request_body(content = Object, description = "`{ path, branch? }`"), responses((status = 200, description = "`{ success, output }`"), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "not a registered app's folder"), (status = 422, description = "GIT_FAILED")))]
pub async fn push(State(app): State<AppState>, Json(body): Json<Value>) -> Answer {
    let branch = body["branch"].as_str().filter(|b| !b.is_empty());
    Ok(Json(
        portos_git::push(&repo(&app, &body).await?, branch).await?,
    ))
}

/// `POST /api/git/branches`.
#[utoipa::path(post, operation_id = "gitBranches", path = "/api/git/branches", tag = "git", request_body(content = Object, description = "`{ path }`"), responses((status = 200, description = "`{ branches: [{ name, current, tracking, ahead, behind }] }`"), (status = 404, description = "not a registered app's folder")))]
pub async fn branches(State(app): State<AppState>, Json(body): Json<Value>) -> Answer {
    Ok(Json(portos_git::branches(&repo(&app, &body).await?).await?))
}

/// `POST /api/git/checkout`.
#[utoipa::path(post, operation_id = "gitCheckout", path = "/api/git/checkout", tag = "git", request_body(content = Object, description = "`{ path, branch }`"), responses((status = 200, description = "`{ success, branch }`"), (status = 400, description = "VALIDATION_ERROR (e.g. a branch starting with '-')"), (status = 404, description = "not a registered app's folder"), (status = 422, description = "GIT_FAILED")))]
pub async fn checkout(State(app): State<AppState>, Json(body): Json<Value>) -> Answer {
    let branch = field(&body, "branch", "path and branch are required")?;
    Ok(Json(
        portos_git::checkout(&repo(&app, &body).await?, branch).await?,
    ))
}

/// `POST /api/git/pull`.
#[utoipa::path(post, operation_id = "gitPull", path = "/api/git/pull", tag = "git", request_body(content = Object, description = "`{ path }`"), responses((status = 200, description = "`{ success, output }`"), (status = 404, description = "not a registered app's folder"), (status = 422, description = "GIT_FAILED")))]
pub async fn pull(State(app): State<AppState>, Json(body): Json<Value>) -> Answer {
    Ok(Json(portos_git::pull(&repo(&app, &body).await?).await?))
}

/// `POST /api/git/sync`.
#[utoipa::path(post, operation_id = "gitSync", path = "/api/git/sync", tag = "git", request_body(content = Object, description = "`{ path, branch? }`"), responses((status = 200, description = "`{ success, pulled, pushed, output, error }`"), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "not a registered app's folder")))]
pub async fn sync(State(app): State<AppState>, Json(body): Json<Value>) -> Answer {
    let branch = body["branch"].as_str().filter(|b| !b.is_empty());
    Ok(Json(
        portos_git::sync(&repo(&app, &body).await?, branch).await?,
    ))
}
