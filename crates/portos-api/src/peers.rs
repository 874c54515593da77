//! What this api server tells its peers (`portos.instances.v1.Peer`, over
//! `portos-peer-grpc`): its health details, its apps, its own allow-listed
//! read routes (answered by the same router a browser reaches, as the peer's
//! login) and the runner's agents as a feed.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use futures_util::StreamExt;
use portos_instances::AgentEvent;
use portos_runner_client::feed::FeedEvent;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::AppState;

pub(crate) struct ApiLocal {
    state: AppState,
    /// The REST routes without the access layers (the peer's credential
    /// was checked already), made at the first query.
    router: OnceLock<axum::Router>,
}

/// The peer service of this server.
pub(crate) fn service(
    state: &AppState,
) -> portos_proto::instances::v1::peer_server::PeerServer<portos_peer_grpc::server::PeerRpc> {
    portos_proto::instances::v1::peer_server::PeerServer::new(portos_peer_grpc::server::PeerRpc {
        instances: state.instances.clone(),
        local: Arc::new(ApiLocal {
            state: state.clone(),
            router: OnceLock::new(),
        }),
    })
}

/// `/api/system/health/details` with this instance's id.
pub(crate) async fn health_details(state: &AppState) -> Value {
    let mut v = portos_health::details(&state.apps, state.started).await;
    v["instanceId"] = json!(state.instances.instance_id().await);
    v["cos"] = state.cos.summary().await;
    v
}

#[async_trait::async_trait]
impl portos_peer_grpc::server::Local for ApiLocal {
    async fn health(&self) -> Value {
        health_details(&self.state).await
    }

    async fn apps(&self) -> Value {
        match portos_apps::control::views(&self.state.apps).await {
            Ok(views) => Value::Array(views.into_iter().map(|v| v.record).collect()),
            Err(e) => {
                tracing::warn!(error = %e, "apps not listed for a peer");
                json!([])
            }
        }
    }

    async fn query(&self, path: &str) -> (u16, Value) {
        let router = self
            .router
            .get_or_init(|| crate::router(self.state.clone()))
            .clone();
        let mut req = axum::http::Request::get(path)
            .body(Body::empty())
            .unwrap_or_default();
        req.extensions_mut()
            .insert(portos_login::Login("peer".into()));
        let Ok(resp) = router.oneshot(req).await;
        let status = resp.status().as_u16();
        let body = axum::body::to_bytes(resp.into_body(), 8 << 20)
            .await
            .unwrap_or_default();
        (
            status,
            serde_json::from_slice(&body)
                .unwrap_or_else(|_| json!({ "error": "not JSON", "code": "NOT_JSON" })),
        )
    }

    async fn agents(&self) -> Result<portos_instances::link::AgentFeed, String> {
        let feed = portos_runner_client::GrpcRunner::from_env()
            .feed()
            .await
            .map_err(|e| e.to_string())?;
        Ok(Box::pin(feed.map(|ev| match ev {
            FeedEvent::Spawned(a) => AgentEvent::Spawned(a),
            FeedEvent::Output { id, text } => AgentEvent::Output { agent_id: id, text },
            FeedEvent::Ended(a) => AgentEvent::Completed(a),
        })))
    }
}
