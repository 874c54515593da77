//! `/api/history`: the action history, with filters and stats (the original's contract).

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, Query, State};
use portos_store::types::{HISTORY_LIMIT, History, HistoryEntry, files};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, now_iso};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    limit: Option<String>,
    offset: Option<String>,
    action: Option<String>,
    target: Option<String>,
    success: Option<String>,
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
pub async fn list(
    State(app): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = number("limit", q.limit.as_deref(), 100)?;
    let offset = number("offset", q.offset.as_deref(), 0)?;
    let history: History = app.store.load(files::HISTORY).await?;
    let filtered: Vec<&HistoryEntry> = history
        .entries
        .iter()
        .rev()
        .filter(|e| q.action.as_deref().is_none_or(|a| e.action == a))
        .filter(|e| {
            q.target
                .as_deref()
                .is_none_or(|t| e.target.as_deref() == Some(t))
        })
        .filter(|e| {
            q.success
                .as_deref()
                .is_none_or(|s| e.success == (s == "true"))
        })
        .collect();
    let page: Vec<&HistoryEntry> = filtered.iter().skip(offset).take(limit).copied().collect();
    Ok(Json(json!({ "total": filtered.len(), "entries": page })))
}

/// `GET /api/history/stats`.
pub async fn stats(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let history: History = app.store.load(files::HISTORY).await?;
    let total = history.entries.len();
    let mut by_action: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &history.entries {
        *by_action.entry(e.action.as_str()).or_default() += 1;
    }
    let ok = history.entries.iter().filter(|e| e.success).count();
    // The original's quirk, kept for its clients: a string with one decimal, or the number 0.
    let success_rate = if total == 0 {
        json!(0)
    } else {
        json!(format!("{:.1}", ok as f64 * 100.0 / total as f64))
    };
    let day_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
    let last24h = history
        .entries
        .iter()
        .filter(|e| humantime::parse_rfc3339_weak(&e.timestamp).is_ok_and(|t| t >= day_ago))
        .count();
    Ok(Json(json!({
        "total": total,
        "byAction": by_action,
        "successRate": success_rate,
        "recentActivity": [],
        "last24h": last24h,
    })))
}

/// `GET /api/history/actions`: distinct actions, sorted.
pub async fn actions(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let history: History = app.store.load(files::HISTORY).await?;
    let set: BTreeSet<&str> = history.entries.iter().map(|e| e.action.as_str()).collect();
    Ok(Json(json!(set)))
}

/// `DELETE /api/history/:id`.
pub async fn delete_one(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let removed = app
        .store
        .update(files::HISTORY, |h: &mut History| {
            let before = h.entries.len();
            h.entries.retain(|e| e.id != id);
            if h.entries.len() == before {
                Err(())
            } else {
                Ok(())
            }
        })
        .await?;
    Ok(Json(match removed {
        Ok(()) => json!({ "deleted": true }),
        Err(()) => json!({ "deleted": false, "error": "Entry not found" }),
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct ClearQuery {
    #[serde(rename = "olderThanDays")]
    older_than_days: Option<String>,
}

/// `DELETE /api/history`: everything, or entries older than `olderThanDays`.
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
    let cutoff =
        days.map(|d| std::time::SystemTime::now() - std::time::Duration::from_secs(d * 86_400));
    app.store
        .update(files::HISTORY, |h: &mut History| {
            match cutoff {
                None => h.entries.clear(),
                Some(c) => h.entries.retain(|e| {
                    humantime::parse_rfc3339_weak(&e.timestamp).map_or(true, |t| t >= c)
                }),
            }
            Ok::<(), ()>(())
        })
        .await?
        .ok();
    Ok(Json(json!({ "cleared": true })))
}

/// Appends an entry (the original's `logAction`), keeping the newest 500.
pub async fn record(
    app: &AppState,
    action: &str,
    target: Option<&str>,
    target_name: Option<&str>,
    details: Value,
    success: bool,
    error: Option<String>,
) -> Result<(), ApiError> {
    let entry = HistoryEntry {
        id: uuid::Uuid::new_v4().to_string(),
        action: action.to_string(),
        target: target.map(str::to_string),
        target_name: target_name.map(str::to_string),
        details,
        success,
        error,
        timestamp: now_iso(),
        extra: Default::default(),
    };
    app.store
        .update(files::HISTORY, |h: &mut History| {
            h.entries.push(entry);
            let excess = h.entries.len().saturating_sub(HISTORY_LIMIT);
            h.entries.drain(..excess);
            Ok::<(), ()>(())
        })
        .await?
        .ok();
    Ok(())
}
