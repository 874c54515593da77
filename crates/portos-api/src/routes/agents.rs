//! `/api/agents/personalities`, `/api/agents/accounts`, `/api/agents/schedules`,
//! `/api/agents/activity` and the tool routes (`/api/agents/tools`,
//! `/api/agents/tools/moltworld`): the original's paths over `portos-agents`.
//! Platform keys leave only masked; mutations are recorded in history.

use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use portos_agents::{Begun, Platforms};
use portos_moltbook::{ApiKey, Moltbook, Sort};
use portos_moltworld::Moltworld;
use portos_ratelimit::{Limiter, SystemClock};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// Remote calls give up after this long.
const PLATFORM_TIMEOUT: Duration = Duration::from_secs(30);

/// The platform clients: base URLs from `PORTOS_MOLTBOOK_URL` and
/// `PORTOS_MOLTWORLD_URL` (tests, self-hosted), limits kept under
/// `data/agents/rate-limits/`.
pub fn platforms(data_dir: &FsPath) -> Platforms {
    let limits = data_dir.join("agents/rate-limits");
    let clock = Arc::new(SystemClock);
    let url = |var: &str, default: &str| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string())
    };
    let mb_url = url("PORTOS_MOLTBOOK_URL", portos_moltbook::DEFAULT_BASE);
    let mw_url = url("PORTOS_MOLTWORLD_URL", portos_moltworld::DEFAULT_BASE);
    let mb_limits = Arc::new(Limiter::new(
        portos_moltbook::limits(),
        limits.join("moltbook.json"),
        clock.clone(),
    ));
    let mw_limits = Arc::new(portos_moltworld::limiter(
        limits.join("moltworld.json"),
        clock,
    ));
    let moltbook =
        Moltbook::new(&mb_url, mb_limits.clone(), PLATFORM_TIMEOUT).unwrap_or_else(|e| {
            tracing::error!(
                "PORTOS_MOLTBOOK_URL {mb_url:?}: {e}; using {}",
                portos_moltbook::DEFAULT_BASE
            );
            Moltbook::new(portos_moltbook::DEFAULT_BASE, mb_limits, PLATFORM_TIMEOUT)
                .expect("the default Moltbook URL parses")
        });
    let moltworld =
        Moltworld::new(&mw_url, mw_limits.clone(), PLATFORM_TIMEOUT).unwrap_or_else(|e| {
            tracing::error!(
                "PORTOS_MOLTWORLD_URL {mw_url:?}: {e}; using {}",
                portos_moltworld::DEFAULT_BASE
            );
            Moltworld::new(portos_moltworld::DEFAULT_BASE, mw_limits, PLATFORM_TIMEOUT)
                .expect("the default Moltworld URL parses")
        });
    Platforms {
        moltbook,
        moltworld,
    }
}

async fn record(app: &AppState, action: &str, target: &str, id: &str, details: Value) {
    if let Err(e) = app
        .history
        .record(portos_history::NewEntry {
            action,
            target: Some(target),
            target_name: Some(id),
            details,
            success: true,
            error: None,
        })
        .await
    {
        tracing::warn!("history not recorded: {e}");
    }
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_string()
}

// ----- personalities -----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserQuery {
    user_id: Option<String>,
}

#[utoipa::path(get, path = "/api/agents/personalities", tag = "agents", operation_id = "listAgentPersonalities", params(("userId" = Option<String>, Query)), responses((status = 200, description = "agents, each `{ id, ... }`", body = Vec<crate::schemas::agents::AgentPersonality>)))]
pub async fn list_personalities(
    State(app): State<AppState>,
    Query(q): Query<UserQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(app.agents.agents(q.user_id.as_deref()).await?)))
}

#[utoipa::path(post, path = "/api/agents/personalities", tag = "agents", operation_id = "createAgentPersonality", request_body(content = Object, description = "`{ userId, name, description?, personality: { style, tone?, topics?, quirks?, promptPrefix? }, avatar?, enabled?, aiConfig? }`"), responses((status = 201, description = "the agent", body = crate::schemas::agents::AgentPersonality), (status = 400, description = "VALIDATION_ERROR")))]
pub async fn create_personality(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let a = app.agents.create_agent(body).await?;
    record(
        &app,
        "create",
        "agent-personality",
        &id_of(&a),
        json!({ "name": a["name"] }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(a)))
}

#[utoipa::path(get, path = "/api/agents/personalities/{id}", tag = "agents", operation_id = "getAgentPersonality", params(("id" = String, Path)), responses((status = 200, description = "the agent", body = crate::schemas::agents::AgentPersonality), (status = 404, description = "Agent not found")))]
pub async fn get_personality(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.agents.agent_view(&id).await?))
}

#[utoipa::path(put, path = "/api/agents/personalities/{id}", tag = "agents", operation_id = "updateAgentPersonality", params(("id" = String, Path)), request_body(content = Object, description = "fields to change; `personality` merges one level deep"), responses((status = 200, description = "the agent", body = crate::schemas::agents::AgentPersonality), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "Agent not found")))]
pub async fn update_personality(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let a = app.agents.update_agent(&id, body).await?;
    record(
        &app,
        "update",
        "agent-personality",
        &id,
        json!({ "name": a["name"] }),
    )
    .await;
    Ok(Json(a))
}

#[utoipa::path(delete, path = "/api/agents/personalities/{id}", tag = "agents", operation_id = "deleteAgentPersonality", params(("id" = String, Path)), responses((status = 200, description = "`{ success: true, removed: { accounts, schedules } }`: its accounts and schedules go with it"), (status = 404, description = "Agent not found")))]
pub async fn delete_personality(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let removed = app.agents.delete_agent(&id).await?;
    record(&app, "delete", "agent-personality", &id, removed.clone()).await;
    Ok(Json(json!({ "success": true, "removed": removed })))
}

#[derive(Debug, Deserialize)]
pub struct Enabled {
    enabled: bool,
}

#[utoipa::path(post, path = "/api/agents/personalities/{id}/toggle", tag = "agents", operation_id = "toggleAgentPersonality", params(("id" = String, Path)), request_body(content = crate::schemas::requests::Enabled, description = "`{ enabled: bool }`"), responses((status = 200, description = "the agent", body = crate::schemas::agents::AgentPersonality), (status = 404, description = "Agent not found")))]
pub async fn toggle_personality(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Enabled>,
) -> Result<Json<Value>, ApiError> {
    let a = app
        .agents
        .update_agent(&id, json!({ "enabled": body.enabled }))
        .await?;
    record(
        &app,
        "toggle",
        "agent-personality",
        &id,
        json!({ "enabled": body.enabled }),
    )
    .await;
    Ok(Json(a))
}

// ----- accounts -----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountQuery {
    agent_id: Option<String>,
    platform: Option<String>,
}

#[utoipa::path(get, path = "/api/agents/accounts", tag = "agents", operation_id = "listPlatformAccounts", params(("agentId" = Option<String>, Query), ("platform" = Option<String>, Query)), responses((status = 200, description = "accounts, keys masked as `***` + last 4", body = Vec<crate::schemas::agents::PlatformAccount>)))]
pub async fn list_accounts(
    State(app): State<AppState>,
    Query(q): Query<AccountQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(
        app.agents
            .accounts(q.agent_id.as_deref(), q.platform.as_deref())
            .await?
    )))
}

#[utoipa::path(post, path = "/api/agents/accounts", tag = "agents", operation_id = "createPlatformAccount", request_body(content = Object, description = "link: `{ agentId, platform, credentials: { apiKey, username, agentId? }, status?, platformData? }`; register: `{ agentId, platform, name, description? }`"), responses((status = 201, description = "the account, key masked (register on Moltbook adds `claimUrl`)", body = crate::schemas::agents::PlatformAccount), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "AGENT_NOT_FOUND"), (status = 503, description = "PLATFORM_UNAVAILABLE")))]
pub async fn create_account(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (a, action) = if body.get("credentials").is_some() {
        (app.agents.link_account(&body).await?, "create")
    } else {
        (app.agents.register_account(&body).await?, "register")
    };
    record(
        &app,
        action,
        "platform-account",
        &id_of(&a),
        json!({ "platform": a["platform"], "agentId": a["agentId"] }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(a)))
}

#[utoipa::path(get, path = "/api/agents/accounts/{id}", tag = "agents", operation_id = "getPlatformAccount", params(("id" = String, Path)), responses((status = 200, description = "the account, key masked", body = crate::schemas::agents::PlatformAccount), (status = 404, description = "Account not found")))]
pub async fn get_account(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.agents.account(&id).await?.masked(&id)))
}

#[utoipa::path(delete, path = "/api/agents/accounts/{id}", tag = "agents", operation_id = "deletePlatformAccount", params(("id" = String, Path)), responses((status = 200, description = "`{ success: true }`", body = crate::schemas::Done), (status = 404, description = "Account not found")))]
pub async fn delete_account(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.agents.delete_account(&id).await?;
    record(&app, "delete", "platform-account", &id, json!({})).await;
    Ok(Json(json!({ "success": true })))
}

#[utoipa::path(post, path = "/api/agents/accounts/{id}/test", tag = "agents", operation_id = "testPlatformAccount", params(("id" = String, Path)), responses((status = 200, description = "`{ success, message, platform, username, platformStatus }`"), (status = 401, description = "the platform refused the key"), (status = 403, description = "ACCOUNT_SUSPENDED"), (status = 404, description = "Account not found"), (status = 503, description = "PLATFORM_UNAVAILABLE")))]
pub async fn test_account(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.agents.test_account(&id).await?))
}

#[utoipa::path(post, path = "/api/agents/accounts/{id}/claim", tag = "agents", operation_id = "claimPlatformAccount", params(("id" = String, Path)), responses((status = 200, description = "the account, now active"), (status = 400, description = "INVALID_STATE: not pending"), (status = 404, description = "Account not found")))]
pub async fn claim_account(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = app.agents.claim_account(&id).await?;
    record(&app, "claim", "platform-account", &id, json!({})).await;
    Ok(Json(a))
}

// ----- schedules -----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleQuery {
    agent_id: Option<String>,
    account_id: Option<String>,
}

#[utoipa::path(get, path = "/api/agents/schedules", tag = "schedules", operation_id = "listSchedules", params(("agentId" = Option<String>, Query), ("accountId" = Option<String>, Query)), responses((status = 200, description = "schedules with `isActive` and `nextRun`", body = Vec<crate::schemas::agents::AgentSchedule>)))]
pub async fn list_schedules(
    State(app): State<AppState>,
    Query(q): Query<ScheduleQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(
        app.agents
            .schedules(q.agent_id.as_deref(), q.account_id.as_deref())
            .await?
    )))
}

#[utoipa::path(get, path = "/api/agents/schedules/stats", tag = "schedules", operation_id = "scheduleStats", responses((status = 200, description = "`{ total, enabled, active, totalRuns, byAction }`", body = crate::schemas::agents::ScheduleStats)))]
pub async fn schedule_stats(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.agents.stats().await?))
}

#[utoipa::path(post, path = "/api/agents/schedules", tag = "schedules", operation_id = "createSchedule", request_body(content = Object, description = "`{ agentId, accountId, action: { type, params? }, schedule: { type: cron|interval|random, cron? | intervalMs? | randomWindow? }, rateLimit?, enabled?, missedRuns?: skip|runOnce }`"), responses((status = 201, description = "the schedule, active if enabled", body = crate::schemas::agents::AgentSchedule), (status = 400, description = "VALIDATION_ERROR, ACCOUNT_AGENT_MISMATCH"), (status = 404, description = "AGENT_NOT_FOUND, ACCOUNT_NOT_FOUND")))]
pub async fn create_schedule(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let s = app.agents.create_schedule(body).await?;
    record(
        &app,
        "create",
        "automation-schedule",
        &id_of(&s),
        json!({ "agentId": s["agentId"], "action": s["action"]["type"] }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(s)))
}

#[utoipa::path(get, path = "/api/agents/schedules/{id}", tag = "schedules", operation_id = "getSchedule", params(("id" = String, Path)), responses((status = 200, description = "the schedule", body = crate::schemas::agents::AgentSchedule), (status = 404, description = "Schedule not found")))]
pub async fn get_schedule(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.agents.schedule_view(&id).await?))
}

#[utoipa::path(put, path = "/api/agents/schedules/{id}", tag = "schedules", operation_id = "updateSchedule", params(("id" = String, Path)), request_body(content = Object, description = "fields to change (agentId, accountId, lastRun, runCount are kept)"), responses((status = 200, description = "the schedule, its timer restarted", body = crate::schemas::agents::AgentSchedule), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "Schedule not found")))]
pub async fn update_schedule(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let s = app.agents.update_schedule(&id, body).await?;
    record(
        &app,
        "update",
        "automation-schedule",
        &id,
        json!({ "agentId": s["agentId"], "action": s["action"]["type"] }),
    )
    .await;
    Ok(Json(s))
}

#[utoipa::path(delete, path = "/api/agents/schedules/{id}", tag = "schedules", operation_id = "deleteSchedule", params(("id" = String, Path)), responses((status = 200, description = "`{ success: true }`", body = crate::schemas::Done), (status = 404, description = "Schedule not found")))]
pub async fn delete_schedule(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.agents.delete_schedule(&id).await?;
    record(&app, "delete", "automation-schedule", &id, json!({})).await;
    Ok(Json(json!({ "success": true })))
}

#[utoipa::path(post, path = "/api/agents/schedules/{id}/toggle", tag = "schedules", operation_id = "toggleSchedule", params(("id" = String, Path)), request_body(content = crate::schemas::requests::Enabled, description = "`{ enabled: bool }`"), responses((status = 200, description = "the schedule", body = crate::schemas::agents::AgentSchedule), (status = 400, description = "enabled missing or not a boolean"), (status = 404, description = "Schedule not found")))]
pub async fn toggle_schedule(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Enabled>,
) -> Result<Json<Value>, ApiError> {
    let s = app.agents.toggle_schedule(&id, body.enabled).await?;
    record(
        &app,
        "toggle",
        "automation-schedule",
        &id,
        json!({ "enabled": body.enabled }),
    )
    .await;
    Ok(Json(s))
}

#[utoipa::path(post, path = "/api/agents/schedules/{id}/run", tag = "schedules", operation_id = "runSchedule", params(("id" = String, Path)), responses((status = 200, description = "the schedule, its run started (`run: started`) or skipped by its limits (`run: skipped`, `reason`)"), (status = 404, description = "Schedule not found"), (status = 409, description = "RUN_ACTIVE, SCHEDULE_DISABLED")))]
pub async fn run_schedule(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let begun = app.agents.run_now(&id).await?;
    let mut s = app.agents.schedule_view(&id).await?;
    match begun {
        Begun::Started(_) => s["run"] = json!("started"),
        Begun::Skipped(why) => {
            s["run"] = json!("skipped");
            s["reason"] = json!(why);
        }
    }
    record(
        &app,
        "run",
        "automation-schedule",
        &id,
        json!({ "agentId": s["agentId"], "action": s["action"]["type"] }),
    )
    .await;
    Ok(Json(s))
}

// ----- activity -----

#[derive(Debug, Deserialize)]
pub struct ActivityQuery {
    date: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
    action: Option<String>,
}

#[utoipa::path(get, path = "/api/agents/activity/agent/{agentId}", tag = "agents", operation_id = "agentActivity", params(("agentId" = String, Path), ("date" = Option<String>, Query, description = "YYYY-MM-DD (UTC), today by default"), ("limit" = Option<usize>, Query), ("offset" = Option<usize>, Query), ("action" = Option<String>, Query)), responses((status = 200, description = "the day's entries, newest first", body = Vec<portos_agents::model::ActivityEntry>), (status = 400, description = "a bad date")))]
pub async fn agent_activity(
    State(app): State<AppState>,
    Path(agent): Path<String>,
    Query(q): Query<ActivityQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = portos_agents::model::ActivityPage {
        action: q.action,
        offset: q.offset.unwrap_or(0),
        limit: q.limit.unwrap_or(100),
    };
    let list = app
        .agents
        .activity_page(&agent, q.date.as_deref(), page)
        .await?;
    Ok(Json(json!(list)))
}

// ----- tools -----

/// The body of a tool route: which account acts, and the action's params.
fn tool_params(body: &Value) -> Result<(String, Value), ApiError> {
    let account = body
        .get("accountId")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::validation("accountId is required"))?
        .to_string();
    let mut params = body.clone();
    if let Some(o) = params.as_object_mut() {
        o.remove("accountId");
        o.remove("agentId");
    }
    Ok((account, params))
}

async fn tool(app: &AppState, body: &Value, action: &str) -> Result<Json<Value>, ApiError> {
    let (account, params) = tool_params(body)?;
    Ok(Json(app.agents.act(&account, action, params).await?))
}

macro_rules! tool_route {
    ($fn:ident, $path:literal, $action:literal, $doc:literal) => {
        #[utoipa::path(post, path = $path, tag = "agent-tools", operation_id = stringify!($fn), request_body(content = Object, description = $doc), responses((status = 200, description = "what the platform did"), (status = 400, description = "VALIDATION_ERROR, ACCOUNT_INACTIVE, WRONG_PLATFORM"), (status = 404, description = "Account not found"), (status = 429, description = "RATE_LIMITED: which limit, and when it frees"), (status = 503, description = "PLATFORM_UNAVAILABLE")))]
        pub async fn $fn(State(app): State<AppState>, Json(body): Json<Value>) -> Result<Json<Value>, ApiError> {
            tool(&app, &body, $action).await
        }
    };
}

tool_route!(
    publish_post,
    "/api/agents/tools/publish-post",
    "post",
    "`{ accountId, agentId?, submolt?, title, content }`"
);
tool_route!(
    publish_comment,
    "/api/agents/tools/publish-comment",
    "comment",
    "`{ accountId, agentId?, postId, content, parentId? }`"
);
tool_route!(
    mw_join,
    "/api/agents/tools/moltworld/join",
    "mw_heartbeat",
    "`{ accountId, x?, y? }`"
);
tool_route!(
    mw_build,
    "/api/agents/tools/moltworld/build",
    "mw_build",
    "`{ accountId, x, y, z?, type?, action?: place|remove }`"
);
tool_route!(
    mw_explore,
    "/api/agents/tools/moltworld/explore",
    "mw_explore",
    "`{ accountId, x?, y?, thinking? }`"
);
tool_route!(
    mw_think,
    "/api/agents/tools/moltworld/think",
    "mw_think",
    "`{ accountId, thought }`"
);
tool_route!(
    mw_say,
    "/api/agents/tools/moltworld/say",
    "mw_say",
    "`{ accountId, message, sayTo?, x?, y? }`"
);

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedQuery {
    account_id: String,
    sort: Option<String>,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/agents/tools/feed", tag = "agent-tools", operation_id = "moltbookFeed", params(("accountId" = String, Query), ("sort" = Option<String>, Query, description = "hot, new, top, rising"), ("limit" = Option<u32>, Query)), responses((status = 200, description = "Moltbook's feed"), (status = 404, description = "Account not found")))]
pub async fn feed(
    State(app): State<AppState>,
    Query(q): Query<FeedQuery>,
) -> Result<Json<Value>, ApiError> {
    let a = app.agents.account(&q.account_id).await?;
    let sort = match q.sort.as_deref().unwrap_or("hot") {
        "hot" => Sort::Hot,
        "new" => Sort::New,
        "top" => Sort::Top,
        "rising" => Sort::Rising,
        s => {
            return Err(ApiError::validation(format!(
                "sort must be hot, new, top or rising, not {s:?}"
            )));
        }
    };
    let key = ApiKey::new(a.credentials.api_key.clone());
    let feed = app
        .agents
        .platforms()
        .moltbook
        .feed(&key, sort, q.limit.unwrap_or(25).clamp(1, 100))
        .await
        .map_err(portos_agents::ActionError::from)?;
    Ok(Json(feed))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountOnly {
    account_id: String,
}

#[utoipa::path(get, path = "/api/agents/tools/rate-limits", tag = "agent-tools", operation_id = "accountRateLimits", params(("accountId" = String, Query)), responses((status = 200, description = "per action: todayCount, maxPerDay, remaining, cooldownMs, cooldownRemainingMs, canAct"), (status = 404, description = "Account not found")))]
pub async fn rate_limits(
    State(app): State<AppState>,
    Query(q): Query<AccountOnly>,
) -> Result<Json<Value>, ApiError> {
    let a = app.agents.account(&q.account_id).await?;
    let p = app.agents.platforms();
    let status = match a.platform {
        portos_agents::Platform::Moltbook => p
            .moltbook
            .limit_status(&ApiKey::new(a.credentials.api_key.clone()))
            .map_err(portos_agents::ActionError::from)?,
        portos_agents::Platform::Moltworld => p
            .moltworld
            .limit_status(a.platform_agent_id())
            .map_err(portos_agents::ActionError::from)?,
    };
    Ok(Json(json!(status)))
}

#[utoipa::path(get, path = "/api/agents/tools/moltworld/balance", tag = "agent-tools", operation_id = "moltworldBalance", params(("accountId" = String, Query)), responses((status = 200, description = "`{ balance: { sim } }`"), (status = 400, description = "WRONG_PLATFORM"), (status = 404, description = "Account not found")))]
pub async fn mw_balance(
    State(app): State<AppState>,
    Query(q): Query<AccountOnly>,
) -> Result<Json<Value>, ApiError> {
    let a = app.agents.account(&q.account_id).await?;
    if a.platform != portos_agents::Platform::Moltworld {
        return Err(ApiError::bad_request(
            "WRONG_PLATFORM",
            "Account is not a Moltworld account",
        ));
    }
    let b = app
        .agents
        .platforms()
        .moltworld
        .balance(a.platform_agent_id())
        .await
        .map_err(portos_agents::ActionError::from)?;
    Ok(Json(b))
}
