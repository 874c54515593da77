//! The documented shapes of the api's JSON bodies: the OpenAPI schemas of
//! what the handlers answer, one file per area, and of what the writes take
//! ([`requests`]). The domain crates build most
//! answers as JSON in the original's shapes (so a user's clients keep
//! working); these types only describe them, and are never built. Every
//! answer an api test gets is checked against them (`tests/api/conformance.rs`),
//! and schemathesis checks them against a live stack.
//!
//! A field is required when the answer always has it; an `Option` may be
//! absent or `null`; `Value` is any JSON. Objects may carry more keys than
//! listed (the original's files keep fields this server does not know).
#![allow(dead_code)]

pub mod agents;
pub mod brain;
pub mod cos;
pub mod requests;
pub mod runs;
pub mod services;
pub mod system;
pub mod writes;

use std::collections::BTreeMap;

/// `{ success: true }` and the like: a write that answers only whether it
/// was done.
#[derive(utoipa::ToSchema)]
pub struct Done {
    pub success: bool,
}

/// Counts by a key (`{ "<key>": n }`).
pub type Counts = BTreeMap<String, u64>;
