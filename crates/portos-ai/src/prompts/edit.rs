//! Changes to stored prompts: stages created and deleted, shared variables
//! created, changed and deleted. Better than the original: variable updates
//! keep the fields they do not name, a taken name is a conflict, an unknown
//! stage is not found, and a stage PortOS uses needs `force` to go.

use serde_json::{Map, Value, json};

use super::{STAGE_CONFIG, SYSTEM_STAGES, VARIABLES, check_key, check_stage};
use crate::{Ai, AiError};
use portos_core::Refuse;

fn object(body: Value) -> Result<Map<String, Value>, AiError> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(AiError::validation("a JSON object is required")),
    }
}

/// The object under `key` of a prompts file, made one when it is not.
pub(super) fn section<'a>(f: &'a mut Map<String, Value>, key: &str) -> &'a mut Value {
    let s = f.entry(key).or_insert_with(|| json!({}));
    if !s.is_object() {
        *s = json!({});
    }
    s
}

/// A new stage from `{ stageName, name, description?, model?, returnsJson?,
/// variables?, template? }`; its name.
pub async fn create_stage(ai: &Ai, body: Value) -> Result<String, AiError> {
    let b = object(body)?;
    let (Some(stage), Some(name)) = (
        b.get("stageName").and_then(Value::as_str),
        b.get("name").and_then(Value::as_str),
    ) else {
        return Err(AiError::validation("stageName and name are required"));
    };
    check_stage(stage)?;
    let config = json!({
        "name": name,
        "description": b.get("description").and_then(Value::as_str).unwrap_or_default(),
        "model": b.get("model").and_then(Value::as_str).unwrap_or("default"),
        "returnsJson": b.get("returnsJson").and_then(Value::as_bool).unwrap_or(false),
        "variables": b.get("variables").filter(|v| v.is_array()).cloned().unwrap_or_else(|| json!([])),
    });
    let stage_owned = stage.to_string();
    ai.store
        .update(STAGE_CONFIG, |f: &mut Map<String, Value>| {
            let stages = section(f, "stages");
            if stages.get(&stage_owned).is_some() {
                return Err(AiError::conflict(
                    "CONFLICT",
                    format!("Stage {stage_owned} already exists"),
                ));
            }
            stages[&stage_owned] = config;
            Ok(())
        })
        .await??;
    let template = b
        .get("template")
        .and_then(Value::as_str)
        .unwrap_or_default();
    super::save_template(ai, stage, template).await?;
    Ok(stage.to_string())
}

/// `{ template?, ...config }` on a stage: the template saved as a new version,
/// every other key merged into the configuration (created when missing); the
/// version, when a template was saved.
pub async fn update_stage(ai: &Ai, stage: &str, body: Value) -> Result<Option<String>, AiError> {
    let mut b = object(body)?;
    let template = match b.shift_remove("template") {
        None => None,
        Some(Value::String(t)) => Some(t),
        Some(_) => return Err(AiError::validation("template must be a string")),
    };
    super::save_stage(ai, stage, b, template).await
}

/// Deletes a stage (one PortOS uses only with `force`).
pub async fn delete_stage(ai: &Ai, stage: &str, force: bool) -> Result<(), AiError> {
    check_stage(stage)?;
    if SYSTEM_STAGES.iter().any(|(s, _)| *s == stage) && !force {
        return Err(AiError::bad_request(
            "SYSTEM_STAGE_PROTECTED",
            format!("{stage} is used by PortOS; add ?force=true to delete it"),
        ));
    }
    ai.store
        .update(STAGE_CONFIG, |f: &mut Map<String, Value>| {
            f.get_mut("stages")
                .and_then(Value::as_object_mut)
                .and_then(|s| s.shift_remove(stage))
                .map(drop)
                .ok_or_else(|| AiError::not_found("Stage not found"))
        })
        .await??;
    let _ = tokio::fs::remove_file(ai.store.path(&format!("prompts/stages/{stage}.md"))).await;
    Ok(())
}

/// Who uses a stage: `{ isSystemStage, usedBy, canDelete, warning }`.
pub fn usage(stage: &str) -> Result<Value, AiError> {
    check_stage(stage)?;
    let used: Vec<&str> = SYSTEM_STAGES
        .iter()
        .filter(|(s, _)| *s == stage)
        .map(|(_, by)| *by)
        .collect();
    let system = !used.is_empty();
    Ok(json!({
        "isSystemStage": system,
        "usedBy": used,
        "canDelete": !system,
        "warning": system.then_some("This stage is used by PortOS; deleting it may break those features."),
    }))
}

/// A variable's `name`, `category` and `content` from a body, those given;
/// each must be a string (the original stored whatever came, and a prompt
/// then rendered `[object Object]`).
fn variable_fields(b: &Map<String, Value>) -> Result<Map<String, Value>, AiError> {
    let mut v = Map::new();
    for f in ["name", "category", "content"] {
        match b.get(f) {
            None => {}
            Some(Value::String(x)) => {
                v.insert(f.into(), json!(x));
            }
            Some(_) => return Err(AiError::validation(format!("{f} must be a string"))),
        }
    }
    Ok(v)
}

/// A new shared variable from `{ key, content, name?, category? }`; its key.
pub async fn create_variable(ai: &Ai, body: Value) -> Result<String, AiError> {
    let b = object(body)?;
    let v = variable_fields(&b)?;
    let (Some(key), true) = (
        b.get("key").and_then(Value::as_str),
        v.contains_key("content"),
    ) else {
        return Err(AiError::validation("key and content are required"));
    };
    check_key(key)?;
    let key_owned = key.to_string();
    ai.store
        .update(VARIABLES, |f: &mut Map<String, Value>| {
            let vars = section(f, "variables");
            if vars.get(&key_owned).is_some() {
                return Err(AiError::conflict(
                    "CONFLICT",
                    format!("Variable {key_owned} already exists"),
                ));
            }
            vars[&key_owned] = Value::Object(v);
            Ok(())
        })
        .await??;
    Ok(key.to_string())
}

/// One variable: `{ key, name, category, content }`.
pub async fn variable(ai: &Ai, key: &str) -> Result<Value, AiError> {
    let vars = super::variables(ai).await?;
    let v = vars
        .get(key)
        .ok_or_else(|| AiError::not_found("Variable not found"))?;
    let mut out = json!({ "key": key });
    for f in ["name", "category", "content"] {
        out[f] = v.get(f).cloned().unwrap_or(Value::Null);
    }
    Ok(out)
}

/// Sets the fields given, keeps the others (the original erased them);
/// creates the key when missing.
pub async fn update_variable(ai: &Ai, key: &str, body: Value) -> Result<(), AiError> {
    check_key(key)?;
    let fields = variable_fields(&object(body)?)?;
    ai.store
        .update(VARIABLES, |f: &mut Map<String, Value>| {
            let v = &mut section(f, "variables")[key];
            if !v.is_object() {
                *v = json!({});
            }
            for (field, x) in fields {
                v[field.as_str()] = x;
            }
            Ok::<(), ()>(())
        })
        .await?
        .ok();
    Ok(())
}

/// Deletes a variable; idempotent.
pub async fn delete_variable(ai: &Ai, key: &str) -> Result<(), AiError> {
    ai.store
        .update(VARIABLES, |f: &mut Map<String, Value>| {
            f.get_mut("variables")
                .and_then(Value::as_object_mut)
                .and_then(|v| v.shift_remove(key))
                .map(drop)
                .ok_or(())
        })
        .await?
        .ok();
    Ok(())
}
