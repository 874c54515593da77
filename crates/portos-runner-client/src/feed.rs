//! The runner's agents as one live feed: those running now (with the tail of
//! their output), then each agent that starts, its output as it comes, and
//! its end. What another instance's Instances page shows of this machine.

use std::pin::Pin;

use futures_util::{Stream, StreamExt};
use portos_proto::runner::v1 as pb;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::{GrpcRunner, RunnerError, failed};

/// How much of a running agent's output a new feed starts with.
const TAIL: u64 = 4096;

#[derive(Debug, Clone, PartialEq)]
pub enum FeedEvent {
    Spawned(Value),
    Output { id: String, text: String },
    Ended(Value),
}

pub type Feed = Pin<Box<dyn Stream<Item = FeedEvent> + Send>>;

/// An agent as JSON: `{id, taskId, command, state, pid, startedAt, endedAt, exitCode, reason}`.
pub fn agent_json(a: &pb::Agent) -> Value {
    let state = match pb::AgentState::try_from(a.state) {
        Ok(pb::AgentState::Running) => "running",
        Ok(pb::AgentState::Exited) => "exited",
        Ok(pb::AgentState::Stopped) => "stopped",
        Ok(pb::AgentState::Lost) => "lost",
        _ => "unknown",
    };
    json!({
        "id": a.id, "taskId": a.task_id, "command": a.command, "state": state, "pid": a.pid,
        "startedAt": a.started_at, "endedAt": a.ended_at, "exitCode": a.exit_code, "reason": a.reason,
    })
}

impl GrpcRunner {
    /// The feed; it ends when the runner's event stream does.
    pub async fn feed(&self) -> Result<Feed, RunnerError> {
        let mut client = self.client().await?;
        // Events first, so nothing that starts while the list is read is missed.
        let mut events = client
            .events(pb::EventsRequest {})
            .await
            .map_err(failed)?
            .into_inner();
        let running: Vec<pb::Agent> = client
            .list(pb::ListAgentsRequest {})
            .await
            .map_err(failed)?
            .into_inner()
            .agents
            .into_iter()
            .filter(|a| a.state == pb::AgentState::Running as i32)
            .collect();
        let (tx, rx) = mpsc::channel(256);
        let runner = self.clone();
        tokio::spawn(async move {
            for a in running {
                let from = a.output_bytes.saturating_sub(TAIL);
                if tx.send(FeedEvent::Spawned(agent_json(&a))).await.is_err() {
                    return;
                }
                runner.follow_into(a.id, from, tx.clone());
            }
            while let Some(Ok(ev)) = events.next().await {
                let Some(a) = ev.agent else { continue };
                let out = if ev.kind == "spawned" {
                    runner.follow_into(a.id.clone(), 0, tx.clone());
                    FeedEvent::Spawned(agent_json(&a))
                } else {
                    FeedEvent::Ended(agent_json(&a))
                };
                if tx.send(out).await.is_err() {
                    return;
                }
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    /// Sends the output of agent `id` from `from` into `tx` until it ends.
    fn follow_into(&self, id: String, from: u64, tx: mpsc::Sender<FeedEvent>) {
        let runner = self.clone();
        tokio::spawn(async move {
            let Ok(mut client) = runner.client().await else {
                return;
            };
            let req = pb::OutputRequest {
                id: id.clone(),
                follow: true,
                from_offset: from,
            };
            let Ok(stream) = client.output(req).await else {
                return;
            };
            let mut stream = stream.into_inner();
            while let Some(Ok(chunk)) = stream.next().await {
                let text = String::from_utf8_lossy(&chunk.data).into_owned();
                if tx
                    .send(FeedEvent::Output {
                        id: id.clone(),
                        text,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
    }
}
