//! `portos.runner.v1.Shell`: the terminal sessions' API, converted here and
//! only here.

use std::pin::Pin;
use std::sync::Arc;

use portos_proto::runner::v1 as pb;
use tonic::{Request, Response, Status};

use crate::iso;
use crate::shell::{Frame, OpenSpec, SessionInfo, ShellError, Shells};

impl From<ShellError> for Status {
    fn from(e: ShellError) -> Self {
        let m = e.to_string();
        match e {
            ShellError::Invalid(_) => Status::invalid_argument(m),
            ShellError::NotFound(_) => Status::not_found(m),
            ShellError::NotYours(_) => Status::permission_denied(m),
            ShellError::Limit(_) => Status::resource_exhausted(m),
            ShellError::Disabled => Status::failed_precondition(m),
            ShellError::Spawn(_) => Status::internal(m),
        }
    }
}

fn session(i: SessionInfo) -> pb::ShellSession {
    pb::ShellSession {
        id: i.id,
        owner: i.owner,
        pid: i.pid,
        shell: i.shell,
        cwd: i.cwd,
        cols: u32::from(i.cols),
        rows: u32::from(i.rows),
        created_at: iso(i.created_at),
        last_active_at: iso(i.last_active_at),
        attached: i.attached as u32,
    }
}

/// A terminal dimension from the wire: 0 stays 0 (the default), too large is refused.
fn dim(n: u32) -> Result<u16, Status> {
    u16::try_from(n)
        .ok()
        .filter(|n| *n <= 500)
        .ok_or_else(|| Status::invalid_argument(format!("{n}: columns and rows are 1-500")))
}

/// The service over one [`Shells`].
#[derive(Debug, Clone)]
pub struct ShellRpc(pub Arc<Shells>);

type Stream<T> = Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl pb::shell_server::Shell for ShellRpc {
    async fn open(
        &self,
        req: Request<pb::OpenShellRequest>,
    ) -> Result<Response<pb::ShellSession>, Status> {
        let r = req.into_inner();
        let spec = OpenSpec {
            owner: r.owner,
            shell: r.shell,
            cwd: r.cwd,
            cols: dim(r.cols)?,
            rows: dim(r.rows)?,
        };
        Ok(Response::new(session(self.0.open(spec).await?)))
    }

    async fn write(
        &self,
        req: Request<pb::WriteShellRequest>,
    ) -> Result<Response<pb::ShellSession>, Status> {
        let r = req.into_inner();
        self.0.write(&r.owner, &r.id, r.data).await?;
        Ok(Response::new(pb::ShellSession {
            id: r.id,
            ..Default::default()
        }))
    }

    async fn resize(
        &self,
        req: Request<pb::ResizeShellRequest>,
    ) -> Result<Response<pb::ShellSession>, Status> {
        let r = req.into_inner();
        let info = self.0.resize(&r.owner, &r.id, dim(r.cols)?, dim(r.rows)?)?;
        Ok(Response::new(session(info)))
    }

    type AttachStream = Stream<pb::ShellFrame>;

    async fn attach(
        &self,
        req: Request<pb::AttachShellRequest>,
    ) -> Result<Response<Self::AttachStream>, Status> {
        let r = req.into_inner();
        let rx = self.0.attach(&r.owner, &r.id)?;
        let stream =
            tokio_stream::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), |f| {
                use pb::shell_frame::Kind;
                let kind = match f {
                    Frame::Screen(s) => Kind::Screen(s),
                    Frame::Output(o) => Kind::Output(o.to_vec()),
                    Frame::Exit(e) => Kind::Exit(pb::ShellExit {
                        code: e.code,
                        signal: e.signal,
                    }),
                };
                Ok(pb::ShellFrame { kind: Some(kind) })
            });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn list(
        &self,
        req: Request<pb::ListShellsRequest>,
    ) -> Result<Response<pb::ListShellsResponse>, Status> {
        let owner = req.into_inner().owner;
        let sessions = self.0.list(&owner).into_iter().map(session).collect();
        Ok(Response::new(pb::ListShellsResponse { sessions }))
    }

    async fn close(
        &self,
        req: Request<pb::CloseShellRequest>,
    ) -> Result<Response<pb::ShellSession>, Status> {
        let r = req.into_inner();
        Ok(Response::new(session(self.0.close(&r.owner, &r.id).await?)))
    }
}
