//! The action history (`data/history.json`, the original's `logAction`): what
//! was done to which app or process, whether it worked, and when; the newest
//! 500 kept. Queries page the shared parsed file without copying entries.
//!
//! Owns: recording, filtering and paging, stats, deleting and clearing.
//! Must not depend on: any wire (axum, tonic, hyper, tower) or any service crate.

use std::collections::BTreeMap;
use std::sync::Arc;

use portos_core::time::now_iso;
use portos_store::types::{HISTORY_LIMIT, History, HistoryEntry, files};
use portos_store::{JsonStore, StoreError};
use serde::Serialize;
use serde::ser::SerializeStruct;
use serde_json::Value;

/// The history of one data dir.
#[derive(Debug, Clone)]
pub struct ActionLog {
    store: Arc<JsonStore>,
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

impl ActionLog {
    pub fn new(store: Arc<JsonStore>) -> Self {
        Self { store }
    }

    /// The whole history, shared (one parse per version of the file).
    pub async fn shared(&self) -> Result<Arc<History>, StoreError> {
        self.store.load_shared(files::HISTORY).await
    }

    /// Entries matching `f`, newest first: the total before paging, and the page.
    pub async fn query(&self, f: &Filter) -> Result<Page, StoreError> {
        Ok(Page::of(self.shared().await?, f))
    }

    pub async fn stats(&self) -> Result<Stats, StoreError> {
        let history = self.shared().await?;
        let day_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
        let mut s = Stats {
            total: history.entries.len(),
            ..Stats::default()
        };
        for e in &history.entries {
            *s.by_action.entry(e.action.clone()).or_default() += 1;
            s.succeeded += usize::from(e.success);
            s.last24h += usize::from(
                humantime::parse_rfc3339_weak(&e.timestamp).is_ok_and(|t| t >= day_ago),
            );
        }
        Ok(s)
    }

    /// Removes one entry; whether it was there.
    pub async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let removed = self
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
    pub async fn clear_older_than(&self, days: Option<u64>) -> Result<(), StoreError> {
        let cutoff =
            days.map(|d| std::time::SystemTime::now() - std::time::Duration::from_secs(d * 86_400));
        self.store
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

    /// Appends an entry (the original's `logAction`), keeping the newest 500.
    pub async fn record(&self, entry: NewEntry<'_>) -> Result<(), StoreError> {
        let entry = HistoryEntry {
            id: uuid::Uuid::new_v4().to_string(),
            action: entry.action.to_string(),
            target: entry.target.map(str::to_string),
            target_name: entry.target_name.map(str::to_string),
            details: entry.details,
            success: entry.success,
            error: entry.error,
            timestamp: now_iso(),
            extra: Default::default(),
        };
        self.store
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
}

/// One action to record.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub target_name: Option<&'a str>,
    pub details: Value,
    pub success: bool,
    pub error: Option<String>,
}
