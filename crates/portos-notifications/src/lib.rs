//! Notifications: what needs the owner's attention, kept in
//! `data/notifications.json` in the original's shape (`{ version: 1,
//! notifications: [...] }`, fields it does not know kept), newest 500 only.
//!
//! Owns: adding (optionally once per key, as the original de-duplicates by a
//! metadata field), listing (type, unread only, limit; newest first),
//! counting, marking read (one, all), dismissing (one, by metadata, all), and
//! the `notifications` channel's events in the original's order (`added` then
//! `count`, `updated`, `removed`, `cleared`). Every change is one locked,
//! atomic write; a file that does not parse is reported and kept, never
//! replaced.
//! Must not depend on: axum, tonic, hyper, tower, or any service crate.

use std::sync::Arc;

use portos_core::{Events, Kind, Problem};
use portos_store::{JsonStore, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The file, under the data dir.
pub const FILE: &str = "notifications.json";
/// How many are kept (the newest).
pub const LIMIT: usize = 500;
/// The channel their events go to.
pub const CHANNEL: &str = "notifications";

/// `notifications.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotificationsFile {
    #[serde(default = "one")]
    pub version: u32,
    #[serde(default)]
    pub notifications: Vec<Notification>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn one() -> u32 {
    1
}

impl Default for NotificationsFile {
    fn default() -> Self {
        Self {
            version: 1,
            notifications: Vec::new(),
            extra: Map::new(),
        }
    }
}

/// One notification, as the original writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "medium")]
    pub priority: String,
    pub timestamp: String,
    #[serde(default)]
    pub link: Option<String>,
    #[serde(default)]
    pub read: bool,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Fields the original wrote that this version does not know, kept.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Map<String, Value>,
}

fn medium() -> String {
    "medium".into()
}

/// The priorities the original knows.
pub const PRIORITIES: &[&str] = &["low", "medium", "high", "critical"];

/// A notification to add.
#[derive(Debug, Clone, Default)]
pub struct New {
    pub kind: String,
    pub title: String,
    pub description: String,
    /// One of [`PRIORITIES`]; `medium` when empty.
    pub priority: String,
    pub link: Option<String>,
    pub metadata: Map<String, Value>,
    /// Added only if no notification of the same type has this metadata
    /// field with this value, as the original de-duplicates.
    pub once_per: Option<Once>,
}

/// A de-duplication key: metadata `field` = `value`.
#[derive(Debug, Clone)]
pub struct Once {
    pub field: String,
    pub value: Value,
    /// Only an unread one counts (a new one once the earlier is read);
    /// otherwise any, read or not (the original's rule).
    pub while_unread: bool,
}

impl Once {
    /// Once while an earlier one about `value` is unread.
    pub fn while_unread(field: &str, value: &str) -> Self {
        Self {
            field: field.into(),
            value: json!(value),
            while_unread: true,
        }
    }

    fn matches(&self, kind: &str, n: &Notification) -> bool {
        n.kind == kind
            && (!self.while_unread || !n.read)
            && n.metadata.get(&self.field) == Some(&self.value)
    }
}

/// What a list asks for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<String>,
    pub unread_only: bool,
    /// 0: all.
    pub limit: usize,
}

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum NotificationsError {
    #[error("Notification not found")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<NotificationsError> for Problem {
    fn from(e: NotificationsError) -> Self {
        let text = e.to_string();
        match e {
            NotificationsError::NotFound => Problem::new(Kind::NotFound, "NOT_FOUND", text),
            NotificationsError::Invalid(_) => Problem::new(Kind::Invalid, "VALIDATION_ERROR", text),
            NotificationsError::Store(_) => Problem::new(Kind::Internal, "STORE_ERROR", text),
        }
    }
}

/// The owner's notifications.
#[derive(Debug, Clone)]
pub struct Notifications {
    store: Arc<JsonStore>,
    events: Arc<dyn Events>,
    /// Error codes whose server-error bell is being rung now: a flood of
    /// one error rings it once, instead of queueing a write per request.
    ringing: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

fn newest_first(list: &mut [Notification]) {
    // ISO stamps of one format sort as text; a stable sort keeps file order on ties.
    list.sort_by(|a, b| b.timestamp.cmp(&a.timestamp));
}

impl Notifications {
    pub fn new(store: Arc<JsonStore>, events: Arc<dyn Events>) -> Self {
        Self {
            store,
            events,
            ringing: Arc::default(),
        }
    }

    async fn file(&self) -> Result<NotificationsFile, NotificationsError> {
        Ok(self.store.load(FILE).await?)
    }

    /// Changes the file under its lock; `f` says whether anything changed
    /// (nothing is written otherwise).
    async fn change<R>(
        &self,
        f: impl FnOnce(&mut NotificationsFile) -> Result<(R, bool), NotificationsError>,
    ) -> Result<(R, usize), NotificationsError> {
        self.store
            .update(
                FILE,
                |file: &mut NotificationsFile| -> Result<(R, usize), Outcome<R>> {
                    let (r, changed) = f(file)?;
                    let unread = file.notifications.iter().filter(|n| !n.read).count();
                    if changed {
                        Ok((r, unread))
                    } else {
                        Err(Unchanged(r, unread).into())
                    }
                },
            )
            .await?
            .or_else(|e| match e {
                Outcome::Unchanged(Unchanged(r, unread)) => Ok((r, unread)),
                Outcome::Failed(e) => Err(e),
            })
    }

    fn emit(&self, event: &str, data: &Value) {
        self.events.publish(CHANNEL, event, data);
    }

    fn emit_count(&self, unread: usize) {
        self.emit("notifications:count", &json!(unread));
    }

    /// Newest first.
    pub async fn list(&self, f: &Filter) -> Result<Vec<Notification>, NotificationsError> {
        let mut list: Vec<Notification> = self
            .file()
            .await?
            .notifications
            .into_iter()
            .filter(|n| f.kind.as_deref().is_none_or(|k| n.kind == k))
            .filter(|n| !f.unread_only || !n.read)
            .collect();
        newest_first(&mut list);
        if f.limit > 0 {
            list.truncate(f.limit);
        }
        Ok(list)
    }

    /// How many are unread.
    pub async fn unread(&self) -> Result<usize, NotificationsError> {
        Ok(self
            .file()
            .await?
            .notifications
            .iter()
            .filter(|n| !n.read)
            .count())
    }

    /// `{ total, unread, byType }`.
    pub async fn counts(&self) -> Result<Value, NotificationsError> {
        let file = self.file().await?;
        let mut by_type = Map::new();
        for n in &file.notifications {
            let c = by_type.entry(n.kind.clone()).or_insert(json!(0));
            *c = json!(c.as_u64().unwrap_or(0) + 1);
        }
        Ok(json!({
            "total": file.notifications.len(),
            "unread": file.notifications.iter().filter(|n| !n.read).count(),
            "byType": by_type,
        }))
    }

    /// Adds one (unless `once_per` finds it there already: `None`).
    pub async fn add(&self, new: New) -> Result<Option<Notification>, NotificationsError> {
        if new.kind.trim().is_empty() || new.title.trim().is_empty() {
            return Err(NotificationsError::Invalid(
                "a notification needs a type and a title".into(),
            ));
        }
        let priority = if new.priority.is_empty() {
            "medium".to_string()
        } else {
            new.priority.clone()
        };
        if !PRIORITIES.contains(&priority.as_str()) {
            return Err(NotificationsError::Invalid(format!(
                "priority {priority:?} is not one of {}",
                PRIORITIES.join(", ")
            )));
        }
        let n = Notification {
            id: uuid::Uuid::new_v4().to_string(),
            kind: new.kind.clone(),
            title: new.title,
            description: new.description,
            priority,
            timestamp: portos_core::time::now_iso(),
            link: new.link,
            read: false,
            metadata: new.metadata,
            extra: Map::new(),
        };
        let once_per = new.once_per;
        let added = n.clone();
        let (fresh, unread) = self
            .change(move |file| {
                // Checked under the file's lock: two at once add one.
                let there = once_per
                    .as_ref()
                    .is_some_and(|o| file.notifications.iter().any(|m| o.matches(&n.kind, m)));
                if there {
                    return Ok((false, false));
                }
                file.notifications.push(n);
                let excess = file.notifications.len().saturating_sub(LIMIT);
                file.notifications.drain(..excess);
                Ok((true, true))
            })
            .await?;
        if !fresh {
            return Ok(None);
        }
        tracing::info!(kind = %added.kind, title = %added.title, "notification added");
        self.emit("notifications:added", &json!(added));
        self.emit_count(unread);
        Ok(Some(added))
    }

    /// Marks one read (already read: unchanged, no events).
    pub async fn mark_read(&self, id: &str) -> Result<Notification, NotificationsError> {
        let ((n, changed), unread) = self
            .change(|file| {
                let n = file
                    .notifications
                    .iter_mut()
                    .find(|n| n.id == id)
                    .ok_or(NotificationsError::NotFound)?;
                let changed = !n.read;
                n.read = true;
                Ok(((n.clone(), changed), changed))
            })
            .await?;
        if changed {
            self.emit("notifications:updated", &json!(n));
            self.emit_count(unread);
        }
        Ok(n)
    }

    /// Marks every one read; how many were unread.
    pub async fn mark_all_read(&self) -> Result<usize, NotificationsError> {
        let (updated, _) = self
            .change(|file| {
                let mut updated = 0;
                for n in file.notifications.iter_mut().filter(|n| !n.read) {
                    n.read = true;
                    updated += 1;
                }
                Ok((updated, updated > 0))
            })
            .await?;
        if updated > 0 {
            self.emit_count(0);
        }
        Ok(updated)
    }

    /// Dismisses one; the one removed.
    pub async fn remove(&self, id: &str) -> Result<Notification, NotificationsError> {
        let (n, unread) = self
            .change(|file| {
                let i = file
                    .notifications
                    .iter()
                    .position(|n| n.id == id)
                    .ok_or(NotificationsError::NotFound)?;
                Ok((file.notifications.remove(i), true))
            })
            .await?;
        self.emit("notifications:removed", &json!({ "id": n.id }));
        self.emit_count(unread);
        Ok(n)
    }

    /// Dismisses those whose metadata `field` is `value` (the thing they were
    /// about was dealt with); how many. Each goes with its `removed` event,
    /// where the original sent the count alone.
    pub async fn remove_by_metadata(
        &self,
        field: &str,
        value: &Value,
    ) -> Result<usize, NotificationsError> {
        let (gone, unread) = self
            .change(|file| {
                let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut file.notifications)
                    .into_iter()
                    .partition(|n| n.metadata.get(field) == Some(value));
                file.notifications = kept;
                let changed = !gone.is_empty();
                Ok((gone, changed))
            })
            .await?;
        for n in &gone {
            self.emit("notifications:removed", &json!({ "id": n.id }));
        }
        if !gone.is_empty() {
            self.emit_count(unread);
        }
        Ok(gone.len())
    }

    /// Dismisses every one; how many there were.
    pub async fn clear(&self) -> Result<usize, NotificationsError> {
        let (cleared, _) = self
            .change(|file| {
                let n = file.notifications.len();
                file.notifications.clear();
                Ok((n, n > 0))
            })
            .await?;
        self.emit("notifications:cleared", &json!({}));
        self.emit_count(0);
        Ok(cleared)
    }
}

/// What the producers say, in one place.
impl Notifications {
    /// A supervised process ended `errored` (the supervisor gave up on it):
    /// once while an earlier one about it is unread.
    pub async fn process_errored(
        &self,
        process: &str,
        group: &str,
        reason: &str,
    ) -> Result<Option<Notification>, NotificationsError> {
        let mut metadata = Map::new();
        metadata.insert("process".into(), json!(process));
        metadata.insert("group".into(), json!(group));
        self.add(New {
            kind: HEALTH_ISSUE.into(),
            title: format!("{process} stopped: errored"),
            description: if reason.is_empty() {
                "The supervisor gave up restarting it.".into()
            } else {
                reason.to_string()
            },
            priority: "high".into(),
            link: Some(if group == "portos" || group.is_empty() {
                "/logs".into()
            } else {
                "/apps".into()
            }),
            metadata,
            once_per: Some(Once::while_unread("process", process)),
        })
        .await
    }

    /// A provider became unavailable (a rate or usage limit): once while an
    /// earlier one about it is unread.
    pub async fn provider_unavailable(
        &self,
        provider: &str,
        reason: &str,
        message: &str,
    ) -> Result<Option<Notification>, NotificationsError> {
        let mut metadata = Map::new();
        metadata.insert("providerId".into(), json!(provider));
        metadata.insert("reason".into(), json!(reason));
        self.add(New {
            kind: HEALTH_ISSUE.into(),
            title: format!("{provider} is unavailable ({reason})"),
            description: message.to_string(),
            priority: "medium".into(),
            link: Some("/providers".into()),
            metadata,
            once_per: Some(Once::while_unread("providerId", provider)),
        })
        .await
    }

    /// A scheduled job (the brain's digest or review) failed: once while an
    /// earlier one about the same job is unread.
    pub async fn schedule_failed(
        &self,
        job: &str,
        error: &str,
        link: &str,
    ) -> Result<Option<Notification>, NotificationsError> {
        let mut metadata = Map::new();
        metadata.insert("job".into(), json!(job));
        self.add(New {
            kind: HEALTH_ISSUE.into(),
            title: format!("Scheduled {} failed", job.replace('-', " ")),
            description: error.to_string(),
            priority: "medium".into(),
            link: Some(link.into()),
            metadata,
            once_per: Some(Once::while_unread("job", job)),
        })
        .await
    }

    /// The api server failed a request itself (a 500): once per error code
    /// while unread.
    pub async fn server_error(
        &self,
        code: &str,
        message: &str,
    ) -> Result<Option<Notification>, NotificationsError> {
        let mut metadata = Map::new();
        metadata.insert("errorCode".into(), json!(code));
        self.add(New {
            kind: HEALTH_ISSUE.into(),
            title: format!("Server error ({code})"),
            description: message.to_string(),
            priority: "high".into(),
            link: Some("/logs".into()),
            metadata,
            once_per: Some(Once::while_unread("errorCode", code)),
        })
        .await
    }

    /// [`Notifications::server_error`] in the background, at most one at a
    /// time per code (the notification is once per code while unread, so
    /// the requests of a flood of one error add nothing): false when one
    /// for `code` was already on its way.
    pub fn ring_server_error(&self, code: &str, message: &str) -> bool {
        {
            let mut ringing = self.ringing.lock().unwrap_or_else(|e| e.into_inner());
            if !ringing.insert(code.to_string()) {
                return false;
            }
        }
        let (me, code, message) = (self.clone(), code.to_string(), message.to_string());
        tokio::spawn(async move {
            if let Err(e) = me.server_error(&code, &message).await {
                tracing::warn!(error = %e, "no notification for a server error");
            }
            me.ringing
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&code);
        });
        true
    }

    /// A platform suspended an agent's account: once while unread.
    pub async fn account_suspended(
        &self,
        account: &str,
        who: &str,
        platform: &str,
        error: &str,
    ) -> Result<Option<Notification>, NotificationsError> {
        let mut metadata = Map::new();
        metadata.insert("accountId".into(), json!(account));
        metadata.insert("platform".into(), json!(platform));
        self.add(New {
            kind: HEALTH_ISSUE.into(),
            title: format!("{platform} suspended {who}"),
            description: error.to_string(),
            priority: "high".into(),
            link: Some("/agents".into()),
            metadata,
            once_per: Some(Once::while_unread("accountId", account)),
        })
        .await
    }

    /// The autofixer finished a fix.
    pub async fn fix_finished(
        &self,
        process: &str,
        fixed: bool,
        verdict: &str,
        session: &str,
    ) -> Result<Option<Notification>, NotificationsError> {
        let mut metadata = Map::new();
        metadata.insert("process".into(), json!(process));
        metadata.insert("sessionId".into(), json!(session));
        self.add(New {
            kind: AGENT_OUTCOME.into(),
            title: format!(
                "{process} {}",
                if fixed {
                    "fixed by the autofixer"
                } else {
                    "not fixed by the autofixer"
                }
            ),
            description: verdict.to_string(),
            priority: if fixed { "low".into() } else { "high".into() },
            link: Some("/apps".into()),
            metadata,
            once_per: None,
        })
        .await
    }
}

/// The original's type for a problem on the machine.
pub const HEALTH_ISSUE: &str = "health_issue";
/// Ours: an agent (the autofixer, the chief of staff) finished.
pub const AGENT_OUTCOME: &str = "agent_outcome";

/// Why an update wrote nothing: unchanged (with the answer), or failed.
enum Outcome<R> {
    Unchanged(Unchanged<R>),
    Failed(NotificationsError),
}

struct Unchanged<R>(R, usize);

impl<R> From<Unchanged<R>> for Outcome<R> {
    fn from(u: Unchanged<R>) -> Self {
        Outcome::Unchanged(u)
    }
}

impl<R> From<NotificationsError> for Outcome<R> {
    fn from(e: NotificationsError) -> Self {
        Outcome::Failed(e)
    }
}

#[cfg(test)]
mod tests;
