//! Answers rendered once per version of the data they come from.
//!
//! A read route that turns a shared parsed file ([`portos_store::JsonStore::load_shared`])
//! into JSON keeps the bytes here, keyed by that parsed value and the
//! request's parameters. A write, or another program's edit, gives the store
//! a new parsed value, so a stale answer is never found again; the few kept
//! entries hold their values alive, so no address is reused while they live.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::ApiError;

/// How many answers are kept (the oldest goes first).
const CAPACITY: usize = 64;

#[derive(Default)]
pub struct Rendered {
    entries: Mutex<VecDeque<Entry>>,
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendered").finish_non_exhaustive()
    }
}

struct Entry {
    source: Arc<dyn Any + Send + Sync>,
    key: String,
    body: Bytes,
}

impl Rendered {
    /// The JSON answer for `key` over `source`, rendered by `render` unless
    /// it is already kept for this very `source`.
    pub fn json<T, V>(
        &self,
        source: &Arc<T>,
        key: &str,
        render: impl FnOnce(&Arc<T>) -> V,
    ) -> Result<Response, ApiError>
    where
        T: Send + Sync + 'static,
        V: Serialize,
    {
        let same = |e: &Entry| {
            std::ptr::addr_eq(Arc::as_ptr(&e.source), Arc::as_ptr(source)) && e.key == key
        };
        let hit = self.lock().iter().find(|e| same(e)).map(|e| e.body.clone());
        let body = match hit {
            Some(b) => b,
            None => {
                let bytes = serde_json::to_vec(&render(source))
                    .map_err(|e| ApiError::internal(format!("cannot encode the answer: {e}")))?;
                let body = Bytes::from(bytes);
                let mut entries = self.lock();
                entries.retain(|e| e.key != key);
                if entries.len() >= CAPACITY {
                    entries.pop_front();
                }
                entries.push_back(Entry {
                    source: source.clone(),
                    key: key.to_string(),
                    body: body.clone(),
                });
                body
            }
        };
        Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
