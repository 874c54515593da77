//! The AI toolkit's domain, without a wire.
//!
//! Owns: providers (`providers.json`: records, validation, edits that keep
//! secrets, the no-shell probe), runs (create, execute on an OpenAI-compatible
//! server or a CLI through the chief-of-staff runner, the `fallbackProvider`
//! chain, follow, stop, resume after a restart, usage), stored prompts (stages,
//! versions, the template language), provider status, and the LM Studio client.
//! It takes the store, an HTTP client, a [`runner::Runner`] and an
//! [`portos_core::Events`] sink, and answers domain values or an [`AiError`].
//! Must not depend on: axum, tonic, hyper, tower, or any service crate (the
//! api server maps this crate onto REST and gRPC; others use it directly).

pub mod agent_processes;
pub mod lmstudio;
pub mod prompts;
pub mod providers;
pub mod runner;
pub mod runs;
pub mod status;

use std::sync::Arc;

use portos_core::{Events, Problem};
use portos_store::{JsonStore, StoreError};

/// What can go wrong in the AI toolkit.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    /// A request the toolkit refuses, with what a client can do about it.
    #[error(transparent)]
    Problem(#[from] Problem),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AiError {
    /// The problem with `context` added (a store error stays as it is).
    pub fn with_context(self, context: serde_json::Value) -> Self {
        match self {
            AiError::Problem(p) => AiError::Problem(p.with_context(context)),
            other => other,
        }
    }
}

/// The AI toolkit over one data dir. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Ai {
    pub store: Arc<JsonStore>,
    /// The one HTTP client for providers and LM Studio.
    pub http: reqwest::Client,
    runner: Arc<dyn runner::Runner>,
    events: Arc<dyn Events>,
    runs: Arc<runs::Runs>,
    lmstudio: Arc<lmstudio::LmState>,
}

impl Ai {
    pub fn new(
        store: Arc<JsonStore>,
        runner: Arc<dyn runner::Runner>,
        events: Arc<dyn Events>,
    ) -> Self {
        Self {
            store,
            // No idle connections kept: a run's stream owns its connection,
            // and a stopped run's connection must close at once.
            // A request that carries a provider's key follows no redirect:
            // the key would go to wherever the server points.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            runner,
            events,
            runs: Arc::default(),
            lmstudio: Arc::default(),
        }
    }

    /// The runner the CLI runs go to.
    pub fn runner(&self) -> Arc<dyn runner::Runner> {
        self.runner.clone()
    }

    /// Whether run `id` is in flight.
    pub fn run_is_active(&self, id: &str) -> bool {
        self.runs.is_active(id)
    }
}
