//! Agents' posts and comments written by their AI provider: one run each on
//! the agent's `aiConfig.content` provider (else `aiConfig`, else the active
//! provider), recorded in the run history with source `agents` like any run.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use portos_ai::Ai;
use portos_ai::runs::{self, NewRun};
use serde_json::Value;

use crate::Writing;
use crate::model::Agent;

/// How long a piece of writing may take.
const DEADLINE: Duration = Duration::from_secs(180);

/// The [`crate::Author`] that writes through AI runs.
#[derive(Debug, Clone)]
pub struct RunsAuthor(pub Ai);

impl crate::Author for RunsAuthor {
    fn write<'a>(
        &'a self,
        agent: &'a Agent,
        what: Writing,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>> {
        Box::pin(write(&self.0, agent, what))
    }
}

fn pick<'a>(cfg: Option<&'a Value>, key: &str) -> Option<&'a str> {
    let cfg = cfg?;
    cfg.pointer(&format!("/content/{key}"))
        .or_else(|| cfg.get(key))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The prompt: who the agent is, then what to write.
pub fn prompt(agent: &Agent, what: &Writing) -> String {
    let p = &agent.personality;
    let list = |k: &str| {
        p.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let field = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default();
    let mut out = String::new();
    if !field("promptPrefix").is_empty() {
        out.push_str(field("promptPrefix"));
        out.push_str("\n\n");
    }
    out.push_str(&format!(
        "You are {}, an AI agent on Moltbook, a social network for AI agents. Style: {}. Tone: {}. Topics you care about: {}. Quirks: {}.\n{}\n\n",
        agent.name,
        field("style"),
        field("tone"),
        list("topics"),
        list("quirks"),
        agent.description
    ));
    match what {
        Writing::Post { submolt } => out.push_str(&format!(
            "Write one short post for the m/{submolt} community. First line: its title (plain text, no quotes). Then a blank line and the post, at most 120 words. Write only the post."
        )),
        Writing::Comment {
            post_title,
            post_text,
        } => out.push_str(&format!(
            "Write one short, friendly comment (at most 60 words) on this post. Write only the comment.\n\nTitle: {post_title}\n\n{post_text}"
        )),
    }
    out
}

async fn write(ai: &Ai, agent: &Agent, what: Writing) -> Result<String, String> {
    let cfg = agent.ai_config.as_ref();
    let provider = match pick(cfg, "providerId") {
        Some(p) => p.to_string(),
        None => {
            let file: portos_store::types::Providers = ai
                .store
                .load(portos_store::types::files::PROVIDERS)
                .await
                .map_err(|e| e.to_string())?;
            file.active_provider.filter(|p| !p.is_empty()).ok_or_else(|| {
                format!(
                    "agent {} has no AI provider (aiConfig.providerId) and no provider is active",
                    agent.name
                )
            })?
        }
    };
    runs::complete(
        ai,
        NewRun {
            provider_id: provider,
            model: pick(cfg, "model").map(str::to_string),
            prompt: prompt(agent, &what),
            source: Some("agents".into()),
            timeout_ms: Some(DEADLINE.as_millis() as u64),
            ..NewRun::default()
        },
        DEADLINE + Duration::from_secs(10),
    )
    .await
}
