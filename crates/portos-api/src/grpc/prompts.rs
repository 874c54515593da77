//! `portos.api.v1.Prompts` over `portos-ai`'s stored prompts.

use portos_ai::prompts;
use tonic::{Request, Response, Status};

use portos_proto::api::v1 as pb;

use super::OrStatus;
use crate::AppState;

/// `portos.api.v1.Prompts`.
#[derive(Debug, Clone)]
pub struct PromptsRpc(pub(super) AppState);

#[tonic::async_trait]
impl pb::prompts_server::Prompts for PromptsRpc {
    async fn list_stages(
        &self,
        _req: Request<pb::ListStagesRequest>,
    ) -> Result<Response<pb::JsonDocument>, Status> {
        let stages = prompts::stages(&self.0.ai).await.or_status(&self.0)?;
        Ok(Response::new(pb::JsonDocument {
            json: serde_json::Value::Object(stages).to_string(),
        }))
    }

    async fn get_stage(
        &self,
        req: Request<pb::StageRequest>,
    ) -> Result<Response<pb::Stage>, Status> {
        let stage = req.into_inner().stage;
        let (config, template) = prompts::stage(&self.0.ai, &stage)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::Stage {
            stage,
            config_json: config.to_string(),
            template,
        }))
    }

    async fn save_stage(
        &self,
        req: Request<pb::SaveStageRequest>,
    ) -> Result<Response<pb::SaveStageResponse>, Status> {
        let r = req.into_inner();
        let config = super::json_object(&self.0, "config_json", &r.config_json)?;
        let version = prompts::save_stage(&self.0.ai, &r.stage, config, r.template)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::SaveStageResponse { version }))
    }

    async fn preview(
        &self,
        req: Request<pb::PreviewRequest>,
    ) -> Result<Response<pb::PreviewResponse>, Status> {
        let r = req.into_inner();
        let data = super::json_object(&self.0, "data_json", &r.data_json)?;
        let (preview, missing) = prompts::preview(&self.0.ai, &r.stage, &data)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::PreviewResponse {
            preview,
            missing: missing.into_iter().collect(),
        }))
    }

    async fn list_versions(
        &self,
        req: Request<pb::StageRequest>,
    ) -> Result<Response<pb::StageVersions>, Status> {
        let versions = prompts::versions(&self.0.ai, &req.into_inner().stage)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::StageVersions {
            versions: versions
                .iter()
                .map(|v| pb::StageVersion {
                    version: v["version"].as_str().unwrap_or_default().to_string(),
                    saved_at: v["savedAt"].as_str().unwrap_or_default().to_string(),
                    size: v["size"].as_u64().unwrap_or(0),
                })
                .collect(),
        }))
    }

    async fn list_variables(
        &self,
        _req: Request<pb::ListVariablesRequest>,
    ) -> Result<Response<pb::JsonDocument>, Status> {
        let vars = prompts::variables(&self.0.ai).await.or_status(&self.0)?;
        Ok(Response::new(pb::JsonDocument {
            json: serde_json::Value::Object(vars).to_string(),
        }))
    }
}
