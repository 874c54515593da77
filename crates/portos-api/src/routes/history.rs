//! `/api/history`: the action history, with filters and stats (the original's
//! contract), over `portos-history`.

use axum::Json;
use axum::extract::{Path, Query, RawQuery, State};
use axum::response::Response;
use portos_history::{Filter, Page};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    limit: Option<String>,
    offset: Option<String>,
    action: Option<String>,
    target: Option<String>,
    success: Option<String>,
}

/// The answer of `GET /api/history` (as `portos_history::Page` serializes).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct HistoryPage {
    /// Entries matching the filters, before paging.
    total: usize,
    /// The page, newest first.
    entries: Vec<portos_store::types::HistoryEntry>,
}

/// The answer of `GET /api/history/stats`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct HistoryStats {
    total: usize,
    /// Entries per action.
    by_action: std::collections::BTreeMap<String, usize>,
    /// The original's quirk, kept for its clients: a percentage with one
    /// decimal as a string (`"87.5"`), or the number 0 when there is no entry.
    success_rate: Value,
    /// Always empty, as in the original.
    recent_activity: Vec<Value>,
    /// Entries of the last 24 hours.
    last24h: usize,
}

fn number(name: &str, v: Option<&str>, default: usize) -> Result<usize, ApiError> {
    match v {
        None | Some("") => Ok(default),
        Some(s) => s.parse().map_err(|_| {
            ApiError::validation(format!("{name} must be a non-negative integer, not {s:?}"))
        }),
    }
}

/// `GET /api/history`: newest first, filtered, paged.
#[utoipa::path(get, operation_id = "listHistory", path = "/api/history", tag = "history", params(("limit" = Option<u32>, Query, description = "default 100"), ("offset" = Option<u32>, Query), ("action" = Option<String>, Query), ("target" = Option<String>, Query), ("success" = Option<bool>, Query)), responses((status = 200, description = "`{ total, entries }`, newest first", body = HistoryPage), (status = 400, description = "a bad number")))]
pub async fn list(
    State(app): State<AppState>,
    RawQuery(raw): RawQuery,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let f = Filter {
        limit: number("limit", q.limit.as_deref(), 100)?,
        offset: number("offset", q.offset.as_deref(), 0)?,
        action: q.action,
        target: q.target,
        success: q.success.map(|s| s == "true"),
    };
    let history = app.history.shared().await?;
    // The answer is a function of the query string: it is the key as it
    // came (an equal filter spelled otherwise is kept once more, no harm).
    let key = ["history?", raw.as_deref().unwrap_or_default()].concat();
    app.rendered
        .json(&history, &key, |h| Page::of(h.clone(), &f))
}

/// `GET /api/history/stats`.
#[utoipa::path(get, operation_id = "historyStats", path = "/api/history/stats", tag = "history", responses((status = 200, description = "`{ total, byAction, successRate, recentActivity, last24h }`", body = HistoryStats)))]
pub async fn stats(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let s = app.history.stats().await?;
    // The original's quirk, kept for its clients: a string with one decimal, or the number 0.
    let success_rate = if s.total == 0 {
        json!(0)
    } else {
        json!(format!("{:.1}", s.success_percent()))
    };
    Ok(Json(json!({
        "total": s.total,
        "byAction": s.by_action,
        "successRate": success_rate,
        "recentActivity": [],
        "last24h": s.last24h,
    })))
}

/// `GET /api/history/actions`: distinct actions, sorted.
#[utoipa::path(get, operation_id = "historyActions", path = "/api/history/actions", tag = "history", responses((status = 200, description = "distinct actions, sorted", body = Vec<String>)))]
pub async fn actions(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let s = app.history.stats().await?;
    Ok(Json(json!(s.by_action.keys().collect::<Vec<_>>())))
}

/// `DELETE /api/history/:id`.
#[utoipa::path(delete, operation_id = "deleteHistoryEntry", path = "/api/history/{id}", tag = "history", params(("id" = String, Path)), responses((status = 200, description = "`{ deleted }`", body = crate::schemas::writes::HistoryDeleted)))]
pub async fn delete_one(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(if app.history.delete(&id).await? {
        json!({ "deleted": true })
    } else {
        json!({ "deleted": false, "error": "Entry not found" })
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct ClearQuery {
    #[serde(rename = "olderThanDays")]
    older_than_days: Option<String>,
}

/// `DELETE /api/history`: everything, or entries older than `olderThanDays`.
#[utoipa::path(delete, operation_id = "clearHistory", path = "/api/history", tag = "history", params(("olderThanDays" = Option<u32>, Query)), responses((status = 200, description = "`{ cleared: true }`", body = crate::schemas::writes::HistoryCleared)))]
pub async fn clear(
    State(app): State<AppState>,
    Query(q): Query<ClearQuery>,
) -> Result<Json<Value>, ApiError> {
    let days = match q.older_than_days.as_deref() {
        None | Some("") => None,
        Some(s) => Some(s.parse::<u64>().map_err(|_| {
            ApiError::validation(format!(
                "olderThanDays must be a whole number of days, not {s:?}"
            ))
        })?),
    };
    app.history.clear_older_than(days).await?;
    Ok(Json(json!({ "cleared": true })))
}
