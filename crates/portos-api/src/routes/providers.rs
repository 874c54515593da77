//! `/api/providers`: the AI providers of `providers.json`, as the original
//! answers them: no `apiKey` (a `hasApiKey` flag instead), secret environment
//! values shown as `***`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use portos_store::types::{Provider, ProviderKind, Providers, files};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::AppState;
use crate::error::ApiError;
use crate::redact::is_secret_key;

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
    file: Arc<Providers>,
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

/// `GET /api/providers`: every provider, in the file's order, secrets withheld.
#[utoipa::path(get, operation_id = "listProviders", path = "/api/providers", tag = "providers", responses((status = 200, description = "`{ activeProvider, providers: [...] }`, with `hasApiKey` in place of `apiKey`")))]
pub async fn list(State(app): State<AppState>) -> Result<Response, ApiError> {
    let file = load(&app).await?;
    app.rendered
        .json(&file, "providers", |f| ProviderList { file: f.clone() })
}

/// `providers.json`, shared.
pub async fn load(app: &AppState) -> Result<Arc<Providers>, ApiError> {
    Ok(app.store.load_shared(files::PROVIDERS).await?)
}
