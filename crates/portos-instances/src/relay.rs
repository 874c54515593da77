//! The agents of online peers, relayed live: one feed per peer (opened when a
//! probe finds it online, closed when it goes offline, is disabled or
//! removed), each event said on the `instances` channel as the original's
//! `instances:peer:agent:*`, and the agents kept here with their last
//! [`LINES`] output lines for a page opened later.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use portos_core::Events;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{AgentEvent, CHANNEL, PeerLink, Target};

/// Output lines kept per agent.
pub const LINES: usize = 200;

#[derive(Debug, Default)]
struct Agent {
    record: Value,
    lines: VecDeque<String>,
}

#[derive(Debug)]
struct Feed {
    generation: u64,
    cancel: CancellationToken,
    agents: BTreeMap<String, Agent>,
}

#[derive(Debug, Default)]
pub(crate) struct Relays {
    feeds: Arc<Mutex<HashMap<String, Feed>>>,
    next: std::sync::atomic::AtomicU64,
}

fn agent_id(v: &Value) -> String {
    v.get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn listed(feed: &Feed) -> Value {
    Value::Array(
        feed.agents
            .values()
            .map(|a| {
                let mut v = a.record.clone();
                if let Some(o) = v.as_object_mut() {
                    o.insert("lines".into(), json!(a.lines));
                }
                v
            })
            .collect(),
    )
}

impl Relays {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Feed>> {
        self.feeds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens the feed of `peer` unless one is open.
    pub(crate) fn ensure(
        &self,
        peer: &str,
        target: Target,
        link: Arc<dyn PeerLink>,
        events: Arc<dyn Events>,
    ) {
        let generation = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cancel = CancellationToken::new();
        {
            let mut feeds = self.lock();
            if feeds.contains_key(peer) {
                return;
            }
            feeds.insert(
                peer.to_string(),
                Feed {
                    generation,
                    cancel: cancel.clone(),
                    agents: BTreeMap::new(),
                },
            );
        }
        let feeds = self.feeds.clone();
        let peer = peer.to_string();
        tokio::spawn(async move {
            let say = |event: &str, data: Value| events.publish(CHANNEL, event, &data);
            let opened = tokio::select! {
                r = link.agents(&target) => r,
                () = cancel.cancelled() => return,
            };
            match opened {
                Ok(mut feed) => {
                    say(
                        "instances:peer:agents:updated",
                        json!({ "peerId": peer, "agents": [] }),
                    );
                    loop {
                        let ev = tokio::select! {
                            ev = feed.next() => ev,
                            () = cancel.cancelled() => break,
                        };
                        let Some(ev) = ev else { break };
                        let mut all = feeds.lock().unwrap_or_else(|e| e.into_inner());
                        let Some(f) = all.get_mut(&peer).filter(|f| f.generation == generation)
                        else {
                            break;
                        };
                        apply(f, &peer, ev, &say);
                    }
                }
                Err(e) => tracing::info!(peer = %peer, error = %e, "peer agents not relayed"),
            }
            let mut all = feeds.lock().unwrap_or_else(|e| e.into_inner());
            if all.get(&peer).is_some_and(|f| f.generation == generation) {
                all.remove(&peer);
                drop(all);
                say(
                    "instances:peer:agents:updated",
                    json!({ "peerId": peer, "agents": [] }),
                );
            }
        });
    }

    /// Closes the feed of `peer`; its agents are gone from here.
    pub(crate) fn stop(&self, peer: &str, events: &dyn Events) {
        if let Some(f) = self.lock().remove(peer) {
            f.cancel.cancel();
            events.publish(
                CHANNEL,
                "instances:peer:agents:updated",
                &json!({ "peerId": peer, "agents": [] }),
            );
        }
    }

    pub(crate) fn stop_all(&self) {
        for (_, f) in self.lock().drain() {
            f.cancel.cancel();
        }
    }

    /// `{ <peer id>: [agent with its lines] }`.
    pub(crate) fn snapshot(&self) -> Value {
        Value::Object(
            self.lock()
                .iter()
                .map(|(id, f)| (id.clone(), listed(f)))
                .collect(),
        )
    }
}

fn apply(f: &mut Feed, peer: &str, ev: AgentEvent, say: &dyn Fn(&str, Value)) {
    match ev {
        AgentEvent::Spawned(agent) => {
            f.agents.insert(
                agent_id(&agent),
                Agent {
                    record: agent.clone(),
                    lines: VecDeque::new(),
                },
            );
            say(
                "instances:peer:agent:spawned",
                json!({ "peerId": peer, "agent": agent }),
            );
            say(
                "instances:peer:agents:updated",
                json!({ "peerId": peer, "agents": listed(f) }),
            );
        }
        AgentEvent::Updated(agent) => {
            let a = f.agents.entry(agent_id(&agent)).or_default();
            if let (Some(old), Some(new)) = (a.record.as_object_mut(), agent.as_object()) {
                old.extend(new.clone());
            } else {
                a.record = agent.clone();
            }
            say(
                "instances:peer:agent:updated",
                json!({ "peerId": peer, "agent": agent }),
            );
        }
        AgentEvent::Output { agent_id, text } => {
            let a = f.agents.entry(agent_id.clone()).or_default();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                a.lines.push_back(line.to_string());
                if a.lines.len() > LINES {
                    a.lines.pop_front();
                }
                say(
                    "instances:peer:agent:output",
                    json!({ "peerId": peer, "agentId": agent_id, "line": line }),
                );
            }
        }
        AgentEvent::Completed(agent) => {
            f.agents.remove(&agent_id(&agent));
            say(
                "instances:peer:agent:completed",
                json!({ "peerId": peer, "agent": agent }),
            );
            say(
                "instances:peer:agents:updated",
                json!({ "peerId": peer, "agents": listed(f) }),
            );
        }
    }
}
