//! The chief of staff (CoS): the owner's task queue (`data/TASKS.md`) and its
//! own (`data/COS-TASKS.md`) in the original's Markdown, kept by a lossless
//! codec; the orchestrator that runs an agent per task through AI runs (so
//! through the chief-of-staff runner, which outlives an api server restart)
//! in the task's app folder or a git worktree of it, within lanes and a
//! runtime limit, judging each end, retrying with backoff and blocking with
//! the reason; task learning that the model choice reads; daily reports and
//! health checks; and the `cos` channel's events.
//!
//! Owns: `data/TASKS.md`, `data/COS-TASKS.md` and `data/cos/` (`state.json`
//! in the original's shape with small records, `task-book.json` for the
//! retry bookkeeping kept out of the Markdown, `learning.json`,
//! `agents/<id>/` archives, `reports/<date>.json`). The orchestrator is one
//! owner of queue, lanes and agent table: one lock under which a slot is
//! reserved, the task marked in progress and the agent spawned.
//!
//! Must not depend on: axum, tonic, hyper, tower, `portos-proto` or any
//! service crate (the api server maps it onto REST, gRPC and `/ws`).

pub mod agent;
pub mod enhance;
pub mod learning;
mod lifecycle;
mod ops;
mod orchestrator;
mod reports;
pub mod state;
pub mod tasks;

pub use lifecycle::agent_dir;
pub use orchestrator::{CHANNEL, Cos};

use portos_core::{Kind as ProblemKind, Problem};

/// What can go wrong in the CoS.
#[derive(Debug, thiserror::Error)]
pub enum CosError {
    #[error(transparent)]
    Problem(#[from] Problem),
    /// A data file that does not parse; it is kept as it is.
    #[error("{0}")]
    Corrupt(String),
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Store(#[from] portos_store::StoreError),
}

impl CosError {
    pub fn invalid(message: impl Into<String>) -> Self {
        CosError::Problem(Problem::new(
            ProblemKind::Invalid,
            "VALIDATION_ERROR",
            message,
        ))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        CosError::Problem(Problem::new(ProblemKind::NotFound, "NOT_FOUND", message))
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        CosError::Problem(Problem::new(ProblemKind::Conflict, code, message))
    }
}
