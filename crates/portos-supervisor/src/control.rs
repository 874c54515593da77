//! The `portos.supervisor.v1.Supervisor` service on a Unix socket, with
//! `grpc.health.v1` and server reflection beside it. The only module that knows
//! the wire types: supervisor values are converted here, in one place.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{SystemTime, UNIX_EPOCH};

use pb::supervisor_server::{Supervisor as SupervisorRpc, SupervisorServer};
use portos_proto::supervisor::v1 as pb;
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::{Request, Response, Status};

use crate::{
    Action, Event, EventKind, ExitStatus, Health, LogLine, ProcessInfo, State, Stream, Supervisor,
    SupervisorError,
};

type BoxStream<T> = Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send>>;

/// Binds the control socket at `path` (mode 0600, created atomically under a
/// temporary name and renamed into place) and serves until the supervisor shuts down.
pub async fn serve(sup: Supervisor, path: &Path) -> Result<(), SupervisorError> {
    let io = |what: String| move |source| SupervisorError::Io { what, source };
    let tmp: PathBuf = path.with_extension(format!("sock.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let listener = tokio::net::UnixListener::bind(&tmp)
        .map_err(io(format!("cannot bind {}", tmp.display())))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .map_err(io(format!("cannot restrict {}", tmp.display())))?;
    }
    std::fs::rename(&tmp, path).map_err(io(format!("cannot place {}", path.display())))?;

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<SupervisorServer<ControlService>>()
        .await;
    let routes = tonic::service::Routes::new(health)
        .add_service(SupervisorServer::new(ControlService { sup: sup.clone() }));
    let routes =
        portos_rt::with_reflection(routes, &["portos.supervisor.v1.Supervisor"]).map_err(|e| {
            SupervisorError::Io {
                what: "reflection".into(),
                source: std::io::Error::other(e),
            }
        })?;
    let token = sup.shutdown_token();
    tonic::transport::Server::builder()
        .add_routes(routes)
        .serve_with_incoming_shutdown(UnixListenerStream::new(listener), token.cancelled_owned())
        .await
        .map_err(|e| SupervisorError::Io {
            what: "control socket".into(),
            source: std::io::Error::other(e),
        })
}

/// The control service over a running supervisor.
#[derive(Debug, Clone)]
pub struct ControlService {
    sup: Supervisor,
}

impl ControlService {
    pub fn new(sup: Supervisor) -> Self {
        Self { sup }
    }

    async fn act(
        &self,
        action: Action,
        req: Request<pb::ControlRequest>,
    ) -> Result<Response<pb::ControlResponse>, Status> {
        let name = req.into_inner().name;
        if name.trim().is_empty() {
            return Err(Status::invalid_argument(
                "name is required: a process name or \"all\"",
            ));
        }
        let infos = self.sup.control(action, &name).await.map_err(to_status)?;
        Ok(Response::new(pb::ControlResponse {
            processes: infos.iter().map(to_proto).collect(),
        }))
    }
}

fn to_status(e: SupervisorError) -> Status {
    match e {
        SupervisorError::NotFound(_) => Status::not_found(e.to_string()),
        SupervisorError::Invalid(_) => Status::invalid_argument(e.to_string()),
        SupervisorError::ShuttingDown => Status::unavailable(e.to_string()),
        SupervisorError::Io { .. } => Status::internal(e.to_string()),
    }
}

#[tonic::async_trait]
impl SupervisorRpc for ControlService {
    async fn list_processes(
        &self,
        _req: Request<pb::ListProcessesRequest>,
    ) -> Result<Response<pb::ListProcessesResponse>, Status> {
        Ok(Response::new(pb::ListProcessesResponse {
            processes: self.sup.list().iter().map(to_proto).collect(),
        }))
    }

    async fn get_process(
        &self,
        req: Request<pb::GetProcessRequest>,
    ) -> Result<Response<pb::Process>, Status> {
        let info = self.sup.get(&req.into_inner().name).map_err(to_status)?;
        Ok(Response::new(to_proto(&info)))
    }

    async fn start(
        &self,
        req: Request<pb::ControlRequest>,
    ) -> Result<Response<pb::ControlResponse>, Status> {
        self.act(Action::Start, req).await
    }

    async fn stop(
        &self,
        req: Request<pb::ControlRequest>,
    ) -> Result<Response<pb::ControlResponse>, Status> {
        self.act(Action::Stop, req).await
    }

    async fn restart(
        &self,
        req: Request<pb::ControlRequest>,
    ) -> Result<Response<pb::ControlResponse>, Status> {
        self.act(Action::Restart, req).await
    }

    type LogsStream = BoxStream<pb::LogLine>;

    async fn logs(
        &self,
        req: Request<pb::LogsRequest>,
    ) -> Result<Response<Self::LogsStream>, Status> {
        let req = req.into_inner();
        let name = match req.name.as_str() {
            "" => None,
            // `group:name` names the same process.
            n => Some(self.sup.get(n).map_err(to_status)?.name),
        };
        // Subscribe before reading the tail, then skip what the tail already sent.
        let follow = req.follow.then(|| self.sup.logs().subscribe());
        let tail = self.sup.logs().tail(name.as_deref(), req.tail as usize);
        let last_seq = tail.last().map(|l| l.seq);
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<pb::LogLine, Status>>(256);
        let token = self.sup.shutdown_token();
        tokio::spawn(async move {
            for l in &tail {
                if tx.send(Ok(line_to_proto(l))).await.is_err() {
                    return;
                }
            }
            let Some(mut follow) = follow else { return };
            loop {
                let next = tokio::select! {
                    n = follow.recv() => n,
                    () = token.cancelled() => return,
                    () = tx.closed() => return,
                };
                match next {
                    Ok(l) => {
                        if last_seq.is_some_and(|s| l.seq <= s) {
                            continue;
                        }
                        if name.as_deref().is_some_and(|n| n != &*l.process) {
                            continue;
                        }
                        if tx.send(Ok(line_to_proto(&l))).await.is_err() {
                            return;
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        let note = pb::LogLine {
                            process: name.clone().unwrap_or_default(),
                            stream: pb::Stream::Stderr as i32,
                            timestamp: crate::logs::now_stamp(),
                            text: format!(
                                "[portos] {n} lines skipped: the reader fell behind (they are in the log files)"
                            ),
                        };
                        if tx.send(Ok(note)).await.is_err() {
                            return;
                        }
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    type EventsStream = BoxStream<pb::Event>;

    async fn events(
        &self,
        req: Request<pb::EventsRequest>,
    ) -> Result<Response<Self::EventsStream>, Status> {
        let mut events = self.sup.events();
        let snapshot: Vec<pb::Event> = if req.into_inner().snapshot {
            self.sup.list().iter().map(snapshot_event).collect()
        } else {
            Vec::new()
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<pb::Event, Status>>(256);
        let token = self.sup.shutdown_token();
        tokio::spawn(async move {
            for e in snapshot {
                if tx.send(Ok(e)).await.is_err() {
                    return;
                }
            }
            loop {
                let next = tokio::select! {
                    n = events.recv() => n,
                    () = token.cancelled() => return,
                    () = tx.closed() => return,
                };
                match next {
                    Ok(e) => {
                        if tx.send(Ok(event_to_proto(&e))).await.is_err() {
                            return;
                        }
                    }
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                }
            }
        });
        let stream: BoxStream<pb::Event> =
            Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx));
        Ok(Response::new(stream))
    }

    async fn shutdown(
        &self,
        _req: Request<pb::ShutdownRequest>,
    ) -> Result<Response<pb::ShutdownResponse>, Status> {
        self.sup.request_shutdown();
        Ok(Response::new(pb::ShutdownResponse {}))
    }

    async fn apply(
        &self,
        req: Request<pb::ApplyRequest>,
    ) -> Result<Response<pb::ApplyResponse>, Status> {
        let req = req.into_inner();
        let source = PathBuf::from(&req.source);
        if !source.is_absolute() {
            return Err(Status::invalid_argument(format!(
                "source must be an absolute path, not {:?}",
                req.source
            )));
        }
        let root = match req.root.as_str() {
            "" => source.parent().map(Path::to_path_buf).unwrap_or_default(),
            r => PathBuf::from(r),
        };
        let applied = self
            .sup
            .apply_text(&req.group, &req.toml, &source, &root)
            .await
            .map_err(to_status)?;
        Ok(Response::new(applied_to_proto(applied)))
    }

    async fn remove_group(
        &self,
        req: Request<pb::RemoveGroupRequest>,
    ) -> Result<Response<pb::ApplyResponse>, Status> {
        let group = req.into_inner().group;
        if group == portos_config::PORTOS_GROUP {
            return Err(Status::invalid_argument(
                "the portos group is PortOS itself: stop it with `portos down`",
            ));
        }
        let applied = self.sup.remove_group(&group).await.map_err(to_status)?;
        Ok(Response::new(applied_to_proto(applied)))
    }
}

fn applied_to_proto(a: crate::Applied) -> pb::ApplyResponse {
    pb::ApplyResponse {
        started: a.started,
        restarted: a.restarted,
        stopped: a.stopped,
        unchanged: a.unchanged,
    }
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn state_to_proto(s: State) -> pb::State {
    match s {
        State::Starting => pb::State::Starting,
        State::Healthy => pb::State::Healthy,
        State::Unhealthy => pb::State::Unhealthy,
        State::Backoff => pb::State::Backoff,
        State::Stopping => pb::State::Stopping,
        State::Stopped => pb::State::Stopped,
        State::Errored => pb::State::Errored,
    }
}

fn health_to_proto(h: Health) -> pb::Health {
    match h {
        Health::None => pb::Health::None,
        Health::Unknown => pb::Health::Unknown,
        Health::Serving => pb::Health::Serving,
        Health::NotServing => pb::Health::NotServing,
    }
}

fn exit_parts(e: Option<ExitStatus>) -> (Option<i32>, Option<i32>) {
    match e {
        Some(ExitStatus::Code(c)) => (Some(c), None),
        Some(ExitStatus::Signal(s)) => (None, Some(s)),
        None => (None, None),
    }
}

/// A process snapshot on the wire.
pub fn to_proto(i: &ProcessInfo) -> pb::Process {
    let (code, signal) = exit_parts(i.last_exit);
    pb::Process {
        name: i.name.clone(),
        pid: i.pid.unwrap_or(0),
        state: state_to_proto(i.state) as i32,
        health: health_to_proto(i.health) as i32,
        reason: i.reason.clone(),
        uptime_ms: i.uptime().as_millis() as u64,
        restarts: i.restarts,
        unstable_restarts: i.unstable_restarts,
        memory_bytes: i.memory_bytes,
        cpu_percent: i.cpu_percent,
        ports: i
            .ports
            .iter()
            .map(|(label, port)| pb::Port {
                label: label.clone(),
                port: u32::from(*port),
            })
            .collect(),
        started_at_ms: i.started_at.map(millis).unwrap_or(0),
        last_exit_code: code,
        last_exit_signal: signal,
        command: i.command.clone(),
        group: i.group.clone(),
        min_uptime_ms: i.min_uptime.as_millis() as u64,
    }
}

fn line_to_proto(l: &LogLine) -> pb::LogLine {
    pb::LogLine {
        process: l.process.to_string(),
        stream: match l.stream {
            Stream::Stdout => pb::Stream::Stdout,
            Stream::Stderr => pb::Stream::Stderr,
        } as i32,
        timestamp: l.timestamp.to_string(),
        text: l.text.to_string(),
    }
}

fn event_to_proto(e: &Event) -> pb::Event {
    let (code, signal) = exit_parts(e.exit);
    pb::Event {
        process: e.process.clone(),
        kind: match e.kind {
            EventKind::Started => pb::EventKind::Started,
            EventKind::Exited => pb::EventKind::Exited,
            EventKind::Restarting => pb::EventKind::Restarting,
            EventKind::Healthy => pb::EventKind::Healthy,
            EventKind::Unhealthy => pb::EventKind::Unhealthy,
            EventKind::Errored => pb::EventKind::Errored,
            EventKind::Stopping => pb::EventKind::Stopping,
            EventKind::Stopped => pb::EventKind::Stopped,
        } as i32,
        state: state_to_proto(e.state) as i32,
        pid: e.pid.unwrap_or(0),
        exit_code: code,
        exit_signal: signal,
        reason: e.reason.clone(),
        delay_ms: e.delay.as_millis() as u64,
        at_ms: millis(e.at),
        group: e.group.clone(),
    }
}

/// The current state of a process, as an event (kind unspecified).
fn snapshot_event(i: &ProcessInfo) -> pb::Event {
    let (code, signal) = exit_parts(i.last_exit);
    pb::Event {
        process: i.name.clone(),
        kind: pb::EventKind::Unspecified as i32,
        state: state_to_proto(i.state) as i32,
        pid: i.pid.unwrap_or(0),
        exit_code: code,
        exit_signal: signal,
        reason: i.reason.clone(),
        delay_ms: 0,
        at_ms: millis(SystemTime::now()),
        group: i.group.clone(),
    }
}
