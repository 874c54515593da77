//! `/api/cos` over `portos-cos`: the original's routes the port needs
//! (daemon, config, tasks, agents, health, reports, core learning), on its
//! paths and in its shapes. Each handler parses, calls one `Cos` method and
//! shapes the answer.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;

type Answer = Result<Json<Value>, ApiError>;
type Body = Json<Map<String, Value>>;

/// Every `/api/cos` route, for the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(start))
        .routes(routes!(stop))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(evaluate))
        .routes(routes!(watcher))
        .routes(routes!(get_config, put_config))
        .routes(routes!(tasks, add_task))
        .routes(routes!(user_tasks))
        .routes(routes!(internal_tasks))
        .routes(routes!(reorder))
        .routes(routes!(enhance))
        .routes(routes!(refresh))
        .routes(routes!(update_task, delete_task))
        .routes(routes!(approve))
        .routes(routes!(agents))
        .routes(routes!(history))
        .routes(routes!(history_of))
        .routes(routes!(agent, delete_agent))
        .routes(routes!(agent_stats))
        .routes(routes!(terminate))
        .routes(routes!(kill))
        .routes(routes!(clear_completed))
        .routes(routes!(health))
        .routes(routes!(health_check))
        .routes(routes!(reports))
        .routes(routes!(report_today))
        .routes(routes!(report))
        .routes(routes!(generate_report))
        .routes(routes!(learning))
        .routes(routes!(learning_summary))
        .routes(routes!(learning_skipped))
        .routes(routes!(learning_reset))
}

/// `GET /api/cos`.
#[utoipa::path(get, operation_id = "cosStatus", path = "/api/cos", tag = "cos",
    responses((status = 200, description = "`{ running, paused, pausedAt, pauseReason, config, stats, activeAgents, provider }`", body = crate::schemas::cos::CosStatus)))]
pub async fn status(State(app): State<AppState>) -> Json<Value> {
    Json(app.cos.status().await)
}

/// `POST /api/cos/start`.
#[utoipa::path(post, operation_id = "cosStart", path = "/api/cos/start", tag = "cos",
    responses((status = 200, description = "`{ success }`; `success: false` with `error` when it already runs", body = crate::schemas::Done)))]
pub async fn start(State(app): State<AppState>) -> Answer {
    Ok(Json(app.cos.start().await?))
}

/// `POST /api/cos/stop`.
#[utoipa::path(post, operation_id = "cosStop", path = "/api/cos/stop", tag = "cos",
    responses((status = 200, description = "`{ success }`; running agents go on and are recorded", body = crate::schemas::Done)))]
pub async fn stop(State(app): State<AppState>) -> Json<Value> {
    Json(app.cos.stop().await)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/cos/pause`.
#[utoipa::path(post, operation_id = "cosPause", path = "/api/cos/pause", tag = "cos",
    request_body(content = crate::schemas::requests::PauseReason, description = "`{ reason? }`"),
    responses((status = 200, description = "`{ success, paused, pausedAt, pauseReason }`", body = crate::schemas::writes::Paused)))]
pub async fn pause(State(app): State<AppState>, body: Option<Json<PauseBody>>) -> Json<Value> {
    let reason = body.and_then(|Json(b)| b.reason);
    Json(app.cos.pause(reason).await)
}

/// `POST /api/cos/resume`.
#[utoipa::path(post, operation_id = "cosResume", path = "/api/cos/resume", tag = "cos",
    responses((status = 200, description = "`{ success, paused: false }`", body = crate::schemas::writes::Paused)))]
pub async fn resume(State(app): State<AppState>) -> Json<Value> {
    Json(app.cos.resume().await)
}

/// `POST /api/cos/evaluate`.
#[utoipa::path(post, operation_id = "cosEvaluate", path = "/api/cos/evaluate", tag = "cos",
    responses((status = 200, description = "`{ success, started: [agent ids], waitingForRetry }`, or `success: false` with `error` when stopped or paused")))]
pub async fn evaluate(State(app): State<AppState>) -> Json<Value> {
    Json(app.cos.evaluate().await)
}

/// `GET /api/cos/watcher`.
#[utoipa::path(get, operation_id = "cosWatcher", path = "/api/cos/watcher", tag = "cos",
    responses((status = 200, description = "`{ watching, files }`: the task files are watched whenever the CoS runs", body = crate::schemas::cos::CosWatcher)))]
pub async fn watcher(State(app): State<AppState>) -> Json<Value> {
    let running = app.cos.status().await["running"] == true;
    Json(json!({"watching": running, "files": ["TASKS.md", "COS-TASKS.md"]}))
}

/// `GET /api/cos/config`.
#[utoipa::path(get, operation_id = "cosConfig", path = "/api/cos/config", tag = "cos",
    responses((status = 200, description = "the config", body = crate::schemas::cos::CosConfig)))]
pub async fn get_config(State(app): State<AppState>) -> Json<Value> {
    Json(app.cos.config().await)
}

/// `PUT /api/cos/config`.
#[utoipa::path(put, operation_id = "cosSetConfig", path = "/api/cos/config", tag = "cos",
    request_body(content = Object, description = "keys of the config to change; unknown keys, the task files' paths and values of the wrong type are refused whole"),
    responses((status = 200, description = "the config", body = crate::schemas::cos::CosConfig), (status = 400, description = "VALIDATION_ERROR naming the key")))]
pub async fn put_config(State(app): State<AppState>, Json(b): Body) -> Answer {
    Ok(Json(app.cos.set_config(&b).await?))
}

/// `GET /api/cos/tasks`.
#[utoipa::path(get, operation_id = "cosTasks", path = "/api/cos/tasks", tag = "cos",
    responses((status = 200, description = "`{ user, cos }`: each `{ tasks, grouped, file, exists, type, unparsed }`; `cos` also `autoApproved`, `awaitingApproval`", body = crate::schemas::cos::CosQueues)))]
pub async fn tasks(State(app): State<AppState>) -> Answer {
    Ok(Json(app.cos.tasks().await?))
}

/// `GET /api/cos/tasks/user`.
#[utoipa::path(get, operation_id = "cosUserTasks", path = "/api/cos/tasks/user", tag = "cos",
    responses((status = 200, description = "the owner's queue", body = crate::schemas::cos::CosQueue)))]
pub async fn user_tasks(State(app): State<AppState>) -> Answer {
    Ok(Json(app.cos.tasks().await?["user"].take()))
}

/// `GET /api/cos/tasks/internal`.
#[utoipa::path(get, operation_id = "cosInternalTasks", path = "/api/cos/tasks/internal", tag = "cos",
    responses((status = 200, description = "the CoS's own queue", body = crate::schemas::cos::CosQueue)))]
pub async fn internal_tasks(State(app): State<AppState>) -> Answer {
    Ok(Json(app.cos.tasks().await?["cos"].take()))
}

/// `POST /api/cos/tasks`.
#[utoipa::path(post, operation_id = "cosAddTask", path = "/api/cos/tasks", tag = "cos",
    request_body(content = Object, description = "`{ description*, priority, context, model, provider, app, type user|internal, approvalRequired, screenshots, attachments, position top|bottom, useWorktree, thinkingLevel, metadata }`"),
    responses((status = 201, description = "the task", body = crate::schemas::cos::CosTask), (status = 400, description = "VALIDATION_ERROR")))]
pub async fn add_task(
    State(app): State<AppState>,
    Json(b): Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    Ok((StatusCode::CREATED, Json(app.cos.add_task(&b).await?)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reorder {
    task_ids: Vec<String>,
}

/// `POST /api/cos/tasks/reorder`.
#[utoipa::path(post, operation_id = "cosReorderTasks", path = "/api/cos/tasks/reorder", tag = "cos",
    request_body(content = crate::schemas::requests::TaskOrder, description = "`{ taskIds }`: the owner's tasks in their new order"),
    responses((status = 200, description = "`{ success, order }`", body = crate::schemas::writes::Reordered), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "a task is not there")))]
pub async fn reorder(State(app): State<AppState>, Json(b): Json<Reorder>) -> Answer {
    Ok(Json(app.cos.reorder(&b.task_ids).await?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnhanceBody {
    #[serde(default)]
    description: String,
    #[serde(default)]
    context: String,
    #[serde(default)]
    provider_id: Option<String>,
}

/// `POST /api/cos/tasks/enhance`.
#[utoipa::path(post, operation_id = "cosEnhanceTask", path = "/api/cos/tasks/enhance", tag = "cos",
    request_body(content = Object, description = "`{ description*, context?, providerId? }` (the stage's provider, else the active one)"),
    responses((status = 200, description = "`{ enhancedDescription, originalDescription, model, provider }`"), (status = 400, description = "VALIDATION_ERROR"), (status = 503, description = "ENHANCE_FAILED: the provider failed or timed out")))]
pub async fn enhance(State(app): State<AppState>, Json(b): Json<EnhanceBody>) -> Answer {
    Ok(Json(
        portos_cos::enhance::enhance(
            &app.ai,
            &b.description,
            &b.context,
            b.provider_id.as_deref(),
        )
        .await?,
    ))
}

/// `POST /api/cos/tasks/refresh`.
#[utoipa::path(post, operation_id = "cosRefreshTasks", path = "/api/cos/tasks/refresh", tag = "cos",
    responses((status = 200, description = "the tasks, read again; an evaluation follows", body = crate::schemas::cos::CosQueues)))]
pub async fn refresh(State(app): State<AppState>) -> Answer {
    app.cos.wake();
    Ok(Json(app.cos.tasks().await?))
}

/// `PUT /api/cos/tasks/:id`.
#[utoipa::path(put, operation_id = "cosUpdateTask", path = "/api/cos/tasks/{id}", tag = "cos", params(("id" = String, Path)),
    request_body(content = Object, description = "`{ description, priority, status pending|blocked|completed, blockedReason, context, model, provider, app, type, metadata }`"),
    responses((status = 200, description = "the task", body = crate::schemas::cos::CosTask), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "Task not found"), (status = 409, description = "TASK_RUNNING")))]
pub async fn update_task(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(b): Body,
) -> Answer {
    Ok(Json(app.cos.update_task(&id, &b).await?))
}

#[derive(Debug, Default, Deserialize)]
pub struct TypeParam {
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

/// `DELETE /api/cos/tasks/:id`.
#[utoipa::path(delete, operation_id = "cosDeleteTask", path = "/api/cos/tasks/{id}", tag = "cos",
    params(("id" = String, Path), ("type" = Option<String>, Query, description = "user or internal")),
    responses((status = 200, description = "`{ success, id }`", body = crate::schemas::writes::Removed), (status = 404, description = "Task not found"), (status = 409, description = "TASK_RUNNING")))]
pub async fn delete_task(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TypeParam>,
) -> Answer {
    Ok(Json(app.cos.delete_task(&id, q.kind.as_deref()).await?))
}

/// `POST /api/cos/tasks/:id/approve`.
#[utoipa::path(post, operation_id = "cosApproveTask", path = "/api/cos/tasks/{id}/approve", tag = "cos", params(("id" = String, Path)),
    responses((status = 200, description = "the task, approved", body = crate::schemas::cos::CosTask), (status = 404, description = "Task not found")))]
pub async fn approve(State(app): State<AppState>, Path(id): Path<String>) -> Answer {
    Ok(Json(app.cos.approve(&id).await?))
}

/// `GET /api/cos/agents`.
#[utoipa::path(get, operation_id = "cosAgents", path = "/api/cos/agents", tag = "cos",
    responses((status = 200, description = "the agents in the state, each with the tail of its output as `[{ line, timestamp }]`", body = Vec<crate::schemas::cos::CosAgent>)))]
pub async fn agents(State(app): State<AppState>) -> Json<Value> {
    Json(app.cos.agents().await)
}

/// `GET /api/cos/agents/history`.
#[utoipa::path(get, operation_id = "cosAgentHistory", path = "/api/cos/agents/history", tag = "cos",
    responses((status = 200, description = "`{ dates: [{ date, count }] }`, newest first", body = crate::schemas::cos::CosHistoryDates)))]
pub async fn history(State(app): State<AppState>) -> Json<Value> {
    Json(app.cos.history().await)
}

/// `GET /api/cos/agents/history/:date`.
#[utoipa::path(get, operation_id = "cosAgentHistoryOf", path = "/api/cos/agents/history/{date}", tag = "cos", params(("date" = String, Path)),
    responses((status = 200, description = "the agents that ended that day (UTC)", body = Vec<crate::schemas::cos::CosAgent>), (status = 400, description = "not YYYY-MM-DD")))]
pub async fn history_of(State(app): State<AppState>, Path(date): Path<String>) -> Answer {
    Ok(Json(json!(app.cos.history_of(&date).await?)))
}

/// `GET /api/cos/agents/:id`.
#[utoipa::path(get, operation_id = "cosAgent", path = "/api/cos/agents/{id}", tag = "cos", params(("id" = String, Path)),
    responses((status = 200, description = "the agent with its output", body = crate::schemas::cos::CosAgent), (status = 404, description = "Agent not found")))]
pub async fn agent(State(app): State<AppState>, Path(id): Path<String>) -> Answer {
    Ok(Json(app.cos.agent(&id).await?))
}

/// `GET /api/cos/agents/:id/stats`.
#[utoipa::path(get, operation_id = "cosAgentStats", path = "/api/cos/agents/{id}/stats", tag = "cos", params(("id" = String, Path)),
    responses((status = 200, description = "`{ agentId, active, pid, cpuSeconds, memoryBytes }` while it runs, else `{ active: false, pid: null }`", body = crate::schemas::services::CosAgentStats), (status = 404, description = "Agent not found")))]
pub async fn agent_stats(State(app): State<AppState>, Path(id): Path<String>) -> Answer {
    Ok(Json(app.cos.agent_stats(&id).await?))
}

/// `DELETE /api/cos/agents/:id`.
#[utoipa::path(delete, operation_id = "cosDeleteAgent", path = "/api/cos/agents/{id}", tag = "cos", params(("id" = String, Path)),
    responses((status = 200, description = "`{ success }`: the agent leaves the state (its archive stays)", body = crate::schemas::Done), (status = 404, description = "Agent not found"), (status = 409, description = "AGENT_RUNNING")))]
pub async fn delete_agent(State(app): State<AppState>, Path(id): Path<String>) -> Answer {
    Ok(Json(app.cos.forget_agent(&id).await?))
}

/// `POST /api/cos/agents/:id/terminate`.
#[utoipa::path(post, operation_id = "cosTerminateAgent", path = "/api/cos/agents/{id}/terminate", tag = "cos", params(("id" = String, Path)),
    responses((status = 200, description = "`{ success, agentId }`: SIGTERM, then SIGKILL; its task is blocked as terminated", body = crate::schemas::writes::AgentSignalled), (status = 404, description = "Agent not found"), (status = 409, description = "AGENT_NOT_RUNNING")))]
pub async fn terminate(State(app): State<AppState>, Path(id): Path<String>) -> Answer {
    Ok(Json(app.cos.terminate(&id).await?))
}

/// `POST /api/cos/agents/:id/kill`.
#[utoipa::path(post, operation_id = "cosKillAgent", path = "/api/cos/agents/{id}/kill", tag = "cos", params(("id" = String, Path)),
    responses((status = 200, description = "as terminate (the runner sends SIGKILL after its grace period)", body = crate::schemas::writes::AgentSignalled), (status = 404, description = "Agent not found"), (status = 409, description = "AGENT_NOT_RUNNING")))]
pub async fn kill(State(app): State<AppState>, Path(id): Path<String>) -> Answer {
    Ok(Json(app.cos.terminate(&id).await?))
}

/// `DELETE /api/cos/agents/completed`.
#[utoipa::path(delete, operation_id = "cosClearCompletedAgents", path = "/api/cos/agents/completed", tag = "cos",
    responses((status = 200, description = "`{ success, cleared }`", body = crate::schemas::writes::Cleared)))]
pub async fn clear_completed(State(app): State<AppState>) -> Json<Value> {
    Json(app.cos.clear_completed().await)
}

/// `GET /api/cos/health`.
#[utoipa::path(get, operation_id = "cosHealth", path = "/api/cos/health", tag = "cos",
    responses((status = 200, description = "`{ lastCheck, issues }` of the last check (a read checks nothing)", body = crate::schemas::cos::CosHealth)))]
pub async fn health(State(app): State<AppState>) -> Json<Value> {
    Json(app.cos.health().await)
}

/// `POST /api/cos/health/check`.
#[utoipa::path(post, operation_id = "cosHealthCheck", path = "/api/cos/health/check", tag = "cos",
    responses((status = 200, description = "`{ lastCheck, issues }`; an errored process gets a CoS task awaiting approval, never a restart", body = crate::schemas::cos::CosHealth)))]
pub async fn health_check(State(app): State<AppState>) -> Json<Value> {
    Json(app.cos.health_check_now().await)
}

/// `GET /api/cos/reports`.
#[utoipa::path(get, operation_id = "cosReports", path = "/api/cos/reports", tag = "cos",
    responses((status = 200, description = "the dates with a report, newest first", body = Vec<String>)))]
pub async fn reports(State(app): State<AppState>) -> Json<Value> {
    Json(app.cos.reports().await)
}

/// `GET /api/cos/reports/today`.
#[utoipa::path(get, operation_id = "cosReportToday", path = "/api/cos/reports/today", tag = "cos",
    responses((status = 200, description = "today's report, made now when there is none", body = crate::schemas::cos::CosReport)))]
pub async fn report_today(State(app): State<AppState>) -> Answer {
    Ok(Json(app.cos.today_report().await?))
}

/// `GET /api/cos/reports/:date`.
#[utoipa::path(get, operation_id = "cosReport", path = "/api/cos/reports/{date}", tag = "cos", params(("date" = String, Path)),
    responses((status = 200, description = "`{ date, generated, summary, agents }`", body = crate::schemas::cos::CosReport), (status = 400, description = "not YYYY-MM-DD"), (status = 404, description = "no report that day")))]
pub async fn report(State(app): State<AppState>, Path(date): Path<String>) -> Answer {
    app.cos.report(&date).await?.map(Json).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("no report for {date}"),
        )
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateBody {
    #[serde(default)]
    date: Option<String>,
}

/// `POST /api/cos/reports/generate`.
#[utoipa::path(post, operation_id = "cosGenerateReport", path = "/api/cos/reports/generate", tag = "cos",
    request_body(content = Object, description = "`{ date? }` (UTC today)"),
    responses((status = 200, description = "the report", body = crate::schemas::cos::CosReport), (status = 400, description = "not YYYY-MM-DD")))]
pub async fn generate_report(
    State(app): State<AppState>,
    body: Option<Json<GenerateBody>>,
) -> Answer {
    let date = body.and_then(|Json(b)| b.date);
    Ok(Json(app.cos.generate_report(date.as_deref()).await?))
}

/// `GET /api/cos/learning`.
#[utoipa::path(get, operation_id = "cosLearning", path = "/api/cos/learning", tag = "cos",
    responses((status = 200, description = "`learning.json`: `byTaskType`, `byModelTier`, `byModel`, `errorPatterns`, `routingAccuracy`, `totals`, `records`", body = crate::schemas::cos::CosLearning)))]
pub async fn learning(State(app): State<AppState>) -> Json<Value> {
    Json(app.cos.learning().await)
}

/// `GET /api/cos/learning/summary`.
#[utoipa::path(get, operation_id = "cosLearningSummary", path = "/api/cos/learning/summary", tag = "cos",
    responses((status = 200, description = "`{ status, statusMessage, totalTypes, healthy, warning, critical, skipped, overallSuccessRate, totalCompleted }`", body = crate::schemas::cos::CosLearningSummary)))]
pub async fn learning_summary(State(app): State<AppState>) -> Json<Value> {
    Json(app.cos.learning_summary().await)
}

/// `GET /api/cos/learning/skipped`.
#[utoipa::path(get, operation_id = "cosLearningSkipped", path = "/api/cos/learning/skipped", tag = "cos",
    responses((status = 200, description = "`{ skippedCount, skippedTypes, message }`", body = crate::schemas::cos::CosLearningSkipped)))]
pub async fn learning_skipped(State(app): State<AppState>) -> Json<Value> {
    Json(app.cos.learning_skipped().await)
}

/// `POST /api/cos/learning/reset/:taskType`.
#[utoipa::path(post, operation_id = "cosLearningReset", path = "/api/cos/learning/reset/{taskType}", tag = "cos", params(("taskType" = String, Path)),
    responses((status = 200, description = "`{ success, taskType }`", body = crate::schemas::writes::LearningReset), (status = 404, description = "no data for the type")))]
pub async fn learning_reset(State(app): State<AppState>, Path(t): Path<String>) -> Answer {
    Ok(Json(app.cos.learning_reset(&t).await?))
}
