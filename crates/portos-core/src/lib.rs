//! The vocabulary every domain crate shares with the edges that serve it.
//!
//! Owns: [`Problem`], an error a client can act on (its [`Kind`] decides the
//! HTTP status and the gRPC code at the edge, its `code` is the machine word of
//! the original's `{ error, code }` answers); [`Events`], the sink a domain
//! crate publishes live events to (the api server's hub implements it);
//! [`time`], UTC stamps in the data files' formats; [`text`], text out of
//! output that arrives in pieces; and [`secrets`], which names and masks
//! secrets before anything leaves.
//! Must not depend on: any wire (axum, tonic, hyper, tower) or any other PortOS crate.

pub mod secrets;
pub mod siblings;
pub mod text;
pub mod time;

use serde_json::Value;

/// The id the original derives from a name: lower case, every character
/// outside `a-z0-9` as `-`.
pub fn id_from_name(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// What kind of problem a request met; the edge maps it to a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request is wrong (400).
    Invalid,
    /// The request lacks a credential (401).
    Unauthenticated,
    /// Not allowed, whoever asks (403).
    Forbidden,
    /// What the request names does not exist (404).
    NotFound,
    /// The request fits neither the state nor an existing name (409).
    Conflict,
    /// The request is well formed but cannot be carried out (422).
    Unprocessable,
    /// Too many requests (429).
    TooMany,
    /// Something this process relies on failed (500).
    Internal,
    /// A remote service answered badly (502).
    BadGateway,
    /// A service this one relies on is not there (503).
    Unavailable,
}

/// An error a client can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Problem {
    pub kind: Kind,
    /// Machine-readable, e.g. `NOT_FOUND`, `VALIDATION_ERROR`.
    pub code: &'static str,
    pub message: String,
    /// What a client may need to fix it (a field, the missing names, ...).
    pub context: Option<Value>,
}

impl Problem {
    pub fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            context: None,
        }
    }

    pub fn with_context(mut self, context: Value) -> Self {
        self.context = Some(context);
        self
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }
}

/// The usual problems, for any error type a [`Problem`] converts into:
/// `AiError::not_found("Run not found")`.
pub trait Refuse: From<Problem> + Sized {
    fn problem(kind: Kind, code: &'static str, message: impl Into<String>) -> Self {
        Problem::new(kind, code, message).into()
    }
    fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::problem(Kind::Invalid, code, message)
    }
    fn validation(message: impl Into<String>) -> Self {
        Self::problem(Kind::Invalid, "VALIDATION_ERROR", message)
    }
    fn not_found(message: impl Into<String>) -> Self {
        Self::problem(Kind::NotFound, "NOT_FOUND", message)
    }
    fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::problem(Kind::Conflict, code, message)
    }
    fn internal(message: impl Into<String>) -> Self {
        Self::problem(Kind::Internal, "INTERNAL_ERROR", message)
    }
    fn unavailable(message: impl Into<String>) -> Self {
        Self::problem(Kind::Unavailable, "SERVICE_UNAVAILABLE", message)
    }
}

impl<T: From<Problem>> Refuse for T {}

/// Where a domain crate's live events go. Events carry JSON data, as the
/// original's Socket.IO events do; the sink decides the wire.
pub trait Events: Send + Sync + std::fmt::Debug {
    /// To every connected client.
    fn broadcast(&self, event: &str, data: &Value);
    /// To the subscribers of `channel`.
    fn publish(&self, channel: &str, event: &str, data: &Value);
}

/// A sink that drops every event (for tools and tests that do not listen).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl Events for NoEvents {
    fn broadcast(&self, _: &str, _: &Value) {}
    fn publish(&self, _: &str, _: &str, _: &Value) {}
}
