//! The gRPC face of the api server: the same operations as the REST routes,
//! calling the same functions, converted to `portos.api.v1` here and only here.

use std::pin::Pin;

use portos_proto::api::v1 as pb;
use portos_store::types::HistoryEntry;
use tonic::{Request, Response, Status};

use crate::AppState;
use crate::routes::history;

/// Every gRPC service of the api server, and their names for reflection.
pub fn routes(app: AppState) -> (tonic::service::Routes, Vec<&'static str>) {
    let routes = tonic::service::Routes::new(pb::history_server::HistoryServer::new(HistoryRpc(
        app.clone(),
    )))
    .add_service(pb::events_server::EventsServer::new(EventsRpc(app)));
    (
        routes,
        vec!["portos.api.v1.History", "portos.api.v1.Events"],
    )
}

fn entry_to_proto(e: &HistoryEntry) -> pb::HistoryEntry {
    pb::HistoryEntry {
        id: e.id.clone(),
        action: e.action.clone(),
        target: e.target.clone(),
        target_name: e.target_name.clone(),
        details_json: e.details.to_string(),
        success: e.success,
        error: e.error.clone(),
        timestamp: e.timestamp.clone(),
    }
}

/// `portos.api.v1.History`.
#[derive(Debug, Clone)]
pub struct HistoryRpc(AppState);

#[tonic::async_trait]
impl pb::history_server::History for HistoryRpc {
    async fn list(
        &self,
        req: Request<pb::ListHistoryRequest>,
    ) -> Result<Response<pb::ListHistoryResponse>, Status> {
        let r = req.into_inner();
        let f = history::Filter {
            limit: if r.limit == 0 { 100 } else { r.limit as usize },
            offset: r.offset as usize,
            action: r.action,
            target: r.target,
            success: r.success,
        };
        let page = history::query(&self.0, &f)
            .await
            .map_err(|e| e.to_status())?;
        Ok(Response::new(pb::ListHistoryResponse {
            total: page.total as u32,
            entries: page.entries().map(entry_to_proto).collect(),
        }))
    }

    async fn stats(
        &self,
        _req: Request<pb::HistoryStatsRequest>,
    ) -> Result<Response<pb::HistoryStats>, Status> {
        let s = history::compute_stats(&self.0)
            .await
            .map_err(|e| e.to_status())?;
        Ok(Response::new(pb::HistoryStats {
            total: s.total as u32,
            success_rate: s.success_percent(),
            last_24h: s.last24h as u32,
            by_action: s
                .by_action
                .into_iter()
                .map(|(k, v)| (k, v as u32))
                .collect(),
        }))
    }

    async fn delete(
        &self,
        req: Request<pb::DeleteHistoryRequest>,
    ) -> Result<Response<pb::DeleteHistoryResponse>, Status> {
        let id = req.into_inner().id;
        if id.is_empty() {
            return Err(Status::invalid_argument("id is required"));
        }
        let deleted = history::delete(&self.0, &id)
            .await
            .map_err(|e| e.to_status())?;
        if !deleted {
            return Err(Status::not_found(format!("no history entry {id:?}")));
        }
        Ok(Response::new(pb::DeleteHistoryResponse { deleted }))
    }

    async fn clear(
        &self,
        req: Request<pb::ClearHistoryRequest>,
    ) -> Result<Response<pb::ClearHistoryResponse>, Status> {
        let days = req.into_inner().older_than_days.map(u64::from);
        history::clear_older_than(&self.0, days)
            .await
            .map_err(|e| e.to_status())?;
        Ok(Response::new(pb::ClearHistoryResponse {}))
    }
}

/// `portos.api.v1.Events`: the hub's events for the asked channels.
#[derive(Debug, Clone)]
pub struct EventsRpc(AppState);

type EventStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::LiveEvent, Status>> + Send>>;

#[tonic::async_trait]
impl pb::events_server::Events for EventsRpc {
    type SubscribeStream = EventStream;

    async fn subscribe(
        &self,
        req: Request<pb::SubscribeRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let hub = self.0.hub.clone();
        let mut sub = hub.connect();
        for ch in &req.into_inner().channels {
            if hub.set_subscribed(sub.id, ch, true).is_none() {
                hub.disconnect(sub.id);
                return Err(Status::invalid_argument(format!(
                    "unknown channel {ch:?}; channels: {}",
                    crate::events::CHANNELS.join(", ")
                )));
            }
        }
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            while let Some(next) = sub.next().await {
                let item = match next {
                    Ok(text) => {
                        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                        Ok(pb::LiveEvent {
                            event: v["event"].as_str().unwrap_or_default().to_string(),
                            data_json: v["data"].to_string(),
                        })
                    }
                    Err(reason) => Err(Status::resource_exhausted(reason)),
                };
                let end = item.is_err();
                if tx.send(item).await.is_err() || end {
                    break;
                }
            }
            hub.disconnect(sub.id);
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}
