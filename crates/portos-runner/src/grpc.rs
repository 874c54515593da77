//! `portos.runner.v1.Runner`: the runner's API, converted here and only here.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use portos_proto::runner::v1 as pb;
use tonic::{Request, Response, Status};

use crate::state::{AgentRecord, Phase};
use crate::{DEFAULT_GRACE, Runner, RunnerError, SpawnSpec, StreamKind, iso};

impl From<RunnerError> for Status {
    fn from(e: RunnerError) -> Self {
        match &e {
            RunnerError::Invalid(_) | RunnerError::Spawn { .. } => {
                Status::invalid_argument(e.to_string())
            }
            RunnerError::NotFound(_) => Status::not_found(e.to_string()),
            RunnerError::Running(_) => Status::already_exists(e.to_string()),
            RunnerError::Store(_) | RunnerError::Io(_) => Status::internal(e.to_string()),
        }
    }
}

fn agent_to_proto(id: &str, r: &AgentRecord, output_bytes: u64) -> pb::Agent {
    pb::Agent {
        id: id.to_string(),
        task_id: r.task_id.clone().unwrap_or_default(),
        command: r.command.clone(),
        args: r.args.clone(),
        cwd: r.cwd.clone(),
        pid: r.pid.unwrap_or(0),
        state: match r.phase {
            Phase::Running => pb::AgentState::Running,
            Phase::Exited => pb::AgentState::Exited,
            Phase::Stopped => pb::AgentState::Stopped,
            Phase::Lost => pb::AgentState::Lost,
        } as i32,
        exit_code: r.exit_code,
        signal: r.signal,
        reason: r.reason.clone(),
        started_at: iso(r.started_at),
        ended_at: r.ended_at.map(iso),
        output_bytes,
        pty: r.pty,
    }
}

/// The service over one [`Runner`].
#[derive(Debug, Clone)]
pub struct RunnerRpc(pub Arc<Runner>);

impl RunnerRpc {
    async fn answer(&self, id: &str, r: &AgentRecord) -> pb::Agent {
        let bytes = tokio::fs::metadata(self.0.output_path(id))
            .await
            .map_or(0, |m| m.len());
        agent_to_proto(id, r, bytes)
    }
}

type Stream<T> = Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl pb::runner_server::Runner for RunnerRpc {
    async fn spawn(&self, req: Request<pb::SpawnRequest>) -> Result<Response<pb::Agent>, Status> {
        let r = req.into_inner();
        let spec = SpawnSpec {
            task_id: (!r.task_id.is_empty()).then_some(r.task_id),
            cwd: (!r.cwd.is_empty()).then(|| r.cwd.into()),
            env: r.env.into_iter().collect(),
            id: r.id,
            command: r.command,
            args: r.args,
            stdin: r.stdin,
            pty: r.pty,
        };
        let id = spec.id.clone();
        let record = self.0.spawn(spec).await?;
        Ok(Response::new(self.answer(&id, &record).await))
    }

    async fn list(
        &self,
        _req: Request<pb::ListAgentsRequest>,
    ) -> Result<Response<pb::ListAgentsResponse>, Status> {
        let mut agents = Vec::new();
        for (id, r) in self.0.list().await? {
            agents.push(self.answer(&id, &r).await);
        }
        Ok(Response::new(pb::ListAgentsResponse { agents }))
    }

    async fn get(&self, req: Request<pb::AgentRequest>) -> Result<Response<pb::Agent>, Status> {
        let id = req.into_inner().id;
        let r = self.0.get(&id).await?;
        Ok(Response::new(self.answer(&id, &r).await))
    }

    type OutputStream = Stream<pb::OutputChunk>;

    async fn output(
        &self,
        req: Request<pb::OutputRequest>,
    ) -> Result<Response<Self::OutputStream>, Status> {
        let r = req.into_inner();
        let rx = self.0.output(&r.id, r.from_offset, r.follow).await?;
        let stream =
            tokio_stream::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), |item| {
                item.map(|c| pb::OutputChunk {
                    offset: c.offset,
                    data: c.data,
                    stream: match c.stream {
                        StreamKind::Stdout => pb::Stream::Stdout,
                        StreamKind::Stderr => pb::Stream::Stderr,
                        StreamKind::Pty => pb::Stream::Pty,
                        StreamKind::File => pb::Stream::Unspecified,
                    } as i32,
                })
                .map_err(Status::from)
            });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn stop(&self, req: Request<pb::StopRequest>) -> Result<Response<pb::Agent>, Status> {
        let r = req.into_inner();
        let grace = if r.grace_ms == 0 {
            DEFAULT_GRACE
        } else {
            Duration::from_millis(u64::from(r.grace_ms))
        };
        let record = self.0.stop(&r.id, grace, "stopped by request").await?;
        Ok(Response::new(self.answer(&r.id, &record).await))
    }

    type EventsStream = Stream<pb::AgentEvent>;

    async fn events(
        &self,
        _req: Request<pb::EventsRequest>,
    ) -> Result<Response<Self::EventsStream>, Status> {
        let rx = self.0.subscribe();
        let runner = self.clone();
        let stream = tokio_stream::StreamExt::filter_map(
            tokio_stream::wrappers::BroadcastStream::new(rx),
            |e| e.ok(),
        );
        let stream = tokio_stream::StreamExt::then(stream, move |e| {
            let runner = runner.clone();
            async move {
                Ok(pb::AgentEvent {
                    kind: e.kind.to_string(),
                    agent: Some(runner.answer(&e.id, &e.record).await),
                })
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

/// The routes to serve and their names for reflection.
pub fn routes(
    runner: Arc<Runner>,
    shells: Arc<crate::shell::Shells>,
) -> (tonic::service::Routes, Vec<&'static str>) {
    let routes =
        tonic::service::Routes::new(pb::runner_server::RunnerServer::new(RunnerRpc(runner)))
            .add_service(pb::shell_server::ShellServer::new(
                crate::shell_grpc::ShellRpc(shells),
            ));
    (
        routes,
        vec!["portos.runner.v1.Runner", "portos.runner.v1.Shell"],
    )
}
