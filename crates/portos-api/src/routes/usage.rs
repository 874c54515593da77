//! `/api/usage`: the AI usage of `data/usage.json` over `portos-ai`'s usage
//! module: the summary, the raw file, the original's three counters (with
//! their input checked: whole numbers from 0), and a reset.

use axum::Json;
use axum::extract::State;
use portos_ai::runs::usage;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// `body[key]` as a whole number ≥ 0 (`default` when absent).
fn count(body: &Value, key: &str, default: Option<u64>) -> Result<u64, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => default.ok_or_else(|| {
            ApiError::validation(format!("{key} is required (a whole number from 0)"))
        }),
        Some(v) => v.as_u64().ok_or_else(|| {
            ApiError::validation(format!("{key} must be a whole number from 0, not {v}"))
        }),
    }
}

fn text<'a>(body: &'a Value, key: &str) -> Result<&'a str, ApiError> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::validation(format!("{key} is required")))
}

/// `GET /api/usage`.
#[utoipa::path(get, operation_id = "usageSummary", path = "/api/usage", tag = "usage",
    responses((status = 200, description = "`{ totalSessions, totalMessages, totalToolCalls, totalTokens, estimatedCost, currentStreak, longestStreak, last7Days, hourlyActivity, topProviders, topModels, lastUpdated }`", body = crate::schemas::runs::UsageSummary)))]
pub async fn summary(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(usage::summary(&app.ai).await?))
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct DailyQuery {
    days: Option<String>,
}

/// `GET /api/usage/daily` (ours): the days per provider, for the charts.
#[utoipa::path(get, operation_id = "usageDaily", path = "/api/usage/daily", tag = "usage", params(("days" = Option<u32>, Query, description = "1-90, default 14")),
    responses((status = 200, description = "`[{ date, byProvider: { <id>: { sessions, messages, tokens } } }]`, oldest first", body = Vec<crate::schemas::runs::UsageDaily>), (status = 400, description = "days out of range")))]
pub async fn daily(
    State(app): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<DailyQuery>,
) -> Result<Json<Value>, ApiError> {
    let days = match q.days.as_deref() {
        None => 14,
        Some(d) => d
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=90).contains(n))
            .ok_or_else(|| {
                ApiError::validation(format!("days {d:?} must be a whole number from 1 to 90"))
            })?,
    };
    Ok(Json(usage::daily(&app.ai, days).await?))
}

/// `GET /api/usage/raw`.
#[utoipa::path(get, operation_id = "usageRaw", path = "/api/usage/raw", tag = "usage", responses((status = 200, description = "usage.json as it is", body = BTreeMap<String,serde_json::Value>)))]
pub async fn raw(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(usage::raw(&app.ai).await?))
}

/// `POST /api/usage/session`.
#[utoipa::path(post, operation_id = "usageSession", path = "/api/usage/session", tag = "usage", request_body(content = crate::schemas::requests::UsageSessionBody, description = "`{ providerId, providerName?, model? }`"),
    responses((status = 200, description = "`{ sessionNumber }`", body = crate::schemas::writes::UsageSession), (status = 400, description = "VALIDATION_ERROR")))]
pub async fn session(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let provider = text(&body, "providerId")?;
    let name = body["providerName"].as_str().unwrap_or(provider);
    let model = body["model"].as_str().filter(|m| !m.is_empty());
    let n = usage::session(&app.ai, provider, name, model).await?;
    Ok(Json(json!({ "sessionNumber": n })))
}

/// `POST /api/usage/messages`.
#[utoipa::path(post, operation_id = "usageMessages", path = "/api/usage/messages", tag = "usage", request_body(content = crate::schemas::requests::UsageMessagesBody, description = "`{ providerId, model?, messageCount, tokenCount? }`"),
    responses((status = 200, description = "`{ success: true }`", body = crate::schemas::Done), (status = 400, description = "VALIDATION_ERROR")))]
pub async fn messages(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let provider = text(&body, "providerId")?;
    let messages = count(&body, "messageCount", None)?;
    let tokens = count(&body, "tokenCount", Some(0))?;
    let model = body["model"].as_str().filter(|m| !m.is_empty());
    usage::messages(&app.ai, provider, model, messages, tokens).await?;
    Ok(Json(json!({ "success": true })))
}

/// `POST /api/usage/tokens`.
#[utoipa::path(post, operation_id = "usageTokens", path = "/api/usage/tokens", tag = "usage", request_body(content = crate::schemas::requests::UsageTokensBody, description = "`{ inputTokens?, outputTokens? }` (0 when absent)"),
    responses((status = 200, description = "`{ success: true }`", body = crate::schemas::Done), (status = 400, description = "VALIDATION_ERROR")))]
pub async fn tokens(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let input = count(&body, "inputTokens", Some(0))?;
    let output = count(&body, "outputTokens", Some(0))?;
    usage::tokens(&app.ai, input, output).await?;
    Ok(Json(json!({ "success": true })))
}

/// `DELETE /api/usage`.
#[utoipa::path(delete, operation_id = "usageReset", path = "/api/usage", tag = "usage", responses((status = 200, description = "`{ success: true }`: the empty structure")))]
pub async fn reset(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    usage::reset(&app.ai).await?;
    Ok(Json(json!({ "success": true })))
}
