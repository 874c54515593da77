//! The data files, as typed structs in the original's shapes. Every struct keeps
//! the fields it does not know in `extra`, so a rewrite loses nothing.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `history.json`: the action history, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    #[serde(default)]
    pub entries: Vec<HistoryEntry>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// How many entries `history.json` keeps (the newest).
pub const HISTORY_LIMIT: usize = 500;

/// One action in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub id: String,
    pub action: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub target_name: Option<String>,
    #[serde(default)]
    pub details: Value,
    #[serde(default)]
    pub success: bool,
    #[serde(default)]
    pub error: Option<String>,
    /// ISO 8601 UTC.
    pub timestamp: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `settings.json`: free-form settings, kept as written.
pub type Settings = Map<String, Value>;

/// File names of the data dir, relative to it.
pub mod files {
    pub const HISTORY: &str = "history.json";
    pub const SETTINGS: &str = "settings.json";
    pub const APPS: &str = "apps.json";
    pub const PROVIDERS: &str = "providers.json";
}
