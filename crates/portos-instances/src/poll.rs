//! Probing peers: one probe asks a peer its health details and its apps
//! within [`BUDGET`](crate::BUDGET); the poll probes every enabled, paired
//! peer in parallel, first 2 s after start, then at every interval, and says
//! `instances:peers:updated` after each round. A peer that misses is
//! `offline` with the reason and keeps what it last said; an online one has
//! its agents relayed, and is announced to when the link is not yet mutual.

use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::file::{OUTBOUND, Status};
use crate::{BUDGET, Instances, LinkError, Result, Target, settle_announce};

/// The seven display fields the original keeps of each app.
const APP_FIELDS: [&str; 7] = [
    "id",
    "name",
    "icon",
    "overallStatus",
    "uiPort",
    "apiPort",
    "type",
];

fn display_fields(apps: &Value) -> Value {
    let list = apps
        .as_array()
        .or_else(|| apps.get("apps").and_then(Value::as_array))
        .cloned()
        .unwrap_or_default();
    Value::Array(
        list.iter()
            .map(|a| {
                let mut o = serde_json::Map::new();
                for f in APP_FIELDS {
                    o.insert(f.into(), a.get(f).cloned().unwrap_or(Value::Null));
                }
                Value::Object(o)
            })
            .collect(),
    )
}

/// The interval of the poll: `PORTOS_INSTANCES_POLL_SECS` (1–3600), else 30 s.
pub fn interval_from_env() -> Duration {
    let secs = std::env::var("PORTOS_INSTANCES_POLL_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| (1..=3600).contains(s))
        .unwrap_or(30);
    Duration::from_secs(secs)
}

impl Instances {
    async fn ask(&self, t: &Target) -> Result<(Value, Value), LinkError> {
        let link = &self.inner.link;
        let both = async { Ok::<_, LinkError>((link.health(t).await?, link.apps(t).await?)) };
        match tokio::time::timeout(BUDGET, both).await {
            Ok(r) => r,
            Err(_) => Err(LinkError::Timeout(BUDGET.as_secs())),
        }
    }

    /// Probes one peer now; the peer as answered. A peer that needs pairing
    /// is left as it is.
    pub async fn probe(&self, id: &str) -> Result<Value> {
        let peer = self.stored(id).await?;
        let Some(target) = self.target(&peer) else {
            return self.peer(id).await;
        };
        let answer = self.ask(&target).await;
        let now = portos_core::time::now_iso();
        let stored = self
            .update(|f| {
                let Some(p) = f.peers.iter_mut().find(|p| p.id == id) else {
                    return Ok(None);
                };
                match &answer {
                    Ok((health, apps)) => {
                        p.status = Status::Online;
                        p.last_seen = Some(now);
                        p.last_health = Some(health.clone());
                        p.last_apps = Some(display_fields(apps));
                        p.last_error = None;
                        if let Some(i) = health.get("instanceId").and_then(Value::as_str) {
                            p.instance_id = Some(i.to_string());
                        }
                    }
                    Err(e) => {
                        p.status = Status::Offline;
                        p.last_error = Some(e.to_string());
                    }
                }
                Ok(Some(p.clone()))
            })
            .await?;
        let Some(p) = stored else {
            return self.peer(id).await;
        };
        match &answer {
            Ok(_) => {
                if !p.directions.iter().any(|d| d == OUTBOUND) {
                    let outcome = self.announce_to(&p, &target.token).await;
                    if outcome.is_ok() {
                        self.update(|f| {
                            if let Some(p) = f.peers.iter_mut().find(|p| p.id == id) {
                                settle_announce(p, &outcome, false);
                            }
                            Ok(())
                        })
                        .await?;
                    }
                }
                self.inner.relays.ensure(
                    &p.id,
                    target,
                    self.inner.link.clone(),
                    self.inner.events.clone(),
                );
            }
            Err(e) => {
                tracing::info!(peer = %p.id, address = %p.address, port = p.port, reason = %e, "peer offline");
                self.inner.relays.stop(&p.id, &*self.inner.events);
            }
        }
        self.peer(id).await
    }

    /// Probes every enabled, paired peer in parallel, then says the whole list.
    pub async fn probe_all(&self) -> Result<()> {
        let f = self.load().await?;
        let ids: Vec<String> = f
            .peers
            .iter()
            .filter(|p| p.enabled && self.inner.keys.call_token(&p.id).is_some())
            .map(|p| p.id.clone())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let probes = ids.iter().map(|id| self.probe(id));
        for (id, r) in ids.iter().zip(futures_util::future::join_all(probes).await) {
            if let Err(e) = r {
                tracing::warn!(peer = %id, error = %e, "peer not probed");
            }
        }
        self.emit_all().await;
        Ok(())
    }

    /// The poll, until `shutdown`: the identity made, then a round 2 s after
    /// start and one every `every`.
    pub async fn run(self, every: Duration, shutdown: CancellationToken) {
        if let Err(e) = self.ensure_self().await {
            tracing::warn!(error = %e, "no instance identity");
        }
        let mut next = tokio::time::Instant::now() + Duration::from_secs(2);
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(next) => {}
                () = shutdown.cancelled() => break,
            }
            if let Err(e) = self.probe_all().await {
                tracing::warn!(error = %e, "peers not polled");
            }
            next = tokio::time::Instant::now() + every;
        }
        self.inner.relays.stop_all();
    }
}

/// `{ self, peers }` is [`Instances::list`]; this is what a peer says of its
/// own apps: the display fields only.
pub fn apps_for_peer(apps: &Value) -> Value {
    json!(display_fields(apps))
}
