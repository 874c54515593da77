//! Answering peers: [`PeerRpc`].

use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use pb::peer_server::Peer;
use portos_instances::{AgentEvent, Incoming, Instances};
use portos_proto::instances::v1 as pb;
use serde_json::Value;
use tonic::{Request, Response, Status};

use crate::{PeerCall, status};

/// What the server this service runs in knows of its machine.
#[async_trait::async_trait]
pub trait Local: Send + Sync + 'static {
    /// `/api/system/health/details`.
    async fn health(&self) -> Value;
    /// The registered apps (their display fields are taken here).
    async fn apps(&self) -> Value;
    /// One of its own read routes (already checked against the allow-list):
    /// the status and body it answers.
    async fn query(&self, path: &str) -> (u16, Value);
    /// Its agents now, then as they change.
    async fn agents(&self) -> Result<portos_instances::link::AgentFeed, String>;
}

pub struct PeerRpc {
    pub instances: Instances,
    pub local: Arc<dyn Local>,
}

fn caller<T>(req: &Request<T>) -> Result<PeerCall, Status> {
    // Set by the access guard once it has checked the credential; a call
    // that did not pass it has none.
    req.extensions()
        .get::<PeerCall>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("a peer credential is required"))
}

fn answer(status: u16, v: &Value) -> pb::JsonAnswer {
    pb::JsonAnswer {
        status: u32::from(status),
        json: v.to_string(),
    }
}

type AgentStream = Pin<Box<dyn Stream<Item = Result<pb::AgentEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Peer for PeerRpc {
    async fn identity(
        &self,
        req: Request<pb::IdentityRequest>,
    ) -> Result<Response<pb::InstanceIdentity>, Status> {
        caller(&req)?;
        let me = self.instances.ensure_self().await.map_err(status)?;
        Ok(Response::new(pb::InstanceIdentity {
            instance_id: me.instance_id,
            name: me.name,
            port: u32::from(self.instances.port()),
        }))
    }

    async fn announce(
        &self,
        req: Request<pb::AnnounceRequest>,
    ) -> Result<Response<pb::AnnounceResponse>, Status> {
        let call = caller(&req)?;
        let a = req.into_inner();
        self.instances
            .announced(Incoming {
                address: call.address,
                credential: call.credential,
                instance_id: a.instance_id,
                name: a.name,
                port: a.port,
                token: a.token,
            })
            .await
            .map_err(status)?;
        let me = self.instances.ensure_self().await.map_err(status)?;
        Ok(Response::new(pb::AnnounceResponse {
            self_: Some(pb::InstanceIdentity {
                instance_id: me.instance_id,
                name: me.name,
                port: u32::from(self.instances.port()),
            }),
        }))
    }

    async fn health(
        &self,
        req: Request<pb::HealthRequest>,
    ) -> Result<Response<pb::JsonAnswer>, Status> {
        caller(&req)?;
        Ok(Response::new(answer(200, &self.local.health().await)))
    }

    async fn apps(
        &self,
        req: Request<pb::AppsRequest>,
    ) -> Result<Response<pb::AppsResponse>, Status> {
        caller(&req)?;
        let apps = portos_instances::poll::apps_for_peer(&self.local.apps().await);
        Ok(Response::new(pb::AppsResponse {
            apps_json: apps.to_string(),
        }))
    }

    async fn query(
        &self,
        req: Request<pb::QueryRequest>,
    ) -> Result<Response<pb::JsonAnswer>, Status> {
        let call = caller(&req)?;
        let path = req.into_inner().path;
        if !portos_instances::link::query_allowed(&path) {
            tracing::warn!(caller = %call.address, credential = %call.credential, "peer query refused: a path outside the allow-list");
            return Err(Status::permission_denied(format!(
                "only these read routes can be asked: {}",
                portos_instances::link::QUERY_ALLOWED.join(", ")
            )));
        }
        let (code, body) = self.local.query(&path).await;
        Ok(Response::new(answer(code, &body)))
    }

    type WatchAgentsStream = AgentStream;

    async fn watch_agents(
        &self,
        req: Request<pb::WatchAgentsRequest>,
    ) -> Result<Response<AgentStream>, Status> {
        caller(&req)?;
        let feed = self.local.agents().await.map_err(Status::unavailable)?;
        let out = feed.map(|ev| {
            let (kind, agent, agent_id, text) = match ev {
                AgentEvent::Spawned(a) => ("spawned", a, String::new(), String::new()),
                AgentEvent::Updated(a) => ("updated", a, String::new(), String::new()),
                AgentEvent::Completed(a) => ("completed", a, String::new(), String::new()),
                AgentEvent::Output { agent_id, text } => ("output", Value::Null, agent_id, text),
            };
            Ok(pb::AgentEvent {
                kind: kind.into(),
                agent_json: agent.to_string(),
                agent_id,
                text,
            })
        });
        Ok(Response::new(Box::pin(out)))
    }
}
