//! What runs need of the chief-of-staff runner, which runs CLI agents so that
//! a restart of the api server never cuts one. The runner's gRPC client
//! (`portos-runner-client`) implements it; tests may put anything in its place.

use std::collections::BTreeMap;
use std::pin::Pin;

use futures_util::Stream;

/// One agent process to start: no shell; the prompt goes on stdin.
#[derive(Debug, Clone, Default)]
pub struct Spawn {
    pub id: String,
    pub command: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: String,
    pub stdin: String,
}

/// How an agent ended (or that it has not).
#[derive(Debug, Clone, Default)]
pub struct AgentEnd {
    pub exit_code: Option<i32>,
    /// The runner lost it (it was running when a runner went away).
    pub lost: bool,
    pub reason: String,
    /// Its process (group leader) while it runs.
    pub pid: Option<u32>,
}

impl AgentEnd {
    /// Whether it still runs.
    pub fn running(&self) -> bool {
        self.exit_code.is_none() && !self.lost && self.pid.is_some()
    }
}

/// An agent's output, piece by piece, from its first byte; ends with the agent.
pub type Output = Pin<Box<dyn Stream<Item = Result<Vec<u8>, String>> + Send>>;

/// What went wrong with a call to the runner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunnerError {
    /// The runner is not there (no answer, bad address).
    #[error("{0}")]
    Unreachable(String),
    /// The runner answered with a refusal or an error, in its own words.
    #[error("{0}")]
    Failed(String),
}

/// The runner, as runs use it.
#[async_trait::async_trait]
pub trait Runner: Send + Sync + std::fmt::Debug {
    async fn spawn(&self, spawn: Spawn) -> Result<(), RunnerError>;
    /// The output from the start, following it while the agent runs.
    async fn follow(&self, id: &str) -> Result<Output, RunnerError>;
    /// Stops an agent at once (SIGTERM, then SIGKILL to its group).
    async fn stop(&self, id: &str) -> Result<(), RunnerError>;
    async fn get(&self, id: &str) -> Result<AgentEnd, RunnerError>;
}
