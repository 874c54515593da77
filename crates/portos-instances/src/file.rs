//! `data/instances.json` in the original's shape: this instance's `self` and
//! its `peers`. Fields the original does not know (ours: `lastError`) and
//! fields we do not know are kept, so either program can read what the other
//! wrote.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The file, relative to the data dir.
pub const FILE: &str = "instances.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InstancesFile {
    #[serde(rename = "self", default)]
    pub self_: Option<SelfIdentity>,
    #[serde(default)]
    pub peers: Vec<Peer>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Who this instance is to its peers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelfIdentity {
    pub instance_id: String,
    pub name: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The original's three states, as it writes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Unknown,
    Online,
    Offline,
}

/// Which way a link works: `outbound` (we announced ourselves to it) and
/// `inbound` (it announced itself to us); both: mutual.
pub const OUTBOUND: &str = "outbound";
pub const INBOUND: &str = "inbound";

/// Another PortOS instance of the owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Peer {
    /// Ours (local), not the peer's instance id.
    pub id: String,
    pub address: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub instance_id: Option<String>,
    #[serde(default)]
    pub added_at: String,
    #[serde(default)]
    pub last_seen: Option<String>,
    /// The peer's `/api/system/health/details` at its last answer.
    #[serde(default)]
    pub last_health: Option<Value>,
    /// Its apps' display fields at its last answer (absent before one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_apps: Option<Value>,
    #[serde(default)]
    pub status: Status,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub directions: Vec<String>,
    /// Why the last probe failed (ours; the original only said `offline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_port() -> u16 {
    5554
}

fn yes() -> bool {
    true
}

impl Peer {
    /// A peer seen for the first time at `address:port`, under `name` (its
    /// address when it has none), with a new local id.
    pub fn new(address: &str, port: u16, name: &str, added_at: String) -> Self {
        Peer {
            id: uuid::Uuid::new_v4().to_string(),
            address: address.to_string(),
            port,
            name: if name.is_empty() { address } else { name }.to_string(),
            instance_id: None,
            added_at,
            last_seen: None,
            last_health: None,
            last_apps: None,
            status: Status::Unknown,
            enabled: true,
            directions: Vec::new(),
            last_error: None,
            extra: Default::default(),
        }
    }

    pub fn add_direction(&mut self, d: &str) -> bool {
        if self.directions.iter().any(|x| x == d) {
            return false;
        }
        self.directions.push(d.to_string());
        true
    }
}
