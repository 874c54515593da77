//! `portos.api.v1.Events`: the live-event hub as a gRPC stream.

use std::pin::Pin;

use tonic::{Request, Response, Status};

use portos_proto::api::v1 as pb;

use crate::AppState;

/// `portos.api.v1.Events`: the hub's events for the asked channels.
#[derive(Debug, Clone)]
pub struct EventsRpc(pub(super) AppState);

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
