//! The files of `data/brain/` and the one way each is read and changed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{Brain, BrainError, Result};

pub const META: &str = "brain/meta.json";
pub const INBOX: &str = "brain/inbox_log.jsonl";
pub const DIGESTS: &str = "brain/digests.jsonl";
pub const REVIEWS: &str = "brain/reviews.jsonl";
pub const LINKS: &str = "brain/links.json";
pub const SCHEDULE_LOG: &str = "brain/schedule_log.jsonl";

/// `people.json` and its kin: records keyed by id (the id is not inside).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Records {
    #[serde(default)]
    pub records: Map<String, Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The original's settings, filled in under whatever the file holds.
pub fn meta_defaults() -> Map<String, Value> {
    let v = json!({
        "version": 1,
        "confidenceThreshold": 0.6,
        "dailyDigestTime": "09:00",
        "weeklyReviewTime": "16:00",
        "weeklyReviewDay": "sunday",
        "defaultProvider": "lmstudio",
        "defaultModel": "gptoss-20b",
        "lastDailyDigest": null,
        "lastWeeklyReview": null,
    });
    v.as_object().cloned().unwrap_or_default()
}

fn with_defaults(file: Map<String, Value>) -> Map<String, Value> {
    let mut meta = meta_defaults();
    for (k, v) in file {
        meta.insert(k, v);
    }
    meta
}

/// A record as the API answers it: `{id, ...record}`.
pub fn flat(id: &str, record: &Value) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    if let Some(fields) = record.as_object() {
        for (k, v) in fields {
            if k != "id" {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

fn flatten<R>(r: std::result::Result<Result<R>, portos_store::StoreError>) -> Result<R> {
    r.map_err(BrainError::from)?
}

impl Brain {
    pub(crate) async fn meta(&self) -> Result<Map<String, Value>> {
        let file: Map<String, Value> = self.store().load(META).await?;
        Ok(with_defaults(file))
    }

    /// Changes the settings (the file gains the defaults it lacked, as the
    /// original's writes do); the settings after.
    pub(crate) async fn update_meta(
        &self,
        f: impl FnOnce(&mut Map<String, Value>) -> Result<()>,
    ) -> Result<Map<String, Value>> {
        flatten(
            self.store()
                .update(META, |file: &mut Map<String, Value>| {
                    let mut meta = with_defaults(std::mem::take(file));
                    f(&mut meta)?;
                    *file = meta.clone();
                    Ok(meta)
                })
                .await,
        )
    }

    pub(crate) async fn records(&self, rel: &str) -> Result<Records> {
        Ok(self.store().load(rel).await?)
    }

    /// Changes the records of `rel` under its lock; nothing is written when
    /// `f` refuses.
    pub(crate) async fn update_records<R>(
        &self,
        rel: &str,
        f: impl FnOnce(&mut Map<String, Value>) -> Result<R>,
    ) -> Result<R> {
        flatten(
            self.store()
                .update(rel, |file: &mut Records| f(&mut file.records))
                .await,
        )
    }

    /// The entries of a JSON Lines file, in file order; unreadable lines are
    /// reported once per read and kept in the file.
    pub(crate) async fn log(&self, rel: &str) -> Result<Vec<Map<String, Value>>> {
        let lines = self.store().lines(rel).await?;
        for n in lines.unreadable() {
            tracing::warn!(
                file = rel,
                line = n,
                "a line that is not JSON is kept as it is"
            );
        }
        Ok(lines.entries().cloned().collect())
    }

    pub(crate) async fn append(&self, rel: &str, entry: &Map<String, Value>) -> Result<()> {
        Ok(self.store().append_line(rel, entry).await?)
    }

    /// Changes the entries of a JSON Lines file under its lock.
    pub(crate) async fn update_log<R>(
        &self,
        rel: &str,
        f: impl FnOnce(&mut portos_store::jsonl::Lines) -> Result<R>,
    ) -> Result<R> {
        flatten(self.store().update_lines(rel, f).await)
    }
}
