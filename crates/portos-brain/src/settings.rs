//! The brain's settings (`meta.json`, the original's keys and defaults, plus
//! `missedRuns`) and the summary the page header and dashboard show.

use portos_core::Refuse;
use serde_json::{Map, Value, json};

use crate::entities::Dest;
use crate::files::LINKS;
use crate::schedule::{DAYS, Missed};
use crate::validate::{Ty, opt, text, validate};
use crate::{Brain, BrainError, Result};

impl Brain {
    /// `GET /settings`: every key, defaults filled in.
    pub async fn settings(&self) -> Result<Map<String, Value>> {
        self.meta().await
    }

    /// `PUT /settings`: the given keys checked (times are real times, the
    /// provider exists, the model is one of its models) and merged.
    pub async fn put_settings(&self, body: &Value) -> Result<Map<String, Value>> {
        let input = validate(
            &[
                opt("confidenceThreshold", Ty::Unit),
                opt("dailyDigestTime", Ty::ClockTime),
                opt("weeklyReviewTime", Ty::ClockTime),
                opt("weeklyReviewDay", Ty::OneOf(DAYS)),
                opt("defaultProvider", Ty::Text(0, 200)),
                opt("defaultModel", Ty::Text(0, 200)),
                opt("missedRuns", Ty::OneOf(Missed::NAMES)),
            ],
            body,
            false,
        )?;
        if input.contains_key("defaultProvider") || input.contains_key("defaultModel") {
            let meta = self.meta().await?;
            let provider = text(&input, "defaultProvider")
                .or_else(|| input.contains_key("defaultProvider").then_some(""))
                .or_else(|| meta.get("defaultProvider").and_then(Value::as_str))
                .unwrap_or_default()
                .to_string();
            // An empty provider means the active one, checked when used.
            if !provider.is_empty() {
                let models = self.inner.model.models(&provider).await.ok_or_else(|| {
                    BrainError::bad_request(
                        "INVALID_PROVIDER",
                        format!("Provider {provider:?} not found"),
                    )
                })?;
                if let Some(model) = text(&input, "defaultModel") {
                    if models.is_empty() {
                        return Err(BrainError::bad_request(
                            "NO_MODELS",
                            format!(
                                "Provider {provider:?} lists no models; leave the model empty for its default"
                            ),
                        ));
                    }
                    if !models.iter().any(|m| m == model) {
                        return Err(portos_core::Problem::new(
                            portos_core::Kind::Invalid,
                            "INVALID_MODEL",
                            format!("Model {model:?} is not one of {provider:?}'s models"),
                        )
                        .with_context(json!({"availableModels": models}))
                        .into());
                    }
                }
            }
        }
        self.update_meta(|m| {
            m.extend(input);
            Ok(())
        })
        .await
    }

    /// `GET /summary`: counts (archived records counted, as the original
    /// does) and the newest digest and review times.
    pub async fn summary(&self) -> Result<Value> {
        let mut counts = Map::new();
        let mut all = Vec::new();
        for d in Dest::ALL {
            let records = self.list(d, None).await?;
            counts.insert(d.name().into(), json!(records.len()));
            all.push(records);
        }
        let links = self.list_in(LINKS).await?;
        counts.insert("links".into(), json!(links.len()));
        let inbox = self.inbox_counts().await?;
        counts.insert("inbox".into(), inbox.clone());
        let meta = self.meta().await?;
        let with = |i: usize, f: &dyn Fn(&Value) -> bool| all[i].iter().filter(|r| f(r)).count();
        Ok(json!({
            "counts": counts,
            "activeProjects": with(1, &|r| r["status"] == "active"),
            "activeIdeas": with(2, &|r| r.get("status").is_none_or(|s| s == "active")),
            "openAdmin": with(3, &|r| r["status"] == "open"),
            "gitHubRepos": links.iter().filter(|l| l["isGitHubRepo"] == true).count(),
            "needsReview": inbox["needs_review"],
            "lastDailyDigest": meta.get("lastDailyDigest"),
            "lastWeeklyReview": meta.get("lastWeeklyReview"),
        }))
    }
}
