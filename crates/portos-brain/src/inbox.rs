//! The inbox (`inbox_log.jsonl`): capture (answered at once, classified in
//! the background), listing newest first with counts over the whole log,
//! edit, done, delete. Line order in the file is never relied on.

use portos_core::Refuse;
use serde_json::{Map, Value, json};

use crate::files::INBOX;
use crate::model::Choice;
use crate::validate::{Ty, req, validate};
use crate::{Brain, BrainError, Result};

pub const STATUSES: &[&str] = &[
    "classifying",
    "filed",
    "needs_review",
    "corrected",
    "done",
    "error",
];
/// The prompt stage that classifies a thought.
pub const CLASSIFIER: &str = "brain-classifier";

/// Which entries a listing wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxQuery {
    pub status: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

impl Default for InboxQuery {
    fn default() -> Self {
        Self {
            status: None,
            limit: 50,
            offset: 0,
        }
    }
}

/// A whole number from a query, within `range`, or 400 naming it.
pub fn number(
    name: &str,
    raw: Option<&str>,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize> {
    match raw.filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                BrainError::validation(format!(
                    "{name} {s:?} must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ))
            }),
    }
}

impl InboxQuery {
    /// From a request's query strings.
    pub fn parse(status: Option<&str>, limit: Option<&str>, offset: Option<&str>) -> Result<Self> {
        let status = match status.filter(|s| !s.is_empty()) {
            Some(s) if STATUSES.contains(&s) => Some(s.to_string()),
            Some(s) => {
                return Err(BrainError::validation(format!(
                    "status {s:?} must be one of {}",
                    STATUSES.join(", ")
                )));
            }
            None => None,
        };
        Ok(Self {
            status,
            limit: number("limit", limit, 50, 1..=100)?,
            offset: number("offset", offset, 0, 0..=usize::MAX)?,
        })
    }
}

/// Newest `capturedAt` first (ISO strings sort as times).
pub(crate) fn newest_first(entries: &mut [Map<String, Value>]) {
    entries.sort_by(|a, b| {
        let at = |m: &Map<String, Value>| {
            m.get("capturedAt")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        at(b).cmp(&at(a))
    });
}

fn counts_of(entries: &[Map<String, Value>]) -> Value {
    let mut counts = Map::new();
    counts.insert("total".into(), json!(entries.len()));
    for s in STATUSES {
        let n = entries
            .iter()
            .filter(|e| e.get("status").and_then(Value::as_str) == Some(s))
            .count();
        counts.insert((*s).into(), json!(n));
    }
    Value::Object(counts)
}

fn not_found() -> BrainError {
    BrainError::not_found("Inbox entry not found")
}

impl Brain {
    /// `POST /capture`: the entry, `classifying`; the AI runs in the background.
    pub async fn capture(&self, body: &Value) -> Result<Value> {
        let input = validate(&[req("text", Ty::Text(1, 10_000))], body, true)?;
        let (provider, model) = self.ai_for(&Choice::of(body)?).await?;
        let text = input["text"].as_str().unwrap_or_default().to_string();
        let mut entry = Map::new();
        entry.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
        entry.insert("capturedText".into(), json!(text));
        entry.insert("source".into(), json!("brain_ui"));
        entry.insert(
            "ai".into(),
            json!({"providerId": provider, "modelId": model, "promptTemplateId": CLASSIFIER}),
        );
        entry.insert("status".into(), json!("classifying"));
        entry.insert("capturedAt".into(), json!(self.now_iso()));
        self.append(INBOX, &entry).await?;
        let id = entry["id"].as_str().unwrap_or_default().to_string();
        let brain = self.clone();
        tokio::spawn(async move {
            brain
                .classify_in_background(&id, &text, &provider, &model)
                .await
        });
        Ok(json!({"inboxLog": entry, "message": "Thought captured! AI is classifying..."}))
    }

    /// Entries left `classifying` by a previous run of PortOS are classified
    /// again (the original left them so for ever).
    pub async fn resume(&self) -> Result<usize> {
        let stuck: Vec<_> = self
            .log(INBOX)
            .await?
            .into_iter()
            .filter(|e| e.get("status").and_then(Value::as_str) == Some("classifying"))
            .collect();
        for e in &stuck {
            let field = |k: &str| {
                e.get("ai")
                    .and_then(|a| a.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let (id, text) = (
                e.get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                e.get("capturedText")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            );
            let (provider, model) = (field("providerId"), field("modelId"));
            let brain = self.clone();
            tokio::spawn(async move {
                brain
                    .classify_in_background(&id, &text, &provider, &model)
                    .await
            });
        }
        Ok(stuck.len())
    }

    /// `GET /inbox`: `{entries, counts}`.
    pub async fn inbox(&self, q: &InboxQuery) -> Result<Value> {
        let all = self.log(INBOX).await?;
        let counts = counts_of(&all);
        let mut entries: Vec<_> = all
            .into_iter()
            .filter(|e| {
                q.status
                    .as_deref()
                    .is_none_or(|s| e.get("status").and_then(Value::as_str) == Some(s))
            })
            .collect();
        newest_first(&mut entries);
        let entries: Vec<_> = entries.into_iter().skip(q.offset).take(q.limit).collect();
        Ok(json!({"entries": entries, "counts": counts}))
    }

    pub(crate) async fn inbox_counts(&self) -> Result<Value> {
        Ok(counts_of(&self.log(INBOX).await?))
    }

    pub async fn entry(&self, id: &str) -> Result<Map<String, Value>> {
        self.log(INBOX)
            .await?
            .into_iter()
            .find(|e| e.get("id").and_then(Value::as_str) == Some(id))
            .ok_or_else(not_found)
    }

    /// Merges `patch` into entry `id` (a `null` is kept as `null`); the entry after.
    pub(crate) async fn patch_entry(
        &self,
        id: &str,
        patch: Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        self.update_log(INBOX, |lines| {
            let e = lines
                .entries_mut()
                .find(|e| e.get("id").and_then(Value::as_str) == Some(id))
                .ok_or_else(not_found)?;
            for (k, v) in patch {
                e.insert(k, v);
            }
            Ok(e.clone())
        })
        .await
    }

    /// `POST /inbox/:id/done`.
    pub async fn done(&self, id: &str) -> Result<Map<String, Value>> {
        let mut patch = Map::new();
        patch.insert("status".into(), json!("done"));
        patch.insert("doneAt".into(), json!(self.now_iso()));
        self.patch_entry(id, patch).await
    }

    /// `PUT /inbox/:id`: the text only; not classified again.
    pub async fn edit(&self, id: &str, body: &Value) -> Result<Map<String, Value>> {
        let patch = validate(&[req("capturedText", Ty::Text(1, 10_000))], body, true)?;
        self.patch_entry(id, patch).await
    }

    /// `DELETE /inbox/:id`: the line goes; filed records stay.
    pub async fn remove_entry(&self, id: &str) -> Result<()> {
        self.update_log(INBOX, |lines| {
            match lines.retain(|e| e.get("id").and_then(Value::as_str) != Some(id)) {
                0 => Err(not_found()),
                _ => Ok(()),
            }
        })
        .await
    }
}
