//! What the store's file tests share: an activity-like entry, a store in a
//! temporary folder, and the allocation counter.

pub mod largest;

use portos_store::JsonStore;
use serde_json::{Value, json};

/// The `i`th entry of a day of activity, with a newline and quotes to escape.
pub fn entry(i: usize) -> Value {
    json!({
        "id": format!("{i}-abc"),
        "accountId": "acc",
        "scheduleId": null,
        "action": "mw_build",
        "params": { "x": i, "note": "line one\nline two \"quoted\"" },
        "status": "completed",
        "timestamp": "2026-12-04T10:00:00.000Z"
    })
}

/// A store over a fresh temporary folder (kept while the guard lives).
pub fn store() -> (tempfile::TempDir, JsonStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = JsonStore::new(dir.path());
    (dir, store)
}
