//! The AI providers of `providers.json`, and how clients see them: no
//! `apiKey` (a `hasApiKey` flag instead), secret environment values as `***`.

use std::sync::Arc;

use portos_store::types::{Provider, ProviderKind, Providers, files};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::Ai;
use crate::AiError;
use portos_core::Refuse;
use portos_core::secrets::is_secret_key;

/// The provider's environment as clients see it: the values of secret
/// variables (listed in `secretEnvVars`, or named like one) as `***`.
pub fn shown_env_vars(p: &Provider) -> impl Iterator<Item = (&str, &str)> {
    p.env_vars.iter().map(|(name, value)| {
        let secret = p.secret_env_vars.contains(name) || is_secret_key(name);
        (name.as_str(), if secret { "***" } else { value.as_str() })
    })
}

/// Whether the provider has a key set.
pub fn has_api_key(p: &Provider) -> bool {
    p.api_key.as_deref().is_some_and(|k| !k.is_empty())
}

/// A provider as clients see it: its fields in the file's order, with
/// `hasApiKey` in place of `apiKey` and secret environment values masked.
/// Serialized straight from the shared parsed file, nothing copied.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicProvider<'a> {
    id: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    kind: ProviderKind,
    command: &'a Option<String>,
    args: &'a [String],
    endpoint: &'a Option<String>,
    has_api_key: bool,
    models: &'a [String],
    default_model: &'a Option<String>,
    light_model: &'a Option<String>,
    medium_model: &'a Option<String>,
    heavy_model: &'a Option<String>,
    fallback_provider: &'a Option<String>,
    timeout: Option<u64>,
    enabled: bool,
    env_vars: ShownEnv<'a>,
    secret_env_vars: &'a [String],
    headless_args: &'a [String],
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

impl<'a> From<&'a Provider> for PublicProvider<'a> {
    fn from(p: &'a Provider) -> Self {
        Self {
            id: &p.id,
            name: &p.name,
            kind: p.kind,
            command: &p.command,
            args: &p.args,
            endpoint: &p.endpoint,
            has_api_key: has_api_key(p),
            models: &p.models,
            default_model: &p.default_model,
            light_model: &p.light_model,
            medium_model: &p.medium_model,
            heavy_model: &p.heavy_model,
            fallback_provider: &p.fallback_provider,
            timeout: p.timeout,
            enabled: p.enabled,
            env_vars: ShownEnv(p),
            secret_env_vars: &p.secret_env_vars,
            headless_args: &p.headless_args,
            extra: &p.extra,
        }
    }
}

/// `envVars` through [`shown_env_vars`].
#[derive(Debug)]
pub struct ShownEnv<'a>(&'a Provider);

impl Serialize for ShownEnv<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(shown_env_vars(self.0))
    }
}

/// The answer of `GET /api/providers`: `{ activeProvider, providers: [...] }`.
#[derive(Debug)]
pub struct ProviderList {
    pub file: Arc<Providers>,
}

impl Serialize for ProviderList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct All<'a>(&'a Providers);
        impl Serialize for All<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.providers.values().map(PublicProvider::from))
            }
        }
        let mut st = s.serialize_struct("ProviderList", 2)?;
        st.serialize_field("activeProvider", &self.file.active_provider)?;
        st.serialize_field("providers", &All(&self.file))?;
        st.end()
    }
}

/// `providers.json`, shared.
pub async fn load(ai: &Ai) -> Result<Arc<Providers>, AiError> {
    Ok(ai.store.load_shared(files::PROVIDERS).await?)
}

mod edit;
pub mod probe;

pub use edit::{
    create as create_provider, delete as delete_provider, set_active, update as update_provider,
};

/// The active provider, if one is set and exists.
pub async fn active(ai: &Ai) -> Result<Option<Provider>, AiError> {
    let file = load(ai).await?;
    Ok(file
        .active_provider
        .as_ref()
        .and_then(|id| file.providers.get(id))
        .cloned())
}

/// Does the provider answer? (`{ success, error?, ... }`, the original's result.)
pub async fn test(ai: &Ai, id: &str) -> Result<Value, AiError> {
    let p = get(ai, id).await?;
    Ok(probe::probe(&ai.http, &p).await)
}

/// One provider as clients see it, as a JSON value.
pub fn public_json(p: &Provider) -> Value {
    serde_json::to_value(PublicProvider::from(p)).unwrap_or(Value::Null)
}

/// Provider `id`, or 404.
pub async fn get(ai: &Ai, id: &str) -> Result<Provider, AiError> {
    load(ai)
        .await?
        .providers
        .get(id)
        .cloned()
        .ok_or_else(|| AiError::not_found("Provider not found"))
}
