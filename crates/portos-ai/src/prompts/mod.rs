//! Stored prompts (`data/prompts/`, the original's layout): stages
//! (`stage-config.json` and `stages/<stage>.md`), shared variables
//! (`variables.json`), and — new — every saved version of a stage's template
//! (`versions/<stage>/<version>.md`), listable and readable.
//! A stage becomes a prompt with [`build`]: its template (stages it includes
//! expanded), the caller's values, then its listed variables over them.

pub mod edit;
pub mod template;

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::Ai;
use crate::AiError;
use portos_core::Refuse;
use template::TemplateError;

pub const STAGE_CONFIG: &str = "prompts/stage-config.json";
pub const VARIABLES: &str = "prompts/variables.json";

/// Stages PortOS itself uses: deleting one needs `force`.
pub const SYSTEM_STAGES: &[(&str, &str)] = &[
    ("cos-agent-briefing", "CoS sub-agent task briefing"),
    ("cos-evaluate", "CoS task evaluation"),
    ("cos-report-summary", "CoS daily reports"),
    ("cos-self-improvement", "CoS self-improvement tasks"),
    ("cos-task-enhance", "CoS task prompt enhancement"),
    ("brain-classifier", "Brain thought classification"),
    ("brain-daily-digest", "Brain daily digest generation"),
    ("brain-weekly-review", "Brain weekly review generation"),
    ("memory-evaluate", "Memory extraction from agent output"),
    ("app-detection", "Project directory analysis"),
];

/// A stage name names a file: letters, digits, `-`, `_`, `.`, not leading.
pub fn check_stage(name: &str) -> Result<(), AiError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(AiError::bad_request(
            "INVALID_STAGE",
            format!("invalid stage name {name:?}"),
        ))
    }
}

/// A variable key is a template key: letters, digits, `_`.
pub fn check_key(key: &str) -> Result<(), AiError> {
    if !key.is_empty()
        && key.len() <= 100
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        Ok(())
    } else {
        Err(AiError::validation(format!(
            "variable key {key:?} must be letters, digits and '_'"
        )))
    }
}

fn template_rel(stage: &str) -> String {
    format!("prompts/stages/{stage}.md")
}

/// The object under `key` in the JSON file `rel` (empty when absent).
async fn section(ai: &Ai, rel: &str, key: &str) -> Result<Map<String, Value>, AiError> {
    let file: Map<String, Value> = ai.store.load(rel).await?;
    Ok(file
        .get(key)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default())
}

/// The stages' configuration.
pub async fn stages(ai: &Ai) -> Result<Map<String, Value>, AiError> {
    section(ai, STAGE_CONFIG, "stages").await
}

/// The shared variables.
pub async fn variables(ai: &Ai) -> Result<Map<String, Value>, AiError> {
    section(ai, VARIABLES, "variables").await
}

/// A stage's template, `None` when it has none.
pub async fn template_of(ai: &Ai, stage: &str) -> Result<Option<String>, AiError> {
    check_stage(stage)?;
    match tokio::fs::read(ai.store.path(&template_rel(stage))).await {
        Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AiError::internal(e.to_string())),
    }
}

/// Saves a stage's template, and keeps it as a new version.
pub async fn save_template(ai: &Ai, stage: &str, text: &str) -> Result<String, AiError> {
    check_stage(stage)?;
    let path = ai.store.path(&template_rel(stage));
    let dir = ai.store.path("prompts/versions").join(stage);
    let bytes = text.as_bytes().to_vec();
    let version = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        std::fs::create_dir_all(&dir)?;
        // Milliseconds since the epoch, one more when taken.
        let mut n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        while dir.join(format!("{n}.md")).exists() {
            n += 1;
        }
        let version = n.to_string();
        portos_store::write_atomic(&dir.join(format!("{version}.md")), &bytes)
            .map_err(std::io::Error::other)?;
        portos_store::write_atomic(&path, &bytes).map_err(std::io::Error::other)?;
        Ok(version)
    })
    .await
    .map_err(|e| AiError::internal(e.to_string()))?
    .map_err(|e| AiError::internal(format!("cannot save the template: {e}")))?;
    Ok(version)
}

/// The saved versions of a stage's template, newest first.
pub async fn versions(ai: &Ai, stage: &str) -> Result<Vec<Value>, AiError> {
    check_stage(stage)?;
    let dir = ai.store.path("prompts/versions").join(stage);
    let mut out = Vec::new();
    if let Ok(mut rd) = tokio::fs::read_dir(&dir).await {
        while let Ok(Some(e)) = rd.next_entry().await {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(v) = name.strip_suffix(".md").and_then(|v| v.parse::<u64>().ok()) else {
                continue;
            };
            let size = e.metadata().await.map_or(0, |m| m.len());
            out.push((v, size));
        }
    }
    out.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
    Ok(out
        .into_iter()
        .map(|(v, size)| {
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(v);
            json!({ "version": v.to_string(), "savedAt": humantime::format_rfc3339_millis(at).to_string(), "size": size })
        })
        .collect())
}

/// One saved version's text.
pub async fn version(ai: &Ai, stage: &str, version: &str) -> Result<String, AiError> {
    check_stage(stage)?;
    if version.is_empty() || !version.chars().all(|c| c.is_ascii_digit()) {
        return Err(AiError::bad_request(
            "INVALID_VERSION",
            format!("invalid version {version:?}"),
        ));
    }
    let path = ai
        .store
        .path("prompts/versions")
        .join(stage)
        .join(format!("{version}.md"));
    tokio::fs::read(&path)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|_| AiError::not_found("Version not found"))
}

fn template_error(e: TemplateError) -> AiError {
    match &e {
        TemplateError::Missing(names) => AiError::problem(
            portos_core::Kind::Unprocessable,
            "MISSING_VARIABLES",
            e.to_string(),
        )
        .with_context(json!({ "missing": names })),
        _ => AiError::problem(
            portos_core::Kind::Unprocessable,
            "INVALID_TEMPLATE",
            e.to_string(),
        ),
    }
}

/// A stage's template, the stages it includes expanded (each read when named,
/// and only those), and the values it renders with.
async fn prepared(
    ai: &Ai,
    name: &str,
    data: &Map<String, Value>,
) -> Result<(String, Map<String, Value>), AiError> {
    let (config, text) = stage(ai, name).await?;
    let text = text.ok_or_else(|| {
        AiError::problem(
            portos_core::Kind::Unprocessable,
            "NO_TEMPLATE",
            format!("stage {name:?} has no template"),
        )
    })?;
    let dir = ai.store.path("prompts/stages");
    let owned = name.to_string();
    let expanded = tokio::task::spawn_blocking(move || {
        template::expand_includes(&owned, &text, &mut |n| {
            check_stage(n).ok()?;
            std::fs::read_to_string(dir.join(format!("{n}.md"))).ok()
        })
    })
    .await
    .map_err(|e| AiError::internal(e.to_string()))?
    .map_err(template_error)?;
    Ok((expanded, context(ai, &config, data).await?))
}

/// The values a stage renders with: the caller's, then the stage's listed
/// variables over them (as the original).
async fn context(
    ai: &Ai,
    stage: &Value,
    data: &Map<String, Value>,
) -> Result<Map<String, Value>, AiError> {
    let vars = variables(ai).await?;
    let mut ctx = data.clone();
    for key in stage["variables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Some(content) = vars.get(key).map(|v| v["content"].clone()) {
            ctx.insert(key.to_string(), content);
        }
    }
    Ok(ctx)
}

/// A stage as a prompt, every variable given, or a 422 naming the missing ones.
pub async fn build(ai: &Ai, stage: &str, data: &Map<String, Value>) -> Result<String, AiError> {
    let (text, ctx) = prepared(ai, stage, data).await?;
    template::render_strict(&text, &ctx).map_err(template_error)
}

/// A stage rendered leniently, with the names of what it lacked.
pub async fn preview(
    ai: &Ai,
    stage: &str,
    data: &Map<String, Value>,
) -> Result<(String, BTreeSet<String>), AiError> {
    let (text, ctx) = prepared(ai, stage, data).await?;
    Ok(template::render(&text, &ctx))
}

/// A stage's configuration and template, or 404.
pub async fn stage(ai: &Ai, stage: &str) -> Result<(Value, Option<String>), AiError> {
    check_stage(stage)?;
    let all = stages(ai).await?;
    let config = all
        .get(stage)
        .cloned()
        .ok_or_else(|| AiError::not_found("Stage not found"))?;
    Ok((config, template_of(ai, stage).await?))
}

/// A prompt stage as a fresh install gets it.
#[derive(Debug, Clone, Copy)]
pub struct StageSeed {
    pub stage: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub returns_json: bool,
    pub template: &'static str,
}

/// Adds each stage of `seeds` the prompts lack (a data dir from the original
/// has them; one made before a feature existed does not), keeping a
/// template already there. A stage the owner has is never touched. How many
/// were added.
pub async fn install_missing(ai: &Ai, seeds: &[StageSeed]) -> Result<usize, AiError> {
    let mut added = 0;
    for s in seeds {
        if stage(ai, s.stage).await.is_ok() {
            continue;
        }
        let config = json!({
            "name": s.name, "description": s.description,
            "returnsJson": s.returns_json, "variables": [],
        });
        let config = config.as_object().cloned().unwrap_or_default();
        let has_template = template_of(ai, s.stage).await?.is_some();
        save_stage(
            ai,
            s.stage,
            config,
            (!has_template).then(|| s.template.to_string()),
        )
        .await?;
        added += 1;
    }
    Ok(added)
}

/// Merges `config` into a stage (created when missing) and saves `template`
/// as a new version; the version, when a template was saved.
pub async fn save_stage(
    ai: &Ai,
    stage: &str,
    config: Map<String, Value>,
    template: Option<String>,
) -> Result<Option<String>, AiError> {
    check_stage(stage)?;
    let name = stage.to_string();
    ai.store
        .update(STAGE_CONFIG, |f: &mut Map<String, Value>| {
            let s = &mut edit::section(f, "stages")[&name];
            if !s.is_object() {
                *s = json!({});
            }
            for (k, v) in config {
                s[k] = v;
            }
            Ok::<(), ()>(())
        })
        .await?
        .ok();
    match template {
        Some(t) => Ok(Some(save_template(ai, stage, &t).await?)),
        None => Ok(None),
    }
}
