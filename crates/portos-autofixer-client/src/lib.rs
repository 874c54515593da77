//! The autofixer (`portos.autofixer.v1`, 127.0.0.1:5559) as the page servers
//! reach it — the api server's `/api/autofixer` and the autofixer's own page
//! on 5560 — with the internal token. Answers are JSON in the shapes those
//! routes serve, converted here once for both.
//!
//! Owns: the autofixer's address and the one conversion of its messages.
//! Must not depend on: the autofixer itself or any other service crate.

use std::time::Duration;

use pb::autofixer_client::AutofixerClient;
use portos_proto::autofixer::v1 as pb;
use portos_rt::internal::{Auth, Authed};
use serde_json::{Value, json};

pub use tonic::{Code, Status};

/// The autofixer at one address.
#[derive(Debug, Clone)]
pub struct AutofixerLink {
    pub url: String,
    auth: Auth,
}

/// Why a call did not go through: no answer (with the address), or the autofixer's refusal.
#[derive(Debug, Clone)]
pub enum Failure {
    Unreachable(String),
    Refused(Status),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unreachable(why) => f.write_str(why),
            Failure::Refused(s) => f.write_str(s.message()),
        }
    }
}

impl AutofixerLink {
    pub fn new(url: impl Into<String>, auth: Auth) -> Self {
        Self {
            url: url.into(),
            auth,
        }
    }

    async fn client(&self) -> Result<AutofixerClient<Authed>, Failure> {
        let channel = tonic::transport::Endpoint::from_shared(self.url.clone())
            .map_err(|e| Failure::Unreachable(format!("autofixer address {}: {e}", self.url)))?
            .connect_timeout(Duration::from_secs(2))
            .connect()
            .await
            .map_err(|_| {
                Failure::Unreachable(format!(
                    "the autofixer does not answer at {} (is portos-autofixer running?)",
                    self.url
                ))
            })?;
        Ok(AutofixerClient::with_interceptor(
            channel,
            self.auth.clone(),
        ))
    }

    /// `{ enabled, state, fixing, processes }`.
    pub async fn status(&self) -> Result<Value, Failure> {
        let s = self.client().await?.status(pb::StatusRequest {}).await;
        Ok(status_json(&s.map_err(Failure::Refused)?.into_inner()))
    }

    /// `index.json`'s entries, newest first.
    pub async fn history(&self) -> Result<Value, Failure> {
        let h = self.client().await?.history(pb::HistoryRequest {}).await;
        let entries = h.map_err(Failure::Refused)?.into_inner().entries_json;
        Ok(Value::Array(entries.iter().map(|e| parsed(e)).collect()))
    }

    /// One session's metadata with its prompt and output.
    pub async fn session(&self, id: String) -> Result<Value, Failure> {
        let s = self
            .client()
            .await?
            .get_session(pb::SessionRequest { session_id: id })
            .await;
        Ok(parsed(&s.map_err(Failure::Refused)?.into_inner().json))
    }

    /// Fix `process` now; `{ sessionId }`.
    pub async fn trigger(&self, process: String) -> Result<Value, Failure> {
        let r = self
            .client()
            .await?
            .trigger(pb::TriggerRequest { process })
            .await;
        Ok(json!({ "sessionId": r.map_err(Failure::Refused)?.into_inner().session_id }))
    }

    /// Pause (`false`) or resume (`true`); the status.
    pub async fn set_enabled(&self, enabled: bool) -> Result<Value, Failure> {
        let mut c = self.client().await?;
        let s = if enabled {
            c.resume(pb::PauseRequest {}).await
        } else {
            c.pause(pb::PauseRequest {}).await
        };
        Ok(status_json(&s.map_err(Failure::Refused)?.into_inner()))
    }

    pub async fn config(&self) -> Result<Value, Failure> {
        let c = self.client().await?.get_config(pb::ConfigRequest {}).await;
        Ok(parsed(&c.map_err(Failure::Refused)?.into_inner().json))
    }

    pub async fn set_config(&self, v: &Value) -> Result<Value, Failure> {
        let json = v.to_string();
        let c = self.client().await?.set_config(pb::Config { json }).await;
        Ok(parsed(&c.map_err(Failure::Refused)?.into_inner().json))
    }

    /// The live events as `(kind, data, at_ms)`, until the stream ends.
    pub async fn events(&self) -> Result<Events, Failure> {
        let s = self.client().await?.events(pb::EventsRequest {}).await;
        Ok(Events(s.map_err(Failure::Refused)?.into_inner()))
    }
}

/// The autofixer's event stream.
pub struct Events(tonic::Streaming<pb::Event>);

impl Events {
    /// The next event, `None` when the stream ended or broke.
    pub async fn next(&mut self) -> Option<(String, Value, u64)> {
        let e = self.0.message().await.ok()??;
        Some((e.kind, parsed(&e.json), e.at_ms))
    }
}

fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The one conversion of the autofixer's status.
fn status_json(s: &pb::Status) -> Value {
    json!({
        "enabled": s.enabled,
        "state": s.state,
        "fixing": s.fixing.iter().map(|f| json!({ "process": f.process, "sessionId": f.session_id, "startedMs": f.started_ms })).collect::<Vec<_>>(),
        "processes": s.processes.iter().map(|p| json!({ "process": p.process, "state": p.state, "untilMs": (p.until_ms > 0).then_some(p.until_ms), "crashesInWindow": p.crashes_in_window, "attemptsToday": p.attempts_today })).collect::<Vec<_>>(),
    })
}
