//! Calling a peer: [`GrpcLink`].

use std::time::Duration;

use futures_util::StreamExt;
use pb::peer_client::PeerClient;
use portos_instances::AgentEvent;
use portos_instances::link::{AgentFeed, Announce, Identity, LinkError, PeerLink, Target};
use portos_proto::instances::v1 as pb;
use serde_json::Value;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

type Client = PeerClient<InterceptedService<Channel, Bearer>>;

/// Adds the peer credential to every call.
#[derive(Clone)]
struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

/// Peers over `portos.instances.v1`.
#[derive(Debug, Clone, Default)]
pub struct GrpcLink;

fn failure(s: tonic::Status) -> LinkError {
    match s.code() {
        tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => {
            LinkError::Refused(s.message().to_string())
        }
        tonic::Code::Unavailable => LinkError::Unreachable(s.message().to_string()),
        tonic::Code::DeadlineExceeded => LinkError::Timeout(5),
        tonic::Code::Unimplemented => LinkError::Failed(
            "the peer does not speak portos.instances.v1 (an older PortOS?)".into(),
        ),
        _ => LinkError::Failed(s.message().to_string()),
    }
}

fn json(text: &str) -> Result<Value, LinkError> {
    serde_json::from_str(text)
        .map_err(|e| LinkError::Failed(format!("the peer's answer is not JSON: {e}")))
}

async fn connect(to: &Target) -> Result<Client, LinkError> {
    let url = to.url();
    let endpoint = tonic::transport::Endpoint::from_shared(url.clone())
        .map_err(|e| LinkError::Failed(format!("bad peer address {url}: {e}")))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(5));
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| LinkError::Unreachable(format!("{url}: {}", source_of(&e))))?;
    let header = format!("Bearer {}", to.token)
        .parse()
        .map_err(|_| LinkError::Failed("the credential is not a header value".into()))?;
    Ok(PeerClient::with_interceptor(channel, Bearer(header)))
}

/// The innermost cause (tonic's own message is only "transport error").
fn source_of(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn identity(i: pb::InstanceIdentity) -> Identity {
    Identity {
        instance_id: i.instance_id,
        name: i.name,
        port: u16::try_from(i.port).unwrap_or(0),
    }
}

#[async_trait::async_trait]
impl PeerLink for GrpcLink {
    async fn announce(&self, to: &Target, me: &Announce) -> Result<Identity, LinkError> {
        let req = pb::AnnounceRequest {
            instance_id: me.me.instance_id.clone(),
            name: me.me.name.clone(),
            port: u32::from(me.me.port),
            token: me.token.clone(),
        };
        let r = connect(to).await?.announce(req).await.map_err(failure)?;
        Ok(identity(r.into_inner().self_.unwrap_or_default()))
    }

    async fn identity(&self, to: &Target) -> Result<Identity, LinkError> {
        let r = connect(to)
            .await?
            .identity(pb::IdentityRequest {})
            .await
            .map_err(failure)?;
        Ok(identity(r.into_inner()))
    }

    async fn health(&self, to: &Target) -> Result<Value, LinkError> {
        let r = connect(to)
            .await?
            .health(pb::HealthRequest {})
            .await
            .map_err(failure)?;
        json(&r.into_inner().json)
    }

    async fn apps(&self, to: &Target) -> Result<Value, LinkError> {
        let r = connect(to)
            .await?
            .apps(pb::AppsRequest {})
            .await
            .map_err(failure)?;
        json(&r.into_inner().apps_json)
    }

    async fn query(&self, to: &Target, path: &str) -> Result<(u16, Value), LinkError> {
        let req = pb::QueryRequest { path: path.into() };
        let r = connect(to)
            .await?
            .query(req)
            .await
            .map_err(failure)?
            .into_inner();
        Ok((u16::try_from(r.status).unwrap_or(500), json(&r.json)?))
    }

    async fn agents(&self, to: &Target) -> Result<AgentFeed, LinkError> {
        // A stream has no deadline: a fresh channel without the call timeout.
        let url = to.url();
        let channel = tonic::transport::Endpoint::from_shared(url.clone())
            .map_err(|e| LinkError::Failed(format!("bad peer address {url}: {e}")))?
            .connect_timeout(Duration::from_secs(3))
            .http2_keep_alive_interval(Duration::from_secs(20))
            .keep_alive_timeout(Duration::from_secs(10))
            .connect()
            .await
            .map_err(|e| LinkError::Unreachable(format!("{url}: {}", source_of(&e))))?;
        let header = format!("Bearer {}", to.token)
            .parse()
            .map_err(|_| LinkError::Failed("the credential is not a header value".into()))?;
        let stream = PeerClient::with_interceptor(channel, Bearer(header))
            .watch_agents(pb::WatchAgentsRequest {})
            .await
            .map_err(failure)?
            .into_inner();
        Ok(Box::pin(stream.filter_map(|ev| async move {
            let ev = ev.ok()?;
            let agent = || serde_json::from_str(&ev.agent_json).unwrap_or(Value::Null);
            Some(match ev.kind.as_str() {
                "spawned" => AgentEvent::Spawned(agent()),
                "updated" => AgentEvent::Updated(agent()),
                "completed" => AgentEvent::Completed(agent()),
                "output" => AgentEvent::Output {
                    agent_id: ev.agent_id,
                    text: ev.text,
                },
                _ => return None,
            })
        })))
    }
}
