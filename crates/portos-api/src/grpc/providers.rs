//! `portos.api.v1.Providers` over `portos-ai`: providers and their status.

use portos_ai::{providers, status};
use tonic::{Request, Response, Status};

use portos_proto::api::v1 as pb;

use super::OrStatus;
use crate::AppState;

/// `portos.api.v1.Providers`.
#[derive(Debug, Clone)]
pub struct ProvidersRpc(pub(super) AppState);

fn provider_to_proto(p: &portos_store::types::Provider) -> pb::Provider {
    use portos_store::types::ProviderKind;
    pb::Provider {
        id: p.id.clone(),
        name: p.name.clone(),
        r#type: match p.kind {
            ProviderKind::Cli => "cli",
            ProviderKind::Api => "api",
        }
        .to_string(),
        command: p.command.clone(),
        args: p.args.clone(),
        endpoint: p.endpoint.clone(),
        has_api_key: providers::has_api_key(p),
        models: p.models.clone(),
        default_model: p.default_model.clone(),
        light_model: p.light_model.clone(),
        medium_model: p.medium_model.clone(),
        heavy_model: p.heavy_model.clone(),
        fallback_provider: p.fallback_provider.clone(),
        timeout: p.timeout,
        enabled: p.enabled,
        env_vars: providers::shown_env_vars(p)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        secret_env_vars: p.secret_env_vars.clone(),
        headless_args: p.headless_args.clone(),
    }
}

#[tonic::async_trait]
impl pb::providers_server::Providers for ProvidersRpc {
    async fn list(
        &self,
        _req: Request<pb::ListProvidersRequest>,
    ) -> Result<Response<pb::ListProvidersResponse>, Status> {
        let file = providers::load(&self.0.ai).await.or_status(&self.0)?;
        Ok(Response::new(pb::ListProvidersResponse {
            active_provider: file.active_provider.clone(),
            providers: file.providers.values().map(provider_to_proto).collect(),
        }))
    }

    async fn get(
        &self,
        req: Request<pb::ProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let p = providers::get(&self.0.ai, &req.into_inner().id)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(provider_to_proto(&p)))
    }

    async fn create(
        &self,
        req: Request<pb::CreateProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let body = super::json_arg(&self.0, "provider_json", &req.into_inner().provider_json)?;
        let p = providers::create_provider(&self.0.ai, body)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(provider_to_proto(&p)))
    }

    async fn update(
        &self,
        req: Request<pb::UpdateProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let r = req.into_inner();
        let body = super::json_arg(&self.0, "changes_json", &r.changes_json)?;
        let p = providers::update_provider(&self.0.ai, &r.id, body)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(provider_to_proto(&p)))
    }

    async fn delete(
        &self,
        req: Request<pb::ProviderRequest>,
    ) -> Result<Response<pb::DeleteProviderResponse>, Status> {
        providers::delete_provider(&self.0.ai, &req.into_inner().id)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::DeleteProviderResponse {}))
    }

    async fn set_active(
        &self,
        req: Request<pb::ProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let p = providers::set_active(&self.0.ai, &req.into_inner().id)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(provider_to_proto(&p)))
    }

    async fn test(
        &self,
        req: Request<pb::ProviderRequest>,
    ) -> Result<Response<pb::ProviderTestResult>, Status> {
        let result = providers::test(&self.0.ai, &req.into_inner().id)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::ProviderTestResult {
            success: result["success"] == true,
            error: result["error"].as_str().map(str::to_string),
            result_json: result.to_string(),
        }))
    }

    async fn status(
        &self,
        req: Request<pb::ProviderRequest>,
    ) -> Result<Response<pb::ProviderStatus>, Status> {
        let id = req.into_inner().id;
        let v = status::get(&self.0.ai, &id).await.or_status(&self.0)?;
        Ok(Response::new(status_to_proto(&id, &v)))
    }

    async fn statuses(
        &self,
        _req: Request<pb::ProviderStatusesRequest>,
    ) -> Result<Response<pb::ProviderStatuses>, Status> {
        let all = status::all(&self.0.ai).await.or_status(&self.0)?;
        Ok(Response::new(pb::ProviderStatuses {
            statuses: all["providers"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(id, v)| status_to_proto(id, v))
                .collect(),
        }))
    }

    async fn recover(
        &self,
        req: Request<pb::ProviderRequest>,
    ) -> Result<Response<pb::ProviderStatus>, Status> {
        let id = req.into_inner().id;
        providers::get(&self.0.ai, &id).await.or_status(&self.0)?;
        let v = status::recover(&self.0.ai, &id).await.or_status(&self.0)?;
        Ok(Response::new(status_to_proto(&id, &v)))
    }
}

fn status_to_proto(id: &str, v: &serde_json::Value) -> pb::ProviderStatus {
    let text = |k: &str| v[k].as_str().map(str::to_string);
    pb::ProviderStatus {
        provider_id: id.to_string(),
        available: v["available"] != false,
        reason: text("reason").unwrap_or_else(|| "ok".into()),
        message: text("message").unwrap_or_default(),
        failure_count: v["failureCount"].as_u64().unwrap_or(0),
        last_checked: text("lastChecked"),
        estimated_recovery: text("estimatedRecovery"),
        time_until_recovery: text("timeUntilRecovery"),
        last_error: text("lastError"),
    }
}
