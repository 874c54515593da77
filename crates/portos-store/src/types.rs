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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub id: String,
    pub action: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub target_name: Option<String>,
    /// Free-form: what the action was given and did.
    #[serde(default)]
    pub details: Value,
    #[serde(default)]
    pub success: bool,
    #[serde(default)]
    pub error: Option<String>,
    /// ISO 8601 UTC.
    pub timestamp: String,
    /// Fields the original wrote that this version does not know, kept.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Map<String, Value>,
}

/// `settings.json`: free-form settings, kept as written.
pub type Settings = Map<String, Value>;

/// `providers.json`: the AI providers, keyed by id, in the file's order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Providers {
    #[serde(default)]
    pub active_provider: Option<String>,
    #[serde(default)]
    pub providers: indexmap::IndexMap<String, Provider>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// How a provider is reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// A command run per prompt (Claude Code, Codex, Gemini CLI, …).
    #[default]
    Cli,
    /// An OpenAI-compatible HTTP server (LM Studio, Ollama, …).
    Api,
}

/// One provider, with the original's fields (absent ones written as the
/// original writes them: `null`, `[]` or `{}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: ProviderKind,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// The API base URL; older files call it `baseUrl`.
    #[serde(default, alias = "baseUrl")]
    pub endpoint: Option<String>,
    /// A secret: never answered nor logged in full.
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub default_model: Option<String>,
    #[serde(default)]
    pub light_model: Option<String>,
    #[serde(default)]
    pub medium_model: Option<String>,
    #[serde(default)]
    pub heavy_model: Option<String>,
    #[serde(default)]
    pub fallback_provider: Option<String>,
    /// Milliseconds.
    #[serde(default)]
    pub timeout: Option<u64>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub env_vars: indexmap::IndexMap<String, String>,
    /// Names in `env_vars` whose values are secrets.
    #[serde(default)]
    pub secret_env_vars: Vec<String>,
    #[serde(default)]
    pub headless_args: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn yes() -> bool {
    true
}

/// File names of the data dir, relative to it.
pub mod files {
    pub const HISTORY: &str = "history.json";
    pub const SETTINGS: &str = "settings.json";
    pub const APPS: &str = "apps.json";
    pub const PROVIDERS: &str = "providers.json";
    pub const BROWSER_CONFIG: &str = "browser-config.json";
}

/// `browser-config.json`: how the browser host launches Chromium and where
/// PortOS looks for it. The host reads `headless`, `userDataDir` and
/// `chromePath` at each launch; it takes its ports from its environment, so the
/// port fields only say where the api server looks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrowserConfig {
    #[serde(default = "cdp_port")]
    pub cdp_port: u16,
    #[serde(default = "cdp_host")]
    pub cdp_host: String,
    #[serde(default = "health_port")]
    pub health_port: u16,
    #[serde(default = "yes")]
    pub auto_connect: bool,
    #[serde(default = "yes")]
    pub headless: bool,
    /// The profile directory; empty means `<data>/browser-profile`.
    #[serde(default)]
    pub user_data_dir: String,
    /// The Chromium binary; empty means found on `PATH`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub chrome_path: String,
    /// Keys this server does not know, kept as they are.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Map<String, Value>,
}

fn cdp_port() -> u16 {
    5556
}
fn cdp_host() -> String {
    "127.0.0.1".into()
}
fn health_port() -> u16 {
    5557
}

impl Default for BrowserConfig {
    fn default() -> Self {
        Self {
            cdp_port: cdp_port(),
            cdp_host: cdp_host(),
            health_port: health_port(),
            auto_connect: true,
            headless: true,
            user_data_dir: String::new(),
            chrome_path: String::new(),
            extra: Map::new(),
        }
    }
}

impl BrowserConfig {
    /// The profile directory: `userDataDir`, else `<data_dir>/browser-profile`.
    pub fn profile_dir(&self, data_dir: &std::path::Path) -> std::path::PathBuf {
        if self.user_data_dir.trim().is_empty() {
            data_dir.join("browser-profile")
        } else {
            std::path::PathBuf::from(&self.user_data_dir)
        }
    }
}
