//! How this instance reaches a peer: [`PeerLink`], implemented over gRPC
//! (`portos.instances.v1`) by `portos-peer-grpc`; tests give their own.

use std::pin::Pin;

use futures_util::Stream;
use serde_json::Value;

/// A peer to call, with the credential to call it with.
#[derive(Clone)]
pub struct Target {
    pub address: String,
    pub port: u16,
    pub token: String,
}

impl std::fmt::Debug for Target {
    // Never the credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({}:{})", self.address, self.port)
    }
}

impl Target {
    /// `http://address:port`, with brackets around an IPv6 address.
    pub fn url(&self) -> String {
        if self.address.contains(':') {
            format!("http://[{}]:{}", self.address, self.port)
        } else {
            format!("http://{}:{}", self.address, self.port)
        }
    }
}

/// Who an instance is, as it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub instance_id: String,
    pub name: String,
    pub port: u16,
}

/// What an instance says of itself when it announces itself, with the
/// credential for the way back.
#[derive(Clone)]
pub struct Announce {
    pub me: Identity,
    pub token: String,
}

/// One event of a peer's agents.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    Spawned(Value),
    Updated(Value),
    Output { agent_id: String, text: String },
    Completed(Value),
}

pub type AgentFeed = Pin<Box<dyn Stream<Item = AgentEvent> + Send>>;

/// Why a call to a peer did not answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinkError {
    /// The peer refused the credential.
    #[error("the peer refused the credential: {0}")]
    Refused(String),
    #[error("not reachable: {0}")]
    Unreachable(String),
    #[error("no answer within {0} s")]
    Timeout(u64),
    #[error("{0}")]
    Failed(String),
}

#[async_trait::async_trait]
pub trait PeerLink: Send + Sync + std::fmt::Debug {
    async fn announce(&self, to: &Target, me: &Announce) -> Result<Identity, LinkError>;
    async fn identity(&self, to: &Target) -> Result<Identity, LinkError>;
    /// Its `/api/system/health/details`.
    async fn health(&self, to: &Target) -> Result<Value, LinkError>;
    /// Its apps' display fields.
    async fn apps(&self, to: &Target) -> Result<Value, LinkError>;
    /// One allow-listed read route: its status and body.
    async fn query(&self, to: &Target, path: &str) -> Result<(u16, Value), LinkError>;
    /// Its agents now, then as they change; ends when the link does.
    async fn agents(&self, to: &Target) -> Result<AgentFeed, LinkError>;
}

/// The read routes a peer answers for another (health, apps, processes, runs,
/// CoS agents), with an optional query string. Nothing that may carry a
/// secret (providers, settings, accounts) is on it.
pub const QUERY_ALLOWED: &[&str] = &[
    "/api/system/health",
    "/api/system/health/details",
    "/api/apps",
    "/api/logs/processes",
    "/api/runs",
    "/api/cos/agents",
    "/api/cos",
];

/// Whether `path` is on [`QUERY_ALLOWED`]: exactly one of its paths, then
/// nothing or a query string of plain characters.
pub fn query_allowed(path: &str) -> bool {
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    QUERY_ALLOWED.contains(&route)
        && query
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=&-_.,".contains(&b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_allow_list_is_exact() {
        use super::query_allowed as ok;
        assert!(ok("/api/apps") && ok("/api/runs?limit=5&offset=0"));
        for bad in [
            "/api/providers",
            "/api/settings",
            "/api/apps/../providers",
            "/api/apps/",
            "/api/appsx",
            "/api/runs?x=%2e%2e",
            "api/apps",
            "/API/apps",
            "/api/agents/accounts",
        ] {
            assert!(!ok(bad), "{bad}");
        }
    }
}
