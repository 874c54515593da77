//! `portos.autofixer.v1` over the healer: each method parses, calls one
//! healer function and shapes the answer; the one conversion of its errors.

use std::pin::Pin;

use futures_util::{Stream, StreamExt};
use portos_core::Kind;
use portos_healer::{Healer, HealerError};
use portos_proto::autofixer::v1 as pb;
use tonic::{Request, Response, Status};

struct Rpc(Healer);

pub fn routes(healer: Healer) -> (tonic::service::Routes, Vec<&'static str>) {
    (
        tonic::service::Routes::new(pb::autofixer_server::AutofixerServer::new(Rpc(healer))),
        vec!["portos.autofixer.v1.Autofixer"],
    )
}

/// The one conversion of the healer's errors.
fn status(e: HealerError) -> Status {
    match e {
        HealerError::Problem(p) => {
            let code = match p.kind {
                Kind::Invalid | Kind::Unprocessable => tonic::Code::InvalidArgument,
                Kind::NotFound => tonic::Code::NotFound,
                Kind::Conflict => tonic::Code::AlreadyExists,
                Kind::Unavailable | Kind::BadGateway => tonic::Code::Unavailable,
                Kind::Forbidden => tonic::Code::PermissionDenied,
                Kind::Unauthenticated => tonic::Code::Unauthenticated,
                Kind::TooMany => tonic::Code::ResourceExhausted,
                Kind::Internal => tonic::Code::Internal,
            };
            Status::new(code, format!("{}: {}", p.code, p.message))
        }
        HealerError::Store(s) => Status::internal(s.to_string()),
    }
}

fn status_of(v: &serde_json::Value) -> pb::Status {
    pb::Status {
        enabled: v["enabled"].as_bool().unwrap_or(false),
        state: v["state"].as_str().unwrap_or_default().to_string(),
        fixing: v["fixing"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| pb::Fixing {
                process: f["process"].as_str().unwrap_or_default().to_string(),
                session_id: f["sessionId"].as_str().unwrap_or_default().to_string(),
                started_ms: f["startedMs"].as_u64().unwrap_or(0),
            })
            .collect(),
        processes: v["processes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| pb::Standing {
                process: s["process"].as_str().unwrap_or_default().to_string(),
                state: s["state"].as_str().unwrap_or_default().to_string(),
                until_ms: s["untilMs"].as_u64().unwrap_or(0),
                crashes_in_window: s["crashesInWindow"].as_u64().unwrap_or(0) as u32,
                attempts_today: s["attemptsToday"].as_u64().unwrap_or(0) as u32,
            })
            .collect(),
    }
}

fn config_msg(c: &portos_healer::Config) -> pb::Config {
    pb::Config {
        json: serde_json::to_string(c).unwrap_or_default(),
    }
}

type Events = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

#[tonic::async_trait]
impl pb::autofixer_server::Autofixer for Rpc {
    async fn status(&self, _: Request<pb::StatusRequest>) -> Result<Response<pb::Status>, Status> {
        Ok(Response::new(status_of(&self.0.status())))
    }

    async fn history(
        &self,
        _: Request<pb::HistoryRequest>,
    ) -> Result<Response<pb::HistoryResponse>, Status> {
        let entries = self.0.history().await.map_err(status)?;
        Ok(Response::new(pb::HistoryResponse {
            entries_json: entries.iter().map(ToString::to_string).collect(),
        }))
    }

    async fn get_session(
        &self,
        r: Request<pb::SessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let s = self
            .0
            .session(&r.into_inner().session_id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::Session {
            json: s.to_string(),
        }))
    }

    async fn trigger(
        &self,
        r: Request<pb::TriggerRequest>,
    ) -> Result<Response<pb::TriggerResponse>, Status> {
        let session_id = self
            .0
            .trigger(&r.into_inner().process)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::TriggerResponse { session_id }))
    }

    async fn pause(&self, _: Request<pb::PauseRequest>) -> Result<Response<pb::Status>, Status> {
        self.0.set_enabled(false).await.map_err(status)?;
        Ok(Response::new(status_of(&self.0.status())))
    }

    async fn resume(&self, _: Request<pb::PauseRequest>) -> Result<Response<pb::Status>, Status> {
        self.0.set_enabled(true).await.map_err(status)?;
        Ok(Response::new(status_of(&self.0.status())))
    }

    async fn get_config(
        &self,
        _: Request<pb::ConfigRequest>,
    ) -> Result<Response<pb::Config>, Status> {
        Ok(Response::new(config_msg(&self.0.config())))
    }

    async fn set_config(&self, r: Request<pb::Config>) -> Result<Response<pb::Config>, Status> {
        let v: serde_json::Value = serde_json::from_str(&r.into_inner().json)
            .map_err(|e| Status::invalid_argument(format!("VALIDATION_ERROR: not JSON: {e}")))?;
        let c = self.0.set_config(v).await.map_err(status)?;
        Ok(Response::new(config_msg(&c)))
    }

    type EventsStream = Events;

    async fn events(
        &self,
        _: Request<pb::EventsRequest>,
    ) -> Result<Response<Self::EventsStream>, Status> {
        let rx = self.0.subscribe();
        let s = tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(|e| async move {
            // A follower that fell behind skips what it missed.
            e.ok().map(|e| {
                Ok(pb::Event {
                    kind: e.kind.to_string(),
                    json: e.data.to_string(),
                    at_ms: e.at_ms,
                })
            })
        });
        Ok(Response::new(Box::pin(s)))
    }
}
