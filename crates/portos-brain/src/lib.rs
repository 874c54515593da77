//! The second brain: one thought at a time captured to an inbox, classified
//! by the owner's AI provider into people, projects, ideas or admin records
//! (or sent to review with the reason), links (GitHub ones cloned), and a
//! daily digest and weekly review written by the AI on a UTC schedule.
//!
//! Owns: the original's `data/brain/` files in their shapes (records keyed by
//! id, the JSON Lines inbox, digests and reviews; fields it does not know are
//! kept, and a file nothing changed is never rewritten), every write locked
//! per file and atomic; the classifier's contract (prompt stage
//! `brain-classifier`, its confidence rule, a reply that does not parse goes
//! to review, never an error); the inbox operations; the scheduler's
//! decisions on a [`Clock`] (missed runs follow `missedRuns`, one run of a job
//! at a time, each scheduled outcome in `schedule_log.jsonl`); and the
//! `brain:*` events. The AI is reached through a [`model::Model`] (in
//! PortOS: [`model::RunsModel`], AI runs like any other).
//! Must not depend on: axum, tonic, hyper, tower, or any service crate.

pub mod classify;
pub mod digest;
pub mod entities;
mod files;
pub mod inbox;
pub mod links;
pub mod model;
pub mod schedule;
pub mod settings;
mod validate;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use portos_core::{Events, Problem};
use portos_ratelimit::Clock;
use portos_store::{JsonStore, StoreError};

pub use digest::Job;
pub use entities::Dest;
pub use model::{Ask, Model, RunsModel};

/// What can go wrong in the brain.
#[derive(Debug, thiserror::Error)]
pub enum BrainError {
    /// A request the brain refuses, with what a client can do about it.
    #[error(transparent)]
    Problem(#[from] Problem),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = BrainError> = std::result::Result<T, E>;

/// Where GitHub repositories are cloned from, unless told otherwise.
pub const GITHUB: &str = "https://github.com";

/// The brain over one data dir. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Brain {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<JsonStore>,
    model: Arc<dyn Model>,
    events: Arc<dyn Events>,
    clock: Arc<dyn Clock>,
    /// One run of each job at a time (scheduled or asked for).
    jobs: [tokio::sync::Mutex<()>; 2],
    /// The links being cloned.
    clones: Mutex<HashSet<String>>,
    github: String,
    scheduler: Mutex<schedule::State>,
}

impl Brain {
    pub fn new(
        store: Arc<JsonStore>,
        model: Arc<dyn Model>,
        events: Arc<dyn Events>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::with_github(store, model, events, clock, GITHUB)
    }

    /// As [`Brain::new`], cloning GitHub repositories from `github`
    /// (`<github>/<owner>/<repo>.git`; tests use a local folder).
    pub fn with_github(
        store: Arc<JsonStore>,
        model: Arc<dyn Model>,
        events: Arc<dyn Events>,
        clock: Arc<dyn Clock>,
        github: &str,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                model,
                events,
                clock,
                jobs: Default::default(),
                clones: Mutex::default(),
                github: github.trim_end_matches('/').to_string(),
                scheduler: Mutex::default(),
            }),
        }
    }

    fn store(&self) -> &JsonStore {
        &self.inner.store
    }

    /// Now, by the brain's clock.
    pub fn now(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.inner.clock.now_ms() as i64)
            .single()
            .unwrap_or_default()
    }

    /// Now as the data files write it (`2026-02-27T08:00:00.000Z`).
    fn now_iso(&self) -> String {
        iso(self.now())
    }

    fn broadcast(&self, event: &str, data: serde_json::Value) {
        self.inner.events.broadcast(event, &data);
    }
}

/// A time as the data files write it.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
