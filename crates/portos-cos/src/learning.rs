//! Task learning, `data/cos/learning.json` in the original's shape
//! (`byTaskType`, `byModelTier`, `errorPatterns`, `routingAccuracy`,
//! `totals`) plus ours: `byModel` (per task type and `provider/model`) and
//! `records`, one per finished agent (the newest 1,000). Each agent is
//! recorded once (the original recorded every completion twice), and the
//! model choice reads it ([`Learning::advice`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Records kept.
const RECORDS: usize = 1000;

pub const LEARNING: &str = "cos/learning.json";

/// What one finished agent teaches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub agent_id: String,
    pub task_id: String,
    pub task_type: String,
    pub provider_id: String,
    pub model: Option<String>,
    pub model_tier: String,
    pub duration_ms: u64,
    /// `succeeded`, `failed` or `lost`.
    pub outcome: String,
    pub retries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_category: Option<String>,
    pub recorded_at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Tally {
    pub completed: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub total_duration_ms: u64,
    pub avg_duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_completed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<u64>,
    #[serde(flatten)]
    pub kept: Map<String, Value>,
}

impl Tally {
    fn add(&mut self, r: &Record) {
        self.completed += 1;
        if r.outcome == "succeeded" {
            self.succeeded += 1;
        } else {
            self.failed += 1;
        }
        self.total_duration_ms += r.duration_ms;
        self.avg_duration_ms = self.total_duration_ms / self.completed.max(1);
        self.max_duration_ms = Some(self.max_duration_ms.unwrap_or(0).max(r.duration_ms));
        self.last_completed = Some(r.recorded_at.clone());
        self.success_rate = Some(self.succeeded * 100 / self.completed.max(1));
    }

    fn rate(&self) -> u64 {
        self.succeeded * 100 / self.completed.max(1)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Learning {
    pub version: u32,
    pub last_updated: Option<String>,
    pub by_task_type: indexmap::IndexMap<String, Tally>,
    pub by_model_tier: indexmap::IndexMap<String, Tally>,
    pub error_patterns: Map<String, Value>,
    pub routing_accuracy: Map<String, Value>,
    pub totals: Tally,
    /// Task type → `provider/model` → tally.
    pub by_model: indexmap::IndexMap<String, indexmap::IndexMap<String, Tally>>,
    pub records: Vec<Record>,
    #[serde(flatten)]
    pub kept: Map<String, Value>,
}

/// What learning says of a model for a task type.
#[derive(Debug, Clone, PartialEq)]
pub struct Advice {
    /// A model of the provider that did well on this type, if the current
    /// pick did badly.
    pub use_model: Option<String>,
    pub reason: String,
}

/// The key of a provider's model in `byModel`.
pub fn model_key(provider: &str, model: Option<&str>) -> String {
    format!("{provider}/{}", model.unwrap_or("default"))
}

impl Learning {
    /// Adds a record to every aggregate.
    pub fn record(&mut self, r: Record) {
        self.version = self.version.max(1);
        self.last_updated = Some(r.recorded_at.clone());
        self.by_task_type
            .entry(r.task_type.clone())
            .or_default()
            .add(&r);
        self.by_model_tier
            .entry(r.model_tier.clone())
            .or_default()
            .add(&r);
        self.totals.add(&r);
        self.by_model
            .entry(r.task_type.clone())
            .or_default()
            .entry(model_key(&r.provider_id, r.model.as_deref()))
            .or_default()
            .add(&r);
        let routing = self
            .routing_accuracy
            .entry(r.task_type.clone())
            .or_insert_with(|| json!({}));
        let tier = &mut routing[&r.model_tier];
        let field = if r.outcome == "succeeded" {
            "succeeded"
        } else {
            "failed"
        };
        let n = tier[field].as_u64().unwrap_or(0) + 1;
        tier[field] = json!(n);
        tier["lastAttempt"] = json!(r.recorded_at);
        if let Some(cat) = &r.error_category {
            let p = self
                .error_patterns
                .entry(cat.clone())
                .or_insert_with(|| json!({"count": 0, "taskTypes": {}}));
            p["count"] = json!(p["count"].as_u64().unwrap_or(0) + 1);
            let by = p["taskTypes"][&r.task_type].as_u64().unwrap_or(0) + 1;
            p["taskTypes"][&r.task_type] = json!(by);
            p["lastOccurred"] = json!(r.recorded_at);
        }
        self.records.push(r);
        let over = self.records.len().saturating_sub(RECORDS);
        self.records.drain(..over);
    }

    /// Whether `provider/model` should be passed over for `task_type`, and
    /// for which model of the same provider: at least 5 attempts under 40 %
    /// against one with at least 3 attempts at 80 % or more.
    pub fn advice(&self, task_type: &str, provider: &str, model: Option<&str>) -> Option<Advice> {
        let models = self.by_model.get(task_type)?;
        let key = model_key(provider, model);
        let now = models.get(&key)?;
        if now.completed < 5 || now.rate() >= 40 {
            return None;
        }
        let prefix = format!("{provider}/");
        let best = models
            .iter()
            .filter(|(k, t)| {
                **k != key && k.starts_with(&prefix) && t.completed >= 3 && t.rate() >= 80
            })
            .max_by_key(|(_, t)| (t.rate(), t.completed))?;
        let other = best.0.trim_start_matches(&prefix).to_string();
        Some(Advice {
            reason: format!(
                "learning: {key} succeeded {}% of {} {task_type} tasks, {} {}% of {}",
                now.rate(),
                now.completed,
                best.0,
                best.1.rate(),
                best.1.completed
            ),
            use_model: (other != "default").then_some(other),
        })
    }

    /// `/learning/summary` in the original's shape.
    pub fn summary(&self) -> Value {
        let (mut healthy, mut warning, mut critical, mut skipped) = (0, 0, 0, 0);
        for t in self.by_task_type.values() {
            let rate = t.rate();
            if t.completed >= 5 && rate < 30 {
                skipped += 1;
                critical += 1;
            } else if rate >= 70 {
                healthy += 1;
            } else if rate >= 40 {
                warning += 1;
            } else {
                critical += 1;
            }
        }
        let total = self.by_task_type.len();
        let status = match (total, critical, warning) {
            (0, _, _) => "none",
            (_, c, _) if c > 0 => "critical",
            (_, _, w) if w > 0 => "warning",
            _ if healthy == total => "good",
            _ => "ok",
        };
        json!({
            "status": status,
            "statusMessage": match status {
                "none" => "No task data yet".to_string(),
                "good" => "All task types are performing well".to_string(),
                _ => format!("{critical} critical, {warning} warning of {total} task types"),
            },
            "totalTypes": total,
            "healthy": healthy,
            "warning": warning,
            "critical": critical,
            "skipped": skipped,
            "overallSuccessRate": (self.totals.completed > 0).then(|| self.totals.rate()),
            "totalCompleted": self.totals.completed,
        })
    }

    /// `/learning/skipped`: types under 30 % after 5 attempts.
    pub fn skipped(&self) -> Value {
        let types: Vec<Value> = self
            .by_task_type
            .iter()
            .filter(|(_, t)| t.completed >= 5 && t.rate() < 30)
            .map(|(k, t)| json!({"taskType": k, "successRate": t.rate(), "completed": t.completed}))
            .collect();
        json!({
            "skippedCount": types.len(),
            "message": if types.is_empty() { "No task types are being skipped".to_string() } else { format!("{} task types are being skipped", types.len()) },
            "skippedTypes": types,
        })
    }

    /// Forgets a task type; false when it was not there.
    pub fn reset(&mut self, task_type: &str) -> bool {
        let had = self.by_task_type.shift_remove(task_type).is_some();
        self.by_model.shift_remove(task_type);
        self.routing_accuracy.remove(task_type);
        had
    }
}

/// The task type of a task, one vocabulary for recording and advice.
pub fn task_type(kind: crate::tasks::Kind, t: &crate::tasks::Task) -> String {
    if let Some(a) = t.meta_str("analysisType") {
        return format!("self-improve:{a}");
    }
    let d = t.description.to_lowercase();
    if d.starts_with("[auto] investigate") || d.contains("[auto-fix]") {
        return "auto-fix".into();
    }
    match kind {
        crate::tasks::Kind::User => "user-task".into(),
        crate::tasks::Kind::Cos => "internal-task".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(model: &str, ok: bool) -> Record {
        Record {
            agent_id: "a".into(),
            task_id: "t".into(),
            task_type: "user-task".into(),
            provider_id: "p".into(),
            model: Some(model.into()),
            model_tier: "medium".into(),
            duration_ms: 10,
            outcome: if ok { "succeeded" } else { "failed" }.into(),
            retries: 0,
            error_category: (!ok).then(|| "unknown".to_string()),
            recorded_at: "2026-12-04T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_model_that_keeps_failing_a_type_is_passed_over_for_one_that_succeeds() {
        let mut l = Learning::default();
        for _ in 0..5 {
            l.record(rec("weak", false));
        }
        assert_eq!(
            l.advice("user-task", "p", Some("weak")),
            None,
            "no better one yet"
        );
        for _ in 0..3 {
            l.record(rec("strong", true));
        }
        let a = l.advice("user-task", "p", Some("weak")).unwrap();
        assert_eq!(a.use_model.as_deref(), Some("strong"));
        assert_eq!(l.advice("user-task", "p", Some("strong")), None);
        assert_eq!(l.totals.completed, 8);
        assert_eq!(l.by_task_type["user-task"].success_rate, Some(37));
        assert_eq!(l.error_patterns["unknown"]["count"], 5);
        assert_eq!(l.summary()["status"], "critical");
        assert!(l.reset("user-task") && !l.reset("user-task"));
    }
}
