//! Task enhancement: an AI provider rewrites a short task description into
//! one a coding agent can act on (prompt stage `cos-task-enhance`), as an
//! AI run like any other (source `cos-enhance`).

use std::time::Duration;

use portos_ai::Ai;
use portos_ai::runs::{self, NewRun};
use serde_json::{Map, Value, json};

use crate::CosError;

pub const ENHANCE: &str = "cos-task-enhance";
pub(crate) const ENHANCE_TEMPLATE: &str = include_str!("../stages/cos-task-enhance.md");

/// How long an enhancement may take.
const DEADLINE: Duration = Duration::from_secs(180);

/// The provider for an enhancement: the one asked for, else the stage's,
/// else the active one; and its model (a stage's tier word resolved).
async fn provider_for(ai: &Ai, asked: Option<&str>) -> Result<(String, Option<String>), CosError> {
    let stage = portos_ai::prompts::stage(ai, ENHANCE)
        .await
        .ok()
        .map(|(c, _)| c);
    let stage_provider = stage
        .as_ref()
        .and_then(|c| c["provider"].as_str())
        .map(str::to_string);
    let provider = match asked.map(str::to_string).or(stage_provider) {
        Some(id) => portos_ai::providers::get(ai, &id)
            .await
            .map_err(|e| CosError::invalid(e.to_string()))?,
        None => portos_ai::providers::active(ai)
            .await
            .map_err(|e| CosError::invalid(e.to_string()))?
            .ok_or_else(|| CosError::invalid("no AI provider is active"))?,
    };
    let model = match stage.as_ref().and_then(|c| c["model"].as_str()) {
        Some("light") => provider.light_model.clone(),
        Some("medium") => provider.medium_model.clone(),
        Some("heavy") => provider.heavy_model.clone(),
        Some(m) if provider.models.iter().any(|x| x == m) => Some(m.to_string()),
        _ => None,
    }
    .or_else(|| provider.default_model.clone());
    Ok((provider.id, model))
}

/// `POST /api/cos/tasks/enhance`: `{ enhancedDescription, originalDescription, model, provider, runId }`.
pub async fn enhance(
    ai: &Ai,
    description: &str,
    context: &str,
    provider: Option<&str>,
) -> Result<Value, CosError> {
    let description = description.trim();
    if description.is_empty() {
        return Err(CosError::invalid("Description is required"));
    }
    if let Err(e) = crate::agent::install_stage(ai).await {
        tracing::warn!(error = %e, "the CoS prompt stages were not installed");
    }
    let (provider_id, model) = provider_for(ai, provider).await?;
    let mut vars = Map::new();
    vars.insert("description".into(), json!(description));
    vars.insert("context".into(), json!(context.trim()));
    let req = NewRun {
        provider_id: provider_id.clone(),
        model: model.clone(),
        stage: Some(ENHANCE.into()),
        variables: vars,
        source: Some("cos-enhance".into()),
        ..NewRun::default()
    };
    let text = runs::complete(ai, req, DEADLINE).await.map_err(|why| {
        CosError::Problem(portos_core::Problem::new(
            portos_core::Kind::Unavailable,
            "ENHANCE_FAILED",
            format!("the AI provider did not enhance the task: {why}"),
        ))
    })?;
    let enhanced = text.trim();
    if enhanced.is_empty() {
        return Err(CosError::Problem(portos_core::Problem::new(
            portos_core::Kind::Unavailable,
            "ENHANCE_FAILED",
            "the AI provider answered nothing",
        )));
    }
    Ok(json!({
        "enhancedDescription": enhanced,
        "originalDescription": description,
        "model": model,
        "provider": provider_id,
    }))
}
