//! `/api/providers`: the AI providers of `providers.json`, as the original
//! answers them: no `apiKey` (a `hasApiKey` flag instead), secret environment
//! values shown as `***`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
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

mod edit;
pub mod probe;

pub use edit::{
    create as create_provider, delete as delete_provider, id_from_name, set_active,
    update as update_provider,
};

/// One provider as clients see it, as a JSON value.
pub fn public_json(p: &Provider) -> Value {
    serde_json::to_value(PublicProvider::from(p)).unwrap_or(Value::Null)
}

/// Provider `id`, or 404.
pub async fn get(app: &AppState, id: &str) -> Result<Provider, ApiError> {
    load(app)
        .await?
        .providers
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("Provider not found"))
}

/// `GET /api/providers/active`: the active provider, or `null`.
#[utoipa::path(get, operation_id = "activeProvider", path = "/api/providers/active", tag = "providers", responses((status = 200, description = "the active provider (secrets withheld), or null")))]
pub async fn active(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let file = load(&app).await?;
    Ok(Json(
        file.active_provider
            .as_ref()
            .and_then(|id| file.providers.get(id))
            .map_or(Value::Null, public_json),
    ))
}

/// `PUT /api/providers/active`: `{ id }`.
#[utoipa::path(put, operation_id = "setActiveProvider", path = "/api/providers/active", tag = "providers", request_body(content = Object, description = "`{ id }`"), responses((status = 200, description = "the provider now active"), (status = 400, description = "Provider ID required"), (status = 404, description = "Provider not found")))]
pub async fn put_active(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let id = body["id"].as_str().unwrap_or_default();
    Ok(Json(public_json(&set_active(&app, id).await?)))
}

/// `GET /api/providers/:id`.
#[utoipa::path(get, operation_id = "getProvider", path = "/api/providers/{id}", tag = "providers", params(("id" = String, Path)), responses((status = 200, description = "the provider, secrets withheld"), (status = 404, description = "Provider not found")))]
pub async fn get_one(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(public_json(&get(&app, &id).await?)))
}

/// `POST /api/providers`: 201 with the provider, secrets withheld (the
/// original answered the key itself here).
#[utoipa::path(post, operation_id = "createProvider", path = "/api/providers", tag = "providers", request_body(content = Object, description = "`{ name, type: cli|api, id?, command?, args?, endpoint?, apiKey?, models?, … }`"), responses((status = 201, description = "the provider, secrets withheld"), (status = 400, description = "VALIDATION_ERROR"), (status = 409, description = "the id is taken")))]
pub async fn create(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let p = create_provider(&app, body).await?;
    Ok((StatusCode::CREATED, Json(public_json(&p))))
}

/// `PUT /api/providers/:id`: a shallow merge; secrets kept unless replaced.
#[utoipa::path(put, operation_id = "updateProvider", path = "/api/providers/{id}", tag = "providers", params(("id" = String, Path)), request_body(content = Object, description = "fields to change; no `apiKey` keeps the key, `***` keeps a secret env value"), responses((status = 200, description = "the provider, secrets withheld"), (status = 400, description = "VALIDATION_ERROR"), (status = 404, description = "Provider not found")))]
pub async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(public_json(&update_provider(&app, &id, body).await?)))
}

/// `DELETE /api/providers/:id`: 204; the next one becomes active if it was.
#[utoipa::path(delete, operation_id = "deleteProvider", path = "/api/providers/{id}", tag = "providers", params(("id" = String, Path)), responses((status = 204, description = "deleted"), (status = 404, description = "Provider not found")))]
pub async fn delete(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    delete_provider(&app, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/providers/:id/test`.
#[utoipa::path(post, operation_id = "testProvider", path = "/api/providers/{id}/test", tag = "providers", params(("id" = String, Path)), responses((status = 200, description = "`{ success, error? }` with `path`, `version` (CLI) or `endpoint`, `models` (API)"), (status = 404, description = "Provider not found")))]
pub async fn test(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let p = get(&app, &id).await?;
    Ok(Json(probe::probe(&app.http, &p).await))
}

/// `GET /api/providers/status`: `{ providers: { <id>: status }, lastUpdated }`.
#[utoipa::path(get, operation_id = "providerStatuses", path = "/api/providers/status", tag = "providers", responses((status = 200, description = "`{ providers: { <id>: { available, reason, message, failureCount, lastChecked, timeUntilRecovery, … } }, lastUpdated }`")))]
pub async fn statuses(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(crate::provider_status::all(&app).await?))
}

/// `GET /api/providers/:id/status` (an unknown id looks available, as the original).
#[utoipa::path(get, operation_id = "providerStatus", path = "/api/providers/{id}/status", tag = "providers", params(("id" = String, Path)), responses((status = 200, description = "the status with `timeUntilRecovery`")))]
pub async fn status(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(crate::provider_status::get(&app, &id).await?))
}

/// `POST /api/providers/:id/status/recover`.
#[utoipa::path(post, operation_id = "recoverProvider", path = "/api/providers/{id}/status/recover", tag = "providers", params(("id" = String, Path)), responses((status = 200, description = "`{ success, status }`"), (status = 404, description = "Provider not found")))]
pub async fn recover(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    get(&app, &id).await?;
    let status = crate::provider_status::recover(&app, &id).await?;
    Ok(Json(
        serde_json::json!({ "success": true, "status": status }),
    ))
}
