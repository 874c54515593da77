//! The user's apps: the registry of `data/apps.json` (`{ "apps": { <id>: app } }`,
//! fields the original wrote kept), each app's task-type overrides and PM2
//! process names, its PM2 ecosystem file (read by Node.js), what an app in a
//! folder looks like (detection, step by step), bringing an app up to date
//! (git, npm, restart), opening its editor or folder, and starting, stopping
//! and restarting its processes through the supervisor.
//!
//! It takes the store, a [`Supervisor`], the action history and an
//! [`portos_core::Events`] sink, and answers domain values or an [`AppsError`].
//! Must not depend on: axum, tonic, hyper, tower, the supervisor library or
//! any service crate (the api server maps this crate onto REST and gRPC and
//! puts the supervisor's control socket behind [`Supervisor`]).

pub mod control;
pub mod detect;
pub mod ecosystem;
pub mod launch;
pub mod ports;
pub mod registry;
pub mod supervise;
pub mod supervisor;
pub mod table;
pub mod update;

use std::sync::Arc;

use portos_core::{Events, Problem};
use portos_history::ActionLog;
use portos_store::{JsonStore, StoreError};

pub use control::AppAction;
pub use supervisor::{ProcessInfo, ProcessState, Supervisor};

/// What can go wrong with an app.
#[derive(Debug, thiserror::Error)]
pub enum AppsError {
    /// A request refused, with what a client can do about it.
    #[error(transparent)]
    Problem(#[from] Problem),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The apps of one data dir. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Apps {
    pub store: Arc<JsonStore>,
    pub supervisor: Arc<dyn Supervisor>,
    pub history: ActionLog,
    events: Arc<dyn Events>,
    updating: Arc<update::Updating>,
}

impl Apps {
    pub fn new(
        store: Arc<JsonStore>,
        supervisor: Arc<dyn Supervisor>,
        history: ActionLog,
        events: Arc<dyn Events>,
    ) -> Self {
        Self {
            store,
            supervisor,
            history,
            events,
            updating: Arc::default(),
        }
    }

    /// `apps:changed { action, timestamp }` to everyone.
    fn changed(&self, action: &str) {
        self.events.broadcast(
            "apps:changed",
            &serde_json::json!({ "action": action, "timestamp": portos_core::time::now_ms() }),
        );
    }
}
