//! `portos.api.v1.Settings`.

use tonic::{Request, Response, Status};

use portos_proto::api::v1 as pb;

use super::OrStatus;
use crate::AppState;

/// `portos.api.v1.Settings`.
#[derive(Debug, Clone)]
pub struct SettingsRpc(pub(super) AppState);

#[tonic::async_trait]
impl pb::settings_server::Settings for SettingsRpc {
    async fn get(
        &self,
        _req: Request<pb::GetSettingsRequest>,
    ) -> Result<Response<pb::SettingsDocument>, Status> {
        let v = crate::routes::settings::read(&self.0)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::SettingsDocument {
            json: v.to_string(),
        }))
    }

    async fn update(
        &self,
        req: Request<pb::UpdateSettingsRequest>,
    ) -> Result<Response<pb::SettingsDocument>, Status> {
        let patch = super::json_arg(&self.0, "patch_json", &req.into_inner().patch_json)?;
        let v = crate::routes::settings::merge(&self.0, patch)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::SettingsDocument {
            json: v.to_string(),
        }))
    }
}
