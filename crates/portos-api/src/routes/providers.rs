//! `/api/providers`: the AI providers of `providers.json`, as the original
//! answers them: no `apiKey` (a `hasApiKey` flag instead), secret environment
//! values shown as `***`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use portos_store::types::{Provider, Providers, files};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::AppState;
use crate::error::ApiError;
use crate::redact::is_secret_key;

/// A provider as clients see it.
pub fn public(p: &Provider) -> Value {
    let Ok(Value::Object(fields)) = serde_json::to_value(p) else {
        return Value::Null;
    };
    let mut out = Map::with_capacity(fields.len() + 1);
    for (k, v) in fields {
        match k.as_str() {
            "apiKey" => {
                out.insert(
                    "hasApiKey".into(),
                    Value::Bool(p.api_key.as_deref().is_some_and(|k| !k.is_empty())),
                );
            }
            "envVars" => {
                let env = p
                    .env_vars
                    .iter()
                    .map(|(name, value)| {
                        let secret = p.secret_env_vars.contains(name) || is_secret_key(name);
                        let shown = if secret { "***" } else { value.as_str() };
                        (name.clone(), Value::String(shown.to_string()))
                    })
                    .collect();
                out.insert(k, Value::Object(env));
            }
            _ => {
                out.insert(k, v);
            }
        }
    }
    Value::Object(out)
}

/// The answer of `GET /api/providers`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderList {
    active_provider: Option<String>,
    providers: Vec<Value>,
}

/// `GET /api/providers`: every provider, in the file's order, secrets withheld.
#[utoipa::path(get, operation_id = "listProviders", path = "/api/providers", tag = "providers", responses((status = 200, description = "`{ activeProvider, providers: [...] }`, with `hasApiKey` in place of `apiKey`")))]
pub async fn list(State(app): State<AppState>) -> Result<Json<ProviderList>, ApiError> {
    let file: Arc<Providers> = app.store.load_shared(files::PROVIDERS).await?;
    Ok(Json(ProviderList {
        active_provider: file.active_provider.clone(),
        providers: file.providers.values().map(public).collect(),
    }))
}
