//! A client of Moltworld (`https://moltworld.io`), the shared voxel world where
//! AI agents move, think out loud, build and earn SIM tokens. Moltworld has no
//! bearer token: the agent is named by `agentId` in the body or the query.
//! The platform's limits (the original's numbers: join 5 s apart and 17,280 a
//! day, build 1 s and 500, think 5 s and 1,000, and 60 calls a minute per agent
//! in all) are enforced per agent before a request leaves, in a [`Limiter`]
//! kept on disk; a 429 moves the local limit to its `Retry-After`. A 403 that
//! says the agent is suspended or banned is [`MoltworldError::Suspended`].
//!
//! Must not depend on: the api server, the supervisor, or any service crate.

use std::sync::Arc;
use std::time::Duration;

use portos_ratelimit::{Limit, Limiter, Refused, Window};
use portos_remote::{Call, Failure, Remote};
use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

/// Moltworld's root.
pub const DEFAULT_BASE: &str = "https://moltworld.io";

/// The original's limits, per action.
pub fn limits() -> [(&'static str, Limit); 3] {
    let l = |secs, per_day| Limit {
        cooldown: Duration::from_secs(secs),
        per_day,
    };
    [
        ("join", l(5, 17_280)),
        ("build", l(1, 500)),
        ("think", l(5, 1_000)),
    ]
}

/// At most 60 calls a minute per agent, whatever they are.
pub const WINDOW: Window = Window {
    max: 60,
    len: Duration::from_secs(60),
};

/// A limiter with Moltworld's limits over the state file at `path`.
pub fn limiter(path: std::path::PathBuf, clock: Arc<dyn portos_ratelimit::Clock>) -> Limiter {
    Limiter::new(limits(), path, clock).with_window(WINDOW)
}

/// What a Moltworld call can end in besides an answer.
#[derive(Debug, thiserror::Error)]
pub enum MoltworldError {
    #[error("Moltworld is not reachable: {0}")]
    Network(String),
    #[error("Moltworld did not answer within {}s", .0.as_secs())]
    Timeout(Duration),
    /// 401/403: the agent id is not accepted.
    #[error("Moltworld refused the agent: {0}")]
    Auth(String),
    #[error("Moltworld rate limit: {message}{}", .retry_after.map(|d| format!("; retry after {}s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    /// 403 saying the agent is suspended or banned.
    #[error("the Moltworld agent is suspended: {0}")]
    Suspended(String),
    /// Any other 4xx/5xx, with the platform's own message.
    #[error("Moltworld answered {status}: {message}")]
    Remote { status: u16, message: String },
    /// Refused here, before sending: which limit, and when it frees.
    #[error("not sent: {0}")]
    Limited(#[from] Refused),
    #[error("the rate-limit state: {0}")]
    Store(#[from] portos_ratelimit::StoreError),
    #[error("unexpected answer from Moltworld: {0}")]
    Decode(String),
}

impl MoltworldError {
    pub fn is_suspended(&self) -> bool {
        matches!(self, MoltworldError::Suspended(_))
    }
}

fn retry_after(f: &Failure) -> Option<Duration> {
    match f {
        Failure::Status {
            retry_after, body, ..
        } => retry_after.or_else(|| {
            body.get("retryAfter")
                .or_else(|| body.get("retry_after"))
                .and_then(Value::as_u64)
                .map(Duration::from_secs)
        }),
        _ => None,
    }
}

impl From<Failure> for MoltworldError {
    fn from(f: Failure) -> Self {
        let wait = retry_after(&f);
        match f {
            Failure::Network(m) => MoltworldError::Network(m),
            Failure::Timeout(d) => MoltworldError::Timeout(d),
            Failure::Limited(r) => MoltworldError::Limited(r),
            Failure::Store(s) => MoltworldError::Store(s),
            Failure::Config(m) => MoltworldError::Decode(m),
            Failure::Status {
                status, message, ..
            } => {
                let lower = message.to_lowercase();
                match status {
                    403 if lower.contains("suspended") || lower.contains("banned") => {
                        MoltworldError::Suspended(message)
                    }
                    401 | 403 => MoltworldError::Auth(message),
                    429 => MoltworldError::RateLimited {
                        retry_after: wait,
                        message,
                    },
                    status => MoltworldError::Remote { status, message },
                }
            }
        }
    }
}

/// An agent's look at registration.
#[derive(Clone, Debug, Serialize)]
pub struct Appearance {
    pub color: String,
    pub emoji: String,
    pub style: String,
}

impl Default for Appearance {
    fn default() -> Self {
        Self {
            color: "#3b82f6".into(),
            emoji: "🤖".into(),
            style: "robot".into(),
        }
    }
}

/// A new agent: its id (the platform names it `agentId`, `agent.id` or `id`),
/// its key (`apiKey`/`api_key`, else the id) and the whole answer.
#[derive(Clone, Debug)]
pub struct Registration {
    pub agent_id: String,
    pub api_key: String,
    pub raw: Value,
}

/// A move (also the heartbeat that keeps an agent visible), with what it says.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Join {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub x: i32,
    pub y: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub say: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub say_to: Option<String>,
}

/// Place or remove one block.
#[derive(Clone, Debug, Serialize)]
pub struct Build {
    pub x: i32,
    pub y: i32,
    pub z: i32,
    /// wood, stone, dirt, grass, leaves.
    #[serde(rename = "type")]
    pub kind: String,
    /// `place` or `remove`.
    pub action: String,
}

/// A Moltworld client: one per base URL; the agent goes with each call.
#[derive(Debug, Clone)]
pub struct Moltworld {
    remote: Remote,
    limiter: Arc<Limiter>,
}

impl Moltworld {
    pub fn new(
        base: &str,
        limiter: Arc<Limiter>,
        timeout: Duration,
    ) -> Result<Self, MoltworldError> {
        Ok(Self {
            remote: Remote::new(base, timeout, None)?,
            limiter,
        })
    }

    /// One call for `agent`, counted against its limits as `action`.
    async fn call(
        &self,
        agent: &str,
        action: &'static str,
        c: Call<'_>,
    ) -> Result<Value, MoltworldError> {
        Ok(self
            .remote
            .send_limited(&self.limiter, agent, action, c, retry_after)
            .await?)
    }

    /// `POST /api/agents/register` `{ name, worldId: "alpha", appearance }`.
    pub async fn register(
        &self,
        name: &str,
        appearance: &Appearance,
    ) -> Result<Registration, MoltworldError> {
        let body = json!({ "name": name, "worldId": "alpha", "appearance": appearance });
        let raw = self
            .remote
            .send(Call::new(Method::POST, &["api", "agents", "register"]).body(body))
            .await?;
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let agent_id = text(raw.get("agentId"))
            .or_else(|| text(raw.pointer("/agent/id")))
            .or_else(|| text(raw.get("id")))
            .ok_or_else(|| MoltworldError::Decode("registration without an agent id".into()))?;
        let api_key = text(raw.get("apiKey"))
            .or_else(|| text(raw.get("api_key")))
            .unwrap_or_else(|| agent_id.clone());
        Ok(Registration {
            agent_id,
            api_key,
            raw,
        })
    }

    /// `GET /api/agents/profile?agentId=`.
    pub async fn profile(&self, agent: &str) -> Result<Value, MoltworldError> {
        let c = Call::get(&["api", "agents", "profile"]).query("agentId", agent);
        self.call(agent, "profile", c).await
    }

    /// `PATCH /api/agents/profile` `{ agentId, ...updates }` (name, appearance).
    pub async fn update_profile(
        &self,
        agent: &str,
        updates: Value,
    ) -> Result<Value, MoltworldError> {
        let mut body = json!({ "agentId": agent });
        if let (Some(b), Value::Object(u)) = (body.as_object_mut(), updates) {
            for (k, v) in u {
                if k != "agentId" {
                    b.insert(k, v);
                }
            }
        }
        let c = Call::new(Method::PATCH, &["api", "agents", "profile"]).body(body);
        self.call(agent, "profile", c).await
    }

    /// `GET /api/agents/balance?agentId=`: `{ balance: { sim } }`.
    pub async fn balance(&self, agent: &str) -> Result<Value, MoltworldError> {
        let c = Call::get(&["api", "agents", "balance"]).query("agentId", agent);
        self.call(agent, "balance", c).await
    }

    /// `POST /api/world/join`: move, and say or think on the way.
    pub async fn join(&self, agent: &str, join: &Join) -> Result<Value, MoltworldError> {
        let mut body =
            serde_json::to_value(join).map_err(|e| MoltworldError::Decode(e.to_string()))?;
        body["agentId"] = json!(agent);
        let c = Call::new(Method::POST, &["api", "world", "join"]).body(body);
        self.call(agent, "join", c).await
    }

    /// `POST /api/world/think` `{ agentId, thought }`.
    pub async fn think(&self, agent: &str, thought: &str) -> Result<Value, MoltworldError> {
        let c = Call::new(Method::POST, &["api", "world", "think"])
            .body(json!({ "agentId": agent, "thought": thought }));
        self.call(agent, "think", c).await
    }

    /// `POST /api/world/build` `{ agentId, x, y, z, type, action }`.
    pub async fn build(&self, agent: &str, build: &Build) -> Result<Value, MoltworldError> {
        let mut body =
            serde_json::to_value(build).map_err(|e| MoltworldError::Decode(e.to_string()))?;
        body["agentId"] = json!(agent);
        let c = Call::new(Method::POST, &["api", "world", "build"]).body(body);
        self.call(agent, "build", c).await
    }

    /// The local limits' state for `agent`.
    pub fn limit_status(
        &self,
        agent: &str,
    ) -> Result<Vec<portos_ratelimit::Status>, MoltworldError> {
        Ok(self.limiter.status(agent)?)
    }
}
