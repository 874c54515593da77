//! Agents on the social platforms: personalities (`data/agents/agents.json`),
//! their platform accounts (`accounts.json`, keys masked in every answer),
//! automation schedules (`schedules.json`: cron, interval or random, in UTC;
//! one run per schedule at a time; a stated policy for runs missed while
//! PortOS was down) with their activity log, and the executor that runs an
//! action through the Moltbook or Moltworld client.
//!
//! Posts and comments an agent leaves to its AI are written as AI runs
//! ([`author::RunsAuthor`], over `portos-ai`).
//!
//! Time comes from a [`portos_ratelimit::Clock`], so tests drive the scheduler.
//! Must not depend on: axum, tonic, the api server or any service crate (the
//! api server maps this crate's answers onto REST and gRPC).

pub mod actions;
pub mod author;
pub mod model;
pub mod planner;
pub mod service;
pub mod timing;

pub use actions::{ActionError, Author, Platforms, Writing};
pub use model::{Invalid, MissedRuns, Platform};
pub use service::{Agents, AgentsError, Begun};
