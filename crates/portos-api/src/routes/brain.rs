//! `/api/brain` over `portos-brain`: the original's 46 routes (the four
//! record kinds share one set of handlers, `/api/brain/{kind}`), plus
//! `GET /api/brain/schedule` (ours: next slots, the missed-runs policy and
//! the scheduler's outcomes).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use portos_brain::inbox::{InboxQuery, number};
use portos_brain::links::LinksQuery;
use portos_brain::{Dest, Job};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

type Answer = Result<Json<Value>, ApiError>;

/// A body that may be absent (`null` then).
fn body(bytes: &Bytes) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::validation(format!("the body is not JSON: {e}")))
}

fn kind(k: &str) -> Result<Dest, ApiError> {
    Dest::parse(k).ok_or_else(|| {
        ApiError::not_found(format!(
            "no brain records called {k:?} (people, projects, ideas, admin)"
        ))
    })
}

fn ok(v: impl serde::Serialize) -> Answer {
    Ok(Json(json!(v)))
}

#[derive(Debug, Default, Deserialize)]
pub struct InboxParams {
    status: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

/// `POST /api/brain/capture`.
#[utoipa::path(post, operation_id = "brainCapture", path = "/api/brain/capture", tag = "brain", request_body(content = crate::schemas::requests::Thought, description = "`{ text, providerOverride?, modelOverride? }`"),
    responses((status = 200, description = "`{ inboxLog, message }`; `brain:classified` follows on /ws", body = crate::schemas::writes::Captured), (status = 400, description = "VALIDATION_ERROR")))]
pub async fn capture(State(app): State<AppState>, Json(b): Json<Value>) -> Answer {
    ok(app.brain.capture(&b).await?)
}

/// `GET /api/brain/inbox`.
#[utoipa::path(get, operation_id = "brainInbox", path = "/api/brain/inbox", tag = "brain",
    params(("status" = Option<String>, Query), ("limit" = Option<u32>, Query, description = "1-100, 50"), ("offset" = Option<u32>, Query)),
    responses((status = 200, description = "`{ entries, counts }`, newest first", body = crate::schemas::brain::BrainInbox), (status = 400, description = "VALIDATION_ERROR")))]
pub async fn inbox(State(app): State<AppState>, Query(q): Query<InboxParams>) -> Answer {
    let q = InboxQuery::parse(q.status.as_deref(), q.limit.as_deref(), q.offset.as_deref())?;
    ok(app.brain.inbox(&q).await?)
}

/// `GET /api/brain/inbox/:id`.
#[utoipa::path(get, operation_id = "brainInboxEntry", path = "/api/brain/inbox/{id}", tag = "brain", params(("id" = String, Path)),
    responses((status = 200, description = "the entry", body = crate::schemas::brain::BrainInboxEntry), (status = 404, description = "Inbox entry not found")))]
pub async fn entry(State(app): State<AppState>, Path(id): Path<String>) -> Answer {
    ok(app.brain.entry(&id).await?)
}

/// `PUT /api/brain/inbox/:id`.
#[utoipa::path(put, operation_id = "brainEditEntry", path = "/api/brain/inbox/{id}", tag = "brain", params(("id" = String, Path)), request_body(content = Object, description = "`{ capturedText }`"),
    responses((status = 200, description = "the entry (not classified again)", body = crate::schemas::brain::BrainInboxEntry), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "Inbox entry not found")))]
pub async fn edit_entry(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(b): Json<Value>,
) -> Answer {
    ok(app.brain.edit(&id, &b).await?)
}

/// `DELETE /api/brain/inbox/:id`.
#[utoipa::path(delete, operation_id = "brainDeleteEntry", path = "/api/brain/inbox/{id}", tag = "brain", params(("id" = String, Path)),
    responses((status = 204, description = "gone (filed records stay)"), (status = 404, description = "Inbox entry not found")))]
pub async fn delete_entry(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.brain.remove_entry(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/brain/inbox/:id/retry`.
#[utoipa::path(post, operation_id = "brainRetry", path = "/api/brain/inbox/{id}/retry", tag = "brain", params(("id" = String, Path)), request_body(content = Object, description = "`{ providerOverride?, modelOverride? }` or nothing"),
    responses((status = 200, description = "`{ inboxLog, message }`: filed or in review, whatever the model answered", body = crate::schemas::writes::Captured), (status = 404, description = "Inbox entry not found")))]
pub async fn retry(State(app): State<AppState>, Path(id): Path<String>, b: Bytes) -> Answer {
    ok(app.brain.retry(&id, &body(&b)?).await?)
}

/// `POST /api/brain/inbox/:id/done`.
#[utoipa::path(post, operation_id = "brainDone", path = "/api/brain/inbox/{id}/done", tag = "brain", params(("id" = String, Path)),
    responses((status = 200, description = "the entry, `done`", body = crate::schemas::brain::BrainInboxEntry), (status = 404, description = "Inbox entry not found")))]
pub async fn done(State(app): State<AppState>, Path(id): Path<String>) -> Answer {
    ok(app.brain.done(&id).await?)
}

/// `POST /api/brain/review/resolve`.
#[utoipa::path(post, operation_id = "brainResolve", path = "/api/brain/review/resolve", tag = "brain", request_body(content = Object, description = "`{ inboxLogId, destination, editedExtracted? }`"),
    responses((status = 200, description = "`{ inboxLog, filedRecord }`"), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "Inbox entry not found"), (status = 409, description = "NOT_IN_REVIEW")))]
pub async fn resolve(State(app): State<AppState>, Json(b): Json<Value>) -> Answer {
    ok(app.brain.resolve(&b).await?)
}

/// `POST /api/brain/fix`.
#[utoipa::path(post, operation_id = "brainFix", path = "/api/brain/fix", tag = "brain", request_body(content = Object, description = "`{ inboxLogId, newDestination, updatedFields?, note? }`"),
    responses((status = 200, description = "`{ inboxLog, newRecord }`; the old record archived"), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "Inbox entry not found"), (status = 409, description = "NOT_FILED")))]
pub async fn fix(State(app): State<AppState>, Json(b): Json<Value>) -> Answer {
    ok(app.brain.fix(&b).await?)
}

#[derive(Debug, Default, Deserialize)]
pub struct StatusParam {
    status: Option<String>,
}

/// `GET /api/brain/{kind}`: people, projects, ideas or admin.
#[utoipa::path(get, operation_id = "brainRecords", path = "/api/brain/{kind}", tag = "brain", params(("kind" = String, Path, description = "people, projects, ideas, admin"), ("status" = Option<String>, Query)),
    responses((status = 200, description = "the records, `{ id, ... }`, in file order", body = Vec<crate::schemas::brain::BrainRecord>), (status = 404, description = "no such kind")))]
pub async fn records(
    State(app): State<AppState>,
    Path(k): Path<String>,
    Query(q): Query<StatusParam>,
) -> Answer {
    ok(app
        .brain
        .list(kind(&k)?, q.status.as_deref().filter(|s| !s.is_empty()))
        .await?)
}

/// `POST /api/brain/{kind}`.
#[utoipa::path(post, operation_id = "brainCreateRecord", path = "/api/brain/{kind}", tag = "brain", params(("kind" = String, Path)), request_body(content = Object, description = "the kind's fields"),
    responses((status = 201, description = "the record", body = crate::schemas::brain::BrainRecord), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "no such kind")))]
pub async fn create_record(
    State(app): State<AppState>,
    Path(k): Path<String>,
    Json(b): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(app.brain.create(kind(&k)?, &b).await?),
    ))
}

/// `GET /api/brain/{kind}/:id`.
#[utoipa::path(get, operation_id = "brainRecord", path = "/api/brain/{kind}/{id}", tag = "brain", params(("kind" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "the record", body = crate::schemas::brain::BrainRecord), (status = 404, description = "Person/Project/Idea/Admin item not found")))]
pub async fn record(State(app): State<AppState>, Path((k, id)): Path<(String, String)>) -> Answer {
    ok(app.brain.get(kind(&k)?, &id).await?)
}

/// `PUT /api/brain/{kind}/:id`.
#[utoipa::path(put, operation_id = "brainUpdateRecord", path = "/api/brain/{kind}/{id}", tag = "brain", params(("kind" = String, Path), ("id" = String, Path)), request_body(content = Object, description = "any of the kind's fields"),
    responses((status = 200, description = "the record", body = crate::schemas::brain::BrainRecord), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "not found")))]
pub async fn update_record(
    State(app): State<AppState>,
    Path((k, id)): Path<(String, String)>,
    Json(b): Json<Value>,
) -> Answer {
    ok(app.brain.update(kind(&k)?, &id, &b).await?)
}

/// `DELETE /api/brain/{kind}/:id`.
#[utoipa::path(delete, operation_id = "brainDeleteRecord", path = "/api/brain/{kind}/{id}", tag = "brain", params(("kind" = String, Path), ("id" = String, Path)),
    responses((status = 204, description = "gone"), (status = 404, description = "not found")))]
pub async fn delete_record(
    State(app): State<AppState>,
    Path((k, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.brain.delete(kind(&k)?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
pub struct LimitParam {
    limit: Option<String>,
}

async fn history(app: &AppState, job: Job, q: &LimitParam) -> Answer {
    let limit = number("limit", q.limit.as_deref(), 10, 1..=1000)?;
    ok(app.brain.history(job, limit).await?)
}

/// `GET /api/brain/digest/latest`.
#[utoipa::path(get, operation_id = "brainLatestDigest", path = "/api/brain/digest/latest", tag = "brain", responses((status = 200, description = "the newest digest, or null", body = Option<crate::schemas::brain::BrainRecord>)))]
pub async fn latest_digest(State(app): State<AppState>) -> Answer {
    ok(app.brain.latest(Job::DailyDigest).await?)
}

/// `GET /api/brain/digests`.
#[utoipa::path(get, operation_id = "brainDigests", path = "/api/brain/digests", tag = "brain", params(("limit" = Option<u32>, Query, description = "default 10")),
    responses((status = 200, description = "newest first", body = Vec<crate::schemas::brain::BrainRecord>), (status = 400, description = "VALIDATION_ERROR")))]
pub async fn digests(State(app): State<AppState>, Query(q): Query<LimitParam>) -> Answer {
    history(&app, Job::DailyDigest, &q).await
}

/// `POST /api/brain/digest/run`.
#[utoipa::path(post, operation_id = "brainRunDigest", path = "/api/brain/digest/run", tag = "brain", request_body(content = Object, description = "`{ providerOverride?, modelOverride? }` or nothing"),
    responses((status = 200, description = "the stored digest"), (status = 409, description = "JOB_RUNNING"), (status = 422, description = "no AI provider"), (status = 502, description = "AI_ERROR or AI_OUTPUT_INVALID")))]
pub async fn run_digest(State(app): State<AppState>, b: Bytes) -> Answer {
    ok(app.brain.run_job(Job::DailyDigest, &body(&b)?).await?)
}

/// `GET /api/brain/review/latest`.
#[utoipa::path(get, operation_id = "brainLatestReview", path = "/api/brain/review/latest", tag = "brain", responses((status = 200, description = "the newest review, or null", body = Option<crate::schemas::brain::BrainRecord>)))]
pub async fn latest_review(State(app): State<AppState>) -> Answer {
    ok(app.brain.latest(Job::WeeklyReview).await?)
}

/// `GET /api/brain/reviews`.
#[utoipa::path(get, operation_id = "brainReviews", path = "/api/brain/reviews", tag = "brain", params(("limit" = Option<u32>, Query, description = "default 10")),
    responses((status = 200, description = "newest first", body = Vec<crate::schemas::brain::BrainRecord>), (status = 400, description = "VALIDATION_ERROR")))]
pub async fn reviews(State(app): State<AppState>, Query(q): Query<LimitParam>) -> Answer {
    history(&app, Job::WeeklyReview, &q).await
}

/// `POST /api/brain/review/run`.
#[utoipa::path(post, operation_id = "brainRunReview", path = "/api/brain/review/run", tag = "brain", request_body(content = Object, description = "`{ providerOverride?, modelOverride? }` or nothing"),
    responses((status = 200, description = "the stored review"), (status = 409, description = "JOB_RUNNING"), (status = 422, description = "no AI provider"), (status = 502, description = "AI_ERROR or AI_OUTPUT_INVALID")))]
pub async fn run_review(State(app): State<AppState>, b: Bytes) -> Answer {
    ok(app.brain.run_job(Job::WeeklyReview, &body(&b)?).await?)
}

/// `GET /api/brain/settings`.
#[utoipa::path(get, operation_id = "brainSettings", path = "/api/brain/settings", tag = "brain", responses((status = 200, description = "meta.json with its defaults", body = crate::schemas::brain::BrainSettings)))]
pub async fn settings(State(app): State<AppState>) -> Answer {
    ok(app.brain.settings().await?)
}

/// `PUT /api/brain/settings`.
#[utoipa::path(put, operation_id = "brainPutSettings", path = "/api/brain/settings", tag = "brain", request_body(content = Object, description = "any of confidenceThreshold, dailyDigestTime, weeklyReviewTime, weeklyReviewDay, defaultProvider, defaultModel, missedRuns"),
    responses((status = 200, description = "the settings after", body = crate::schemas::brain::BrainSettings), (status = 400, description = "VALIDATION_ERROR, INVALID_PROVIDER, NO_MODELS, INVALID_MODEL")))]
pub async fn put_settings(State(app): State<AppState>, Json(b): Json<Value>) -> Answer {
    ok(app.brain.put_settings(&b).await?)
}

/// `GET /api/brain/summary`.
#[utoipa::path(get, operation_id = "brainSummary", path = "/api/brain/summary", tag = "brain", responses((status = 200, description = "`{ counts, activeProjects, activeIdeas, openAdmin, gitHubRepos, needsReview, lastDailyDigest, lastWeeklyReview }`", body = crate::schemas::brain::BrainSummary)))]
pub async fn summary(State(app): State<AppState>) -> Answer {
    ok(app.brain.summary().await?)
}

/// `GET /api/brain/schedule` (ours).
#[utoipa::path(get, operation_id = "brainSchedule", path = "/api/brain/schedule", tag = "brain", responses((status = 200, description = "`{ jobs: [{ job, next, lastRun, lastOutcome }], missedRuns, log }`", body = crate::schemas::brain::BrainSchedule)))]
pub async fn schedule(State(app): State<AppState>) -> Answer {
    ok(app.brain.schedule().await?)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinksParams {
    link_type: Option<String>,
    is_git_hub_repo: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

/// `GET /api/brain/links`.
#[utoipa::path(get, operation_id = "brainLinks", path = "/api/brain/links", tag = "brain",
    params(("linkType" = Option<String>, Query), ("isGitHubRepo" = Option<bool>, Query), ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query)),
    responses((status = 200, description = "`{ links, total, limit, offset }`, newest first", body = crate::schemas::brain::BrainLinks), (status = 400, description = "VALIDATION_ERROR")))]
pub async fn links(State(app): State<AppState>, Query(q): Query<LinksParams>) -> Answer {
    let q = LinksQuery::parse(
        q.link_type.as_deref(),
        q.is_git_hub_repo.as_deref(),
        q.limit.as_deref(),
        q.offset.as_deref(),
    )?;
    ok(app.brain.links(&q).await?)
}

/// `POST /api/brain/links`.
#[utoipa::path(post, operation_id = "brainCreateLink", path = "/api/brain/links", tag = "brain", request_body(content = Object, description = "`{ url, title?, description?, linkType?, tags?, autoClone? }`"),
    responses((status = 201, description = "the link; a GitHub repository's clone starts", body = crate::schemas::brain::BrainLink), (status = 400, description = "VALIDATION_ERROR"), (status = 409, description = "DUPLICATE_URL")))]
pub async fn create_link(
    State(app): State<AppState>,
    Json(b): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    Ok((StatusCode::CREATED, Json(app.brain.create_link(&b).await?)))
}

/// `GET /api/brain/links/:id`.
#[utoipa::path(get, operation_id = "brainLink", path = "/api/brain/links/{id}", tag = "brain", params(("id" = String, Path)),
    responses((status = 200, description = "the link", body = crate::schemas::brain::BrainLink), (status = 404, description = "Link not found")))]
pub async fn link(State(app): State<AppState>, Path(id): Path<String>) -> Answer {
    ok(app.brain.link(&id).await?)
}

/// `PUT /api/brain/links/:id`.
#[utoipa::path(put, operation_id = "brainUpdateLink", path = "/api/brain/links/{id}", tag = "brain", params(("id" = String, Path)), request_body(content = Object, description = "any of title, description, linkType, tags"),
    responses((status = 200, description = "the link", body = crate::schemas::brain::BrainLink), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "Link not found")))]
pub async fn update_link(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(b): Json<Value>,
) -> Answer {
    ok(app.brain.update_link(&id, &b).await?)
}

/// `DELETE /api/brain/links/:id`.
#[utoipa::path(delete, operation_id = "brainDeleteLink", path = "/api/brain/links/{id}", tag = "brain", params(("id" = String, Path)),
    responses((status = 204, description = "gone (a clone on disk stays)"), (status = 404, description = "Link not found")))]
pub async fn delete_link(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.brain.delete_link(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/brain/links/:id/clone`.
#[utoipa::path(post, operation_id = "brainCloneLink", path = "/api/brain/links/{id}/clone", tag = "brain", params(("id" = String, Path)),
    responses((status = 200, description = "`{ message, linkId }`", body = crate::schemas::writes::LinkAction), (status = 400, description = "NOT_GITHUB_REPO"), (status = 404, description = "Link not found"), (status = 409, description = "CLONE_IN_PROGRESS")))]
pub async fn clone_link(State(app): State<AppState>, Path(id): Path<String>) -> Answer {
    ok(app.brain.clone_link(&id).await?)
}

/// `POST /api/brain/links/:id/pull`.
#[utoipa::path(post, operation_id = "brainPullLink", path = "/api/brain/links/{id}/pull", tag = "brain", params(("id" = String, Path)),
    responses((status = 200, description = "`{ message, stdout, stderr, success }`"), (status = 400, description = "NOT_CLONED"), (status = 404, description = "Link not found"), (status = 422, description = "GIT_PULL_FAILED")))]
pub async fn pull_link(State(app): State<AppState>, Path(id): Path<String>) -> Answer {
    ok(app.brain.pull_link(&id).await?)
}

/// `POST /api/brain/links/:id/open-folder`.
#[utoipa::path(post, operation_id = "brainOpenLinkFolder", path = "/api/brain/links/{id}/open-folder", tag = "brain", params(("id" = String, Path)),
    responses((status = 200, description = "`{ message, path }`", body = crate::schemas::writes::LinkAction), (status = 400, description = "NO_LOCAL_PATH or PATH_NOT_FOUND"), (status = 404, description = "Link not found"), (status = 422, description = "CANNOT_OPEN")))]
pub async fn open_link_folder(State(app): State<AppState>, Path(id): Path<String>) -> Answer {
    ok(app.brain.open_link_folder(&id).await?)
}
