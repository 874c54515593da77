//! `portos.api.v1.Files`: uploads, screenshots and attachments.

use portos_files as files;
use tonic::{Request, Response, Status};

use portos_proto::api::v1 as pb;

use super::OrStatus;
use crate::{ApiError, AppState};

/// `portos.api.v1.Files`.
#[derive(Debug, Clone)]
pub struct FilesRpc(pub(super) AppState);

impl FilesRpc {
    fn folder(&self, f: i32) -> Result<files::Folder, Status> {
        match pb::Folder::try_from(f) {
            Ok(pb::Folder::Uploads) => Ok(files::UPLOADS),
            Ok(pb::Folder::Screenshots) => Ok(files::SCREENSHOTS),
            Ok(pb::Folder::Attachments) => Ok(files::ATTACHMENTS),
            _ => Err(super::fail(
                &self.0,
                ApiError::validation(format!(
                    "folder must be FOLDER_UPLOADS, FOLDER_SCREENSHOTS or FOLDER_ATTACHMENTS, not {f}"
                )),
            )),
        }
    }
}

#[tonic::async_trait]
impl pb::files_server::Files for FilesRpc {
    async fn list(
        &self,
        req: Request<pb::ListFilesRequest>,
    ) -> Result<Response<pb::ListFilesResponse>, Status> {
        let folder = self.folder(req.into_inner().folder)?;
        let listed = files::listing(self.0.store.root(), folder).await;
        Ok(Response::new(pb::ListFilesResponse {
            files: listed
                .into_iter()
                .map(|f| pb::FileInfo {
                    mime_type: files::mime_of(&f.name).to_string(),
                    created_at: portos_core::time::iso(f.created),
                    size: f.size,
                    filename: f.name,
                })
                .collect(),
        }))
    }

    async fn delete(
        &self,
        req: Request<pb::DeleteFileRequest>,
    ) -> Result<Response<pb::DeleteFileResponse>, Status> {
        let r = req.into_inner();
        let folder = self.folder(r.folder)?;
        let (_, size) = files::delete(self.0.store.root(), folder, &r.filename)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::DeleteFileResponse { size }))
    }
}
