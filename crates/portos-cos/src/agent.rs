//! One agent for one task: which provider and model (the task's own, else
//! the tier of its priority, then what learning says), where it works (the
//! app's folder, or a git worktree of it on a branch of its own), its
//! briefing (prompt stage `cos-agent-briefing`), its start as an AI run
//! (source `cos-agent`, so through the runner), and the verdict on its end.

use std::path::{Path, PathBuf};

use portos_ai::Ai;
use portos_store::types::Provider;
use serde_json::{Map, Value, json};

use crate::CosError;
use crate::learning::Learning;
use crate::tasks::{Kind, Priority, Task};

/// The prompt stage of a briefing.
pub const BRIEFING: &str = "cos-agent-briefing";
const BRIEFING_TEMPLATE: &str = include_str!("../stages/cos-agent-briefing.md");

/// The model tiers of a provider (`lightModel`, `mediumModel`, `heavyModel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Light,
    Medium,
    Heavy,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Light => "light",
            Tier::Medium => "medium",
            Tier::Heavy => "heavy",
        }
    }

    /// A priority's tier: CRITICAL heavy, LOW light, the rest medium.
    pub fn of(priority: Priority) -> Self {
        match priority {
            Priority::Critical => Tier::Heavy,
            Priority::Low => Tier::Light,
            Priority::High | Priority::Medium => Tier::Medium,
        }
    }

    /// A task's `thinkingLevel` (low, medium, high, xhigh), if it names one.
    fn of_thinking(level: &str) -> Option<Self> {
        match level.to_ascii_lowercase().as_str() {
            "low" => Some(Tier::Light),
            "medium" => Some(Tier::Medium),
            "high" | "xhigh" => Some(Tier::Heavy),
            _ => None,
        }
    }
}

/// What runs the task, and why.
#[derive(Debug, Clone)]
pub struct Choice {
    pub provider: Provider,
    pub model: Option<String>,
    /// `user-specified`, `light`, `medium` or `heavy`.
    pub tier: String,
    pub reason: String,
}

/// The provider's model for a tier: its own, else its default.
fn tier_model(p: &Provider, tier: Tier) -> Option<String> {
    let m = match tier {
        Tier::Light => p.light_model.clone(),
        Tier::Medium => p.medium_model.clone(),
        Tier::Heavy => p.heavy_model.clone(),
    };
    m.or_else(|| p.default_model.clone())
}

/// Picks provider and model: the task's `provider` (else the active one);
/// the task's `model` as given; else its `thinkingLevel`'s or its priority's
/// tier; then learning, which may swap a model that keeps failing this task
/// type for one of the same provider that succeeds.
pub fn choose(
    task: &Task,
    task_type: &str,
    provider: Provider,
    learning: &Learning,
) -> Result<Choice, CosError> {
    if let Some(m) = task.meta_str("model") {
        if !provider.models.is_empty() && !provider.models.contains(&m) {
            return Err(CosError::invalid(format!(
                "provider {} has no model {m:?}",
                provider.id
            )));
        }
        return Ok(Choice {
            reason: "the task names it".into(),
            provider,
            model: Some(m),
            tier: "user-specified".into(),
        });
    }
    let (tier, why) = match task
        .meta_str("thinkingLevel")
        .and_then(|l| Tier::of_thinking(&l))
    {
        Some(t) => (t, "the task's thinking level".to_string()),
        None => (
            Tier::of(task.priority),
            format!("{} priority", task.priority),
        ),
    };
    let mut model = tier_model(&provider, tier);
    let mut reason = format!("{} tier for {why}", tier.as_str());
    if let Some(advice) = learning.advice(task_type, &provider.id, model.as_deref()) {
        model = advice.use_model;
        reason = advice.reason;
    }
    Ok(Choice {
        provider,
        model,
        tier: tier.as_str().into(),
        reason,
    })
}

/// Where an agent works.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The app's folder (or PortOS's own).
    pub source: PathBuf,
    pub app: Option<String>,
    /// Set when the agent works in a worktree of `source`.
    pub worktree: Option<portos_git::worktree::Worktree>,
}

impl Workspace {
    pub fn path(&self) -> &Path {
        self.worktree.as_ref().map_or(&self.source, |w| &w.path)
    }
}

/// The folder of the task's app (by id or name), or of the baseline app
/// (PortOS itself) when the task names none. Whether it asks for a worktree.
pub async fn app_folder(
    store: &portos_store::JsonStore,
    app: Option<&str>,
) -> Result<(PathBuf, Option<String>, bool), CosError> {
    let apps = portos_apps::registry::stored(store).await?;
    let wanted = app.unwrap_or(portos_apps::registry::PROTECTED_APP);
    let found = apps
        .iter()
        .find(|(id, a)| id.as_str() == wanted || a["name"].as_str() == Some(wanted));
    let Some((id, a)) = found else {
        return Err(CosError::invalid(format!("no registered app {wanted:?}")));
    };
    let repo = a["repoPath"]
        .as_str()
        .filter(|r| Path::new(r).is_dir())
        .ok_or_else(|| CosError::invalid(format!("app {id} has no folder on this machine")))?;
    let worktree = a["useWorktree"].as_bool().unwrap_or(false);
    Ok((PathBuf::from(repo), app.map(|_| id.clone()), worktree))
}

/// Installs the briefing stage where the prompts lack it (a stage the owner
/// has is never touched).
pub async fn install_stage(ai: &Ai) -> Result<bool, portos_ai::AiError> {
    portos_ai::prompts::install_missing(
        ai,
        &[
            portos_ai::prompts::StageSeed {
                stage: BRIEFING,
                name: "CoS Agent Briefing",
                description: "Brief a coding agent on its task",
                returns_json: false,
                template: BRIEFING_TEMPLATE,
            },
            portos_ai::prompts::StageSeed {
                stage: crate::enhance::ENHANCE,
                name: "CoS Task Enhance",
                description: "Rewrite a short task for a coding agent",
                returns_json: false,
                template: crate::enhance::ENHANCE_TEMPLATE,
            },
        ],
    )
    .await
    .map(|n| n > 0)
}

/// The briefing's variables.
pub fn briefing_vars(
    task: &Task,
    kind: Kind,
    ws: &Workspace,
    retry: Option<&str>,
) -> Map<String, Value> {
    let attachments = match task.metadata.get("attachments") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|f| {
                let name = f
                    .get("filename")
                    .or_else(|| f.get("path"))
                    .and_then(Value::as_str)
                    .map_or_else(
                        || f.as_str().unwrap_or_default().to_string(),
                        str::to_string,
                    );
                format!("- {name}")
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let vars = json!({
        "taskId": task.id,
        "taskType": kind.task_type(),
        "priority": task.priority.as_str(),
        "description": task.description,
        "context": task.meta_str("context").unwrap_or_default(),
        "app": ws.app.clone().unwrap_or_default(),
        "workspace": ws.path().display().to_string(),
        "branch": ws.worktree.as_ref().map(|w| w.branch.clone()).unwrap_or_default(),
        "attachments": attachments,
        "retry": retry.unwrap_or_default(),
        "timestamp": portos_core::time::now_iso(),
    });
    match vars {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// How an agent's attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Completed,
    /// The agent said it is blocked; its words.
    Blocked(String),
    /// A failed attempt; the reason, its error category, and whether trying
    /// again cannot help (bad credentials, no such model…).
    Failed {
        reason: String,
        category: Option<String>,
        actionable: bool,
    },
    /// The runner went away with it.
    Lost(String),
}

/// Error categories that a retry cannot fix.
const ACTIONABLE: &[&str] = &["auth-error", "model-not-found", "quota-exceeded"];

/// The verdict on a finished run (its metadata) and the agent's output: its
/// exit status first, then its own `Task Summary` block's status.
pub fn judge(run: &Value, output: &str) -> Verdict {
    if run["lost"] == true {
        return Verdict::Lost(
            run["error"]
                .as_str()
                .unwrap_or("the runner went away")
                .to_string(),
        );
    }
    if run["success"] != true {
        let category = run["errorCategory"].as_str().map(str::to_string);
        let actionable = category.as_deref().is_some_and(|c| ACTIONABLE.contains(&c));
        let reason = run["error"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| match run["exitCode"].as_i64() {
                Some(c) => format!("the agent exited with {c}"),
                None => "the agent ended without an exit status".into(),
            });
        return Verdict::Failed {
            reason,
            category,
            actionable,
        };
    }
    match summary_status(output) {
        Some((s, notes)) if s == "blocked" => {
            Verdict::Blocked(notes.unwrap_or_else(|| "the agent reported it is blocked".into()))
        }
        Some((s, notes)) if s == "partial" || s == "failed" => Verdict::Failed {
            reason: notes.unwrap_or_else(|| format!("the agent reported {s}")),
            category: Some("partial".into()),
            actionable: false,
        },
        _ => Verdict::Completed,
    }
}

/// The `Status` (and `Notes`) of the last `## Task Summary` block.
fn summary_status(output: &str) -> Option<(String, Option<String>)> {
    let at = output.rfind("## Task Summary")?;
    let block = &output[at..];
    let field = |name: &str| {
        block.lines().find_map(|l| {
            let l = l.trim().trim_start_matches('-').trim();
            let rest = l
                .strip_prefix(&format!("**{name}**:"))
                .or_else(|| l.strip_prefix(&format!("{name}:")))?;
            let v = rest.trim().trim_matches(['[', ']']).trim();
            (!v.is_empty()).then(|| v.to_string())
        })
    };
    let status = field("Status")?.to_ascii_lowercase();
    let status = status
        .split(|c: char| !c.is_ascii_alphabetic())
        .find(|w| !w.is_empty())?
        .to_string();
    Some((status, field("Notes")))
}

/// The retry's wait: `base` doubled for each earlier failure, at most an hour.
pub fn backoff_ms(base: u64, failures: u32) -> u64 {
    base.saturating_mul(1u64 << failures.saturating_sub(1).min(16))
        .min(3_600_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_is_judged_from_the_exit_then_the_agents_own_summary() {
        let ok = json!({"success": true, "exitCode": 0});
        assert_eq!(judge(&ok, "did it"), Verdict::Completed);
        let blocked = "## Task Summary\n- **Status**: blocked\n- **Notes**: needs the API key\n";
        assert_eq!(
            judge(&ok, blocked),
            Verdict::Blocked("needs the API key".into())
        );
        let partial = "## Task Summary\n- **Status**: [partial]\n";
        assert!(matches!(
            judge(&ok, partial),
            Verdict::Failed {
                actionable: false,
                ..
            }
        ));
        let failed =
            json!({"success": false, "exitCode": 1, "error": "boom", "errorCategory": "unknown"});
        assert_eq!(
            judge(&failed, ""),
            Verdict::Failed {
                reason: "boom".into(),
                category: Some("unknown".into()),
                actionable: false
            }
        );
        let auth = json!({"success": false, "exitCode": 1, "errorCategory": "auth-error"});
        assert!(matches!(
            judge(&auth, ""),
            Verdict::Failed {
                actionable: true,
                ..
            }
        ));
        let lost = json!({"success": false, "lost": true, "error": "runner gone"});
        assert_eq!(judge(&lost, ""), Verdict::Lost("runner gone".into()));
        assert_eq!(backoff_ms(1000, 1), 1000);
        assert_eq!(backoff_ms(1000, 3), 4000);
        assert_eq!(backoff_ms(1000, 40), 3_600_000);
    }

    #[test]
    fn the_model_follows_the_task_then_its_tier_then_learning() {
        let p = Provider {
            id: "p".into(),
            models: vec!["l".into(), "m".into(), "h".into()],
            light_model: Some("l".into()),
            medium_model: Some("m".into()),
            heavy_model: Some("h".into()),
            ..Provider::default()
        };
        let learning = Learning::default();
        let mut t = Task::new("task-1".into(), Priority::Critical, "x".into());
        let c = choose(&t, "user-task", p.clone(), &learning).unwrap();
        assert_eq!((c.model.as_deref(), c.tier.as_str()), (Some("h"), "heavy"));
        t.priority = Priority::Low;
        assert_eq!(
            choose(&t, "user-task", p.clone(), &learning)
                .unwrap()
                .model
                .as_deref(),
            Some("l")
        );
        t.metadata.insert("thinkingLevel".into(), json!("high"));
        assert_eq!(
            choose(&t, "user-task", p.clone(), &learning)
                .unwrap()
                .model
                .as_deref(),
            Some("h")
        );
        t.metadata.insert("model".into(), json!("m"));
        let c = choose(&t, "user-task", p.clone(), &learning).unwrap();
        assert_eq!(
            (c.model.as_deref(), c.tier.as_str()),
            (Some("m"), "user-specified")
        );
        t.metadata.insert("model".into(), json!("nope"));
        assert!(choose(&t, "user-task", p, &learning).is_err());
    }
}
