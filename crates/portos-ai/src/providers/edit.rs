//! Changes to `providers.json`: create, update, delete, set active. Every
//! change is checked by reading the result back into [`Provider`], so a field
//! of the wrong type is refused with its name, and nothing is written.

use portos_store::types::{Provider, Providers, files};
use serde_json::{Map, Value, json};

use crate::Ai;
use crate::AiError;
use portos_core::Refuse;
use portos_core::id_from_name;

/// Fields a client may not set: the id is the key, `hasApiKey` is derived.
const NOT_SETTABLE: &[&str] = &["id", "hasApiKey"];

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The record as a [`Provider`], or a 400 naming the field that is wrong;
/// then the rules serde cannot say: name, timeout range, endpoint scheme.
fn checked(record: Value) -> Result<Provider, AiError> {
    let p: Provider = serde_path_to_error::deserialize(&record).map_err(|e| {
        let field = e.path().to_string();
        AiError::validation(format!("{field}: {}", e.into_inner()))
            .with_context(json!({ "field": field }))
    })?;
    if p.name.trim().is_empty() || p.name.chars().count() > 100 {
        return Err(AiError::validation("Name is required (1-100 characters)"));
    }
    if let Some(t) = p.timeout
        && !(1_000..=600_000).contains(&t)
    {
        return Err(AiError::validation(format!(
            "timeout must be 1000-600000 ms, not {t}"
        )));
    }
    if let Some(e) = p.endpoint.as_deref().filter(|e| !e.is_empty())
        && !(e.starts_with("http://") || e.starts_with("https://"))
    {
        return Err(AiError::validation(format!(
            "endpoint must be an http:// or https:// URL, not {e:?}"
        )));
    }
    Ok(p)
}

fn object(body: Value) -> Result<Map<String, Value>, AiError> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(AiError::validation("a JSON object is required")),
    }
}

/// Adds a provider: the original's defaults, then the body's fields. The
/// first provider becomes the active one. A taken id is a 409.
pub async fn create(ai: &Ai, body: Value) -> Result<Provider, AiError> {
    let body = object(body)?;
    let name = match body.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => n.clone(),
        _ => return Err(AiError::validation("Name is required")),
    };
    if !matches!(
        body.get("type").and_then(Value::as_str),
        Some("cli" | "api")
    ) {
        return Err(AiError::validation("Type must be \"cli\" or \"api\""));
    }
    let id = match body.get("id") {
        None | Some(Value::Null) => id_from_name(&name),
        Some(Value::String(id)) if valid_id(id) => id.clone(),
        Some(other) => {
            return Err(AiError::validation(format!(
                "id must be 1-100 letters, digits, '-', '_' or '.', not {other}"
            )));
        }
    };
    let mut record = json!({
        "id": id, "name": name, "type": "cli", "command": null, "args": [], "endpoint": null,
        "apiKey": "", "models": [], "defaultModel": null, "lightModel": null,
        "mediumModel": null, "heavyModel": null, "fallbackProvider": null, "timeout": 300000,
        "enabled": true, "envVars": {}, "secretEnvVars": [], "headlessArgs": [],
    });
    for (k, v) in body {
        if !NOT_SETTABLE.contains(&k.as_str()) {
            record[k] = v;
        }
    }
    let provider = checked(record)?;
    let stored = provider.clone();
    ai.store
        .update(files::PROVIDERS, move |f: &mut Providers| {
            if f.providers.contains_key(&stored.id) {
                return Err(AiError::problem(
                    portos_core::Kind::Conflict,
                    "CONFLICT",
                    format!("Provider with this ID already exists: {}", stored.id),
                ));
            }
            if f.active_provider.is_none() {
                f.active_provider = Some(stored.id.clone());
            }
            f.providers.insert(stored.id.clone(), stored);
            Ok(())
        })
        .await??;
    Ok(provider)
}

/// A shallow merge of the body into provider `id`. Secrets are kept unless
/// replaced: no `apiKey` in the body keeps the stored key (`""` clears it),
/// and a secret env value sent back as `***` keeps the stored value.
pub async fn update(ai: &Ai, id: &str, body: Value) -> Result<Provider, AiError> {
    let body = object(body)?;
    ai.store
        .update(files::PROVIDERS, |f: &mut Providers| {
            let stored = f
                .providers
                .get(id)
                .ok_or_else(|| AiError::not_found("Provider not found"))?;
            let Value::Object(mut record) =
                serde_json::to_value(stored).map_err(|e| AiError::internal(e.to_string()))?
            else {
                return Err(AiError::internal("a provider is not an object"));
            };
            // A key stays with the endpoint it was saved for: a new endpoint
            // without a key in the same request drops the stored one.
            let moved = body
                .get("endpoint")
                .is_some_and(|e| e.as_str() != stored.endpoint.as_deref());
            if moved && !body.contains_key("apiKey") {
                record.insert("apiKey".into(), Value::String(String::new()));
            }
            for (k, v) in body {
                if !NOT_SETTABLE.contains(&k.as_str()) {
                    record.insert(k, v);
                }
            }
            if let Some(Value::Object(env)) = record.get_mut("envVars") {
                for name in &stored.secret_env_vars {
                    let kept = stored.env_vars.get(name).filter(|v| !v.is_empty());
                    if let (Some(Value::String(sent)), Some(kept)) = (env.get(name), kept)
                        && sent == "***"
                    {
                        env.insert(name.clone(), Value::String(kept.clone()));
                    }
                }
            }
            let provider = checked(Value::Object(record))?;
            f.providers.insert(id.to_string(), provider.clone());
            Ok(provider)
        })
        .await?
}

/// Removes provider `id`; if it was active, the first one left becomes active.
pub async fn delete(ai: &Ai, id: &str) -> Result<(), AiError> {
    ai.store
        .update(files::PROVIDERS, |f: &mut Providers| {
            f.providers
                .shift_remove(id)
                .ok_or_else(|| AiError::not_found("Provider not found"))?;
            if f.active_provider.as_deref() == Some(id) {
                f.active_provider = f.providers.keys().next().cloned();
            }
            Ok(())
        })
        .await?
}

/// Makes provider `id` the active one.
pub async fn set_active(ai: &Ai, id: &str) -> Result<Provider, AiError> {
    if id.is_empty() {
        return Err(AiError::validation("Provider ID required"));
    }
    ai.store
        .update(files::PROVIDERS, |f: &mut Providers| {
            let p = f
                .providers
                .get(id)
                .cloned()
                .ok_or_else(|| AiError::not_found("Provider not found"))?;
            f.active_provider = Some(id.to_string());
            Ok(p)
        })
        .await?
}
