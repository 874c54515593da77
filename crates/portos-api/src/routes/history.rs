//! `/api/history`: the action history, with filters and stats (the original's contract).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use portos_store::types::{HISTORY_LIMIT, History, HistoryEntry, files};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize};
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

/// What a history query asks for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub limit: usize,
    pub offset: usize,
    pub action: Option<String>,
    pub target: Option<String>,
    pub success: Option<bool>,
}

/// One page of a history query: the entries matching, newest first, picked
/// out of the shared parsed file without copying them.
#[derive(Debug)]
pub struct Page {
    history: Arc<History>,
    /// How many entries match, before paging.
    pub total: usize,
    picked: Vec<usize>,
}

impl Page {
    pub fn entries(&self) -> impl Iterator<Item = &HistoryEntry> {
        self.picked.iter().map(|&i| &self.history.entries[i])
    }
}

/// The original's answer: `{ total, entries }`.
impl Serialize for Page {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Entries<'a>(&'a Page);
        impl Serialize for Entries<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.entries())
            }
        }
        let mut st = s.serialize_struct("Page", 2)?;
        st.serialize_field("total", &self.total)?;
        st.serialize_field("entries", &Entries(self))?;
        st.end()
    }
}

/// Entries matching `f`, newest first: the total before paging, and the page.
pub async fn query(app: &AppState, f: &Filter) -> Result<Page, ApiError> {
    let history: Arc<History> = app.store.load_shared(files::HISTORY).await?;
    Ok(Page::of(history, f))
}

impl Page {
    /// The page of `history` that `f` asks for.
    pub fn of(history: Arc<History>, f: &Filter) -> Self {
        let matching = history
            .entries
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, e)| f.action.as_deref().is_none_or(|a| e.action == a))
            .filter(|(_, e)| {
                f.target
                    .as_deref()
                    .is_none_or(|t| e.target.as_deref() == Some(t))
            })
            .filter(|(_, e)| f.success.is_none_or(|s| e.success == s))
            .map(|(i, _)| i);
        let mut total = 0;
        let mut picked = Vec::new();
        for i in matching {
            if total >= f.offset && picked.len() < f.limit {
                picked.push(i);
            }
            total += 1;
        }
        Page {
            history,
            total,
            picked,
        }
    }
}

/// Counts over the whole history.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub total: usize,
    pub by_action: BTreeMap<String, usize>,
    pub succeeded: usize,
    pub last24h: usize,
}

impl Stats {
    pub fn success_percent(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.succeeded as f64 * 100.0 / self.total as f64
        }
    }
}

pub async fn compute_stats(app: &AppState) -> Result<Stats, ApiError> {
    let history: Arc<History> = app.store.load_shared(files::HISTORY).await?;
    let day_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
    let mut s = Stats {
        total: history.entries.len(),
        ..Stats::default()
    };
    for e in &history.entries {
        *s.by_action.entry(e.action.clone()).or_default() += 1;
        s.succeeded += usize::from(e.success);
        s.last24h +=
            usize::from(humantime::parse_rfc3339_weak(&e.timestamp).is_ok_and(|t| t >= day_ago));
    }
    Ok(s)
}

/// Removes one entry; whether it was there.
pub async fn delete(app: &AppState, id: &str) -> Result<bool, ApiError> {
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
    Ok(removed.is_ok())
}

/// Removes everything, or the entries older than `days`.
pub async fn clear_older_than(app: &AppState, days: Option<u64>) -> Result<(), ApiError> {
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
    Ok(())
}

/// `GET /api/history`: newest first, filtered, paged.
#[utoipa::path(get, operation_id = "listHistory", path = "/api/history", tag = "history", params(("limit" = Option<u32>, Query, description = "default 100"), ("offset" = Option<u32>, Query), ("action" = Option<String>, Query), ("target" = Option<String>, Query), ("success" = Option<bool>, Query)), responses((status = 200, description = "`{ total, entries }`, newest first"), (status = 400, description = "a bad number")))]
pub async fn list(
    State(app): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let f = Filter {
        limit: number("limit", q.limit.as_deref(), 100)?,
        offset: number("offset", q.offset.as_deref(), 0)?,
        action: q.action,
        target: q.target,
        success: q.success.map(|s| s == "true"),
    };
    let history: Arc<History> = app.store.load_shared(files::HISTORY).await?;
    app.rendered.json(&history, &format!("history {f:?}"), |h| {
        Page::of(h.clone(), &f)
    })
}

/// `GET /api/history/stats`.
#[utoipa::path(get, operation_id = "historyStats", path = "/api/history/stats", tag = "history", responses((status = 200, description = "`{ total, byAction, successRate, recentActivity, last24h }`")))]
pub async fn stats(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let s = compute_stats(&app).await?;
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
#[utoipa::path(get, operation_id = "historyActions", path = "/api/history/actions", tag = "history", responses((status = 200, description = "distinct actions, sorted")))]
pub async fn actions(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let s = compute_stats(&app).await?;
    Ok(Json(json!(s.by_action.keys().collect::<Vec<_>>())))
}

/// `DELETE /api/history/:id`.
#[utoipa::path(delete, operation_id = "deleteHistoryEntry", path = "/api/history/{id}", tag = "history", params(("id" = String, Path)), responses((status = 200, description = "`{ deleted }`")))]
pub async fn delete_one(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(if delete(&app, &id).await? {
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
#[utoipa::path(delete, operation_id = "clearHistory", path = "/api/history", tag = "history", params(("olderThanDays" = Option<u32>, Query)), responses((status = 200, description = "`{ cleared: true }`")))]
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
    clear_older_than(&app, days).await?;
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
