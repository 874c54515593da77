//! `portos.api.v1.Apps` over `portos-apps`.

use tonic::{Request, Response, Status};

use portos_proto::api::v1 as pb;

use super::OrStatus;
use crate::{ApiError, AppState};

/// `portos.api.v1.Apps`.
#[derive(Debug, Clone)]
pub struct AppsRpc(pub(super) AppState);

impl AppsRpc {
    async fn act(
        &self,
        req: Request<pb::AppRequest>,
        action: portos_apps::AppAction,
    ) -> Result<Response<pb::AppActionResponse>, Status> {
        let id = req.into_inner().id;
        if id.is_empty() {
            return Err(super::fail(&self.0, ApiError::validation("id is required")));
        }
        let results = portos_apps::control::act(&self.0.apps, &id, action)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::AppActionResponse {
            results: results
                .into_iter()
                .map(|(name, r)| {
                    (
                        name,
                        pb::ProcessResult {
                            success: r["success"] == true,
                            error: r["error"].as_str().map(str::to_string),
                            pending: r["pending"] == true,
                        },
                    )
                })
                .collect(),
        }))
    }
}

#[tonic::async_trait]
impl pb::apps_server::Apps for AppsRpc {
    async fn list(
        &self,
        _req: Request<pb::ListAppsRequest>,
    ) -> Result<Response<pb::ListAppsResponse>, Status> {
        let views = portos_apps::control::views(&self.0.apps)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::ListAppsResponse {
            apps: views
                .into_iter()
                .map(|v| pb::App {
                    name: v.record["name"].as_str().unwrap_or_default().to_string(),
                    archived: v.record["archived"] == true,
                    overall_status: v.overall.to_string(),
                    process_status: v
                        .statuses
                        .iter()
                        .map(|(n, s)| {
                            let status = s["status"].as_str().unwrap_or("unknown");
                            (n.clone(), status.to_string())
                        })
                        .collect(),
                    app_json: v.record.to_string(),
                    id: v.id,
                })
                .collect(),
        }))
    }

    async fn start(
        &self,
        req: Request<pb::AppRequest>,
    ) -> Result<Response<pb::AppActionResponse>, Status> {
        self.act(req, portos_apps::AppAction::Start).await
    }

    async fn stop(
        &self,
        req: Request<pb::AppRequest>,
    ) -> Result<Response<pb::AppActionResponse>, Status> {
        self.act(req, portos_apps::AppAction::Stop).await
    }

    async fn restart(
        &self,
        req: Request<pb::AppRequest>,
    ) -> Result<Response<pb::AppActionResponse>, Status> {
        self.act(req, portos_apps::AppAction::Restart).await
    }
}
