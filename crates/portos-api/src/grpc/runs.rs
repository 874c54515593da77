//! `portos.api.v1.Runs` over `portos-ai`.

use portos_ai::runs;
use std::pin::Pin;

use tonic::{Request, Response, Status};

use portos_proto::api::v1 as pb;

use super::OrStatus;
use crate::{ApiError, AppState};

/// `portos.api.v1.Runs`.
#[derive(Debug, Clone)]
pub struct RunsRpc(pub(super) AppState);

fn run_info(app: &AppState, metadata: serde_json::Value) -> pb::RunInfo {
    let id = metadata["id"].as_str().unwrap_or_default().to_string();
    pb::RunInfo {
        active: app.ai.run_is_active(&id),
        success: metadata["success"].as_bool(),
        metadata_json: metadata.to_string(),
        id,
    }
}

#[tonic::async_trait]
impl pb::runs_server::Runs for RunsRpc {
    async fn create(
        &self,
        req: Request<pb::CreateRunRequest>,
    ) -> Result<Response<pb::RunInfo>, Status> {
        let r = req.into_inner();
        let metadata = runs::create(
            &self.0.ai,
            runs::NewRun {
                provider_id: r.provider_id,
                model: r.model,
                prompt: r.prompt,
                workspace_path: r.workspace_path,
                workspace_name: r.workspace_name,
                timeout_ms: r.timeout_ms,
                source: None,
                stage: None,
                variables: Default::default(),
                extra_args: Vec::new(),
            },
        )
        .await
        .or_status(&self.0)?;
        Ok(Response::new(run_info(&self.0, metadata)))
    }

    async fn list(
        &self,
        req: Request<pb::ListRunsRequest>,
    ) -> Result<Response<pb::ListRunsResponse>, Status> {
        let r = req.into_inner();
        let limit = if r.limit == 0 { 50 } else { r.limit as usize };
        let listed = runs::list(
            &self.0.ai,
            limit,
            r.offset as usize,
            r.source.as_deref().unwrap_or("all"),
        )
        .await;
        Ok(Response::new(pb::ListRunsResponse {
            total: listed["total"].as_u64().unwrap_or(0) as u32,
            runs: listed["runs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| run_info(&self.0, m.clone()))
                .collect(),
        }))
    }

    async fn get(&self, req: Request<pb::RunRequest>) -> Result<Response<pb::RunInfo>, Status> {
        let mut metadata = runs::get(&self.0.ai, &req.into_inner().id)
            .await
            .or_status(&self.0)?;
        if let Some(m) = metadata.as_object_mut() {
            m.remove("isActive");
        }
        Ok(Response::new(run_info(&self.0, metadata)))
    }

    type OutputStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::RunOutputChunk, Status>> + Send>>;

    async fn output(
        &self,
        req: Request<pb::RunOutputRequest>,
    ) -> Result<Response<Self::OutputStream>, Status> {
        let r = req.into_inner();
        let rx = runs::follow(&self.0.ai, &r.id, r.from_offset as usize, r.follow)
            .await
            .or_status(&self.0)?;
        let stream =
            tokio_stream::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), |text| {
                Ok(pb::RunOutputChunk { text })
            });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn stop(
        &self,
        req: Request<pb::RunRequest>,
    ) -> Result<Response<pb::StopRunResponse>, Status> {
        let id = req.into_inner().id;
        runs::check_id(&id).or_status(&self.0)?;
        if runs::stop(&self.0.ai, &id).await {
            Ok(Response::new(pb::StopRunResponse {}))
        } else {
            Err(super::fail(
                &self.0,
                ApiError::not_found("Run not found or not active"),
            ))
        }
    }

    async fn delete(
        &self,
        req: Request<pb::RunRequest>,
    ) -> Result<Response<pb::DeleteRunResponse>, Status> {
        runs::delete(&self.0.ai, &req.into_inner().id)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::DeleteRunResponse {}))
    }
}
