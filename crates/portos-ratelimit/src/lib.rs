//! Rate limits enforced before a request leaves this machine, as the remote
//! platforms enforce them: per action, a cooldown between two calls and a cap
//! per day, for one scope (an API key, an agent). Kept in a JSON file, so a
//! restart resets nothing; the scope is stored as a fingerprint (SHA-256), never
//! as the key itself. A refusal says which limit and when it frees.
//!
//! Time comes from a [`Clock`], so tests move it by hand.
//! Must not depend on: any wire (reqwest, axum, tonic) or any service crate.

/// The store's error, which a limit's state file can meet; the remote
/// clients pass it on without a dependency of their own on the store.
pub use portos_store::StoreError;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Milliseconds since the epoch, from somewhere.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> u64;
}

/// The system's clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// A clock the caller sets (tests, replays).
#[derive(Debug, Default)]
pub struct ManualClock(Mutex<u64>);

impl ManualClock {
    pub fn new(start_ms: u64) -> Self {
        Self(Mutex::new(start_ms))
    }
    pub fn advance(&self, d: Duration) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) += d.as_millis() as u64;
    }
    pub fn set(&self, ms: u64) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = ms;
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One action's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// At least this long between two calls.
    pub cooldown: Duration,
    /// At most this many calls per day (a day from the first call of the day).
    pub per_day: u32,
}

/// Which limit refused a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Which {
    Cooldown,
    Daily,
    /// The cap on all calls within a sliding window.
    Window,
}

/// A call refused before it left.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{action}: {} ({}); frees in {}s", match .which { Which::Cooldown => "cooldown active", Which::Daily => "daily limit reached", Which::Window => "too many calls", }, .limit_text, .wait.as_secs().max(1))]
pub struct Refused {
    pub action: String,
    pub which: Which,
    /// The limit in words, e.g. "30 min between posts" or "48 per day".
    pub limit_text: String,
    /// How long until the call would be allowed.
    pub wait: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The state file could not be read or written; nothing was sent.
    #[error(transparent)]
    Store(#[from] portos_store::StoreError),
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct Entry {
    last_ms: u64,
    day_start_ms: u64,
    count: u32,
}

/// A call counted by [`Limiter::acquire`], to give back with
/// [`Limiter::release`] when it never reached the remote (network error,
/// timeout, 5xx): a failed try does not spend the quota.
#[derive(Debug)]
pub struct Reservation {
    key: String,
    previous: Option<Entry>,
    taken: Entry,
}

/// What the state file holds: `{ "<fingerprint>:<action>": entry }`.
type Table = BTreeMap<String, Entry>;

/// One action's state, for a status answer.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub action: String,
    pub today_count: u32,
    pub max_per_day: u32,
    pub remaining: u32,
    pub cooldown_ms: u64,
    pub cooldown_remaining_ms: u64,
    pub can_act: bool,
}

/// The limits of one platform, over one state file.
#[derive(Debug)]
pub struct Limiter {
    limits: BTreeMap<&'static str, Limit>,
    path: PathBuf,
    clock: Arc<dyn Clock>,
    /// The table as last written; every change is written before it counts.
    table: Mutex<Option<Table>>,
    /// At most `max` calls of any kind per `len`, per scope (Moltworld's 60 a
    /// minute); kept in memory only, as a minute outlives no restart worth noting.
    window: Option<Window>,
    recent: Mutex<BTreeMap<String, std::collections::VecDeque<u64>>>,
}

/// A cap on every call of a scope within a sliding window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub max: u32,
    pub len: Duration,
}

/// A stable, non-reversible name for a scope (an API key is never written).
pub fn fingerprint(scope: &str) -> String {
    hex::encode(&Sha256::digest(scope.as_bytes())[..12])
}

impl Limiter {
    /// `limits` per action name; state in `path` (created on first use).
    pub fn new(
        limits: impl IntoIterator<Item = (&'static str, Limit)>,
        path: PathBuf,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            limits: limits.into_iter().collect(),
            path,
            clock,
            table: Mutex::new(None),
            window: None,
            recent: Mutex::new(BTreeMap::new()),
        }
    }

    /// Adds a cap on all calls of a scope within a sliding window.
    pub fn with_window(mut self, window: Window) -> Self {
        self.window = Some(window);
        self
    }

    /// Counts one call of `scope` in the window, or says when a slot frees.
    fn take_window_slot(&self, scope: &str, action: &str, now: u64) -> Result<(), Refused> {
        let Some(w) = self.window else {
            return Ok(());
        };
        let len = w.len.as_millis() as u64;
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let q = recent.entry(fingerprint(scope)).or_default();
        while q.front().is_some_and(|t| now.saturating_sub(*t) >= len) {
            q.pop_front();
        }
        if q.len() >= w.max as usize {
            let oldest = q.front().copied().unwrap_or(now);
            return Err(Refused {
                action: action.into(),
                which: Which::Window,
                limit_text: format!("{} calls per {}", w.max, words(w.len)),
                wait: Duration::from_millis((oldest + len).saturating_sub(now)),
            });
        }
        q.push_back(now);
        Ok(())
    }

    /// The table, read from its file on first use.
    fn table<'a>(
        &self,
        guard: &'a mut std::sync::MutexGuard<'_, Option<Table>>,
    ) -> Result<&'a mut Table, portos_store::StoreError> {
        if guard.is_none() {
            **guard = Some(portos_store::read_json(&self.path)?.unwrap_or_default());
        }
        Ok(guard.get_or_insert_with(Table::new))
    }

    /// Changes a copy of the table, writes it, and only then makes it the table:
    /// a change that could not be written never counts.
    fn commit(
        &self,
        table: &mut Table,
        change: impl FnOnce(&mut Table),
    ) -> Result<(), portos_store::StoreError> {
        let mut next = table.clone();
        change(&mut next);
        portos_store::write_json_file(&self.path, &next)?;
        *table = next;
        Ok(())
    }

    fn entry_now(&self, e: Entry, now: u64) -> Entry {
        if now.saturating_sub(e.day_start_ms) >= DAY_MS {
            Entry {
                last_ms: e.last_ms,
                day_start_ms: now,
                count: 0,
            }
        } else {
            e
        }
    }

    /// Whether `action` may go now for `scope`; if so, it is counted (and written)
    /// before the answer, so two callers cannot both take the last slot. Actions
    /// without limits always go.
    pub fn acquire(&self, scope: &str, action: &str) -> Result<Option<Reservation>, LimitError> {
        let now = self.clock.now_ms();
        let Some(limit) = self.limits.get(action).copied() else {
            self.take_window_slot(scope, action, now)?;
            return Ok(None);
        };
        let key = format!("{}:{action}", fingerprint(scope));
        let mut guard = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let table = self.table(&mut guard)?;
        let previous = table.get(&key).copied();
        let e = self.entry_now(previous.unwrap_or_default(), now);
        if e.count >= limit.per_day && e.day_start_ms != 0 {
            return Err(Refused {
                action: action.into(),
                which: Which::Daily,
                limit_text: format!("{} per day", limit.per_day),
                wait: Duration::from_millis(e.day_start_ms + DAY_MS - now),
            }
            .into());
        }
        // `last` may lie ahead of now: a remote's Retry-After holds the action.
        let frees = e.last_ms + limit.cooldown.as_millis() as u64;
        if e.last_ms != 0 && now < frees {
            return Err(Refused {
                action: action.into(),
                which: Which::Cooldown,
                limit_text: format!("{} between calls", words(limit.cooldown)),
                wait: Duration::from_millis(frees - now),
            }
            .into());
        }
        self.take_window_slot(scope, action, now)?;
        let taken = Entry {
            last_ms: now,
            day_start_ms: if e.day_start_ms == 0 {
                now
            } else {
                e.day_start_ms
            },
            count: e.count + 1,
        };
        self.commit(table, |t| {
            t.insert(key.clone(), taken);
        })?;
        Ok(Some(Reservation {
            key,
            previous,
            taken,
        }))
    }

    /// Gives back a call that never reached the remote, unless another call
    /// was counted since (then the later one stands).
    pub fn release(&self, r: Reservation) -> Result<(), portos_store::StoreError> {
        let mut guard = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let table = self.table(&mut guard)?;
        if table.get(&r.key) != Some(&r.taken) {
            return Ok(());
        }
        self.commit(table, |t| {
            match r.previous {
                Some(p) => t.insert(r.key, p),
                None => t.remove(&r.key),
            };
        })
    }

    /// The remote refused with 429: no call of `action` goes before `retry_after`
    /// (the cooldown from now when the remote did not say).
    pub fn sync_from_remote(
        &self,
        scope: &str,
        action: &str,
        retry_after: Option<Duration>,
    ) -> Result<(), portos_store::StoreError> {
        let Some(limit) = self.limits.get(action).copied() else {
            return Ok(());
        };
        let now = self.clock.now_ms();
        let wait = retry_after.unwrap_or(limit.cooldown).as_millis() as u64;
        let cooldown = limit.cooldown.as_millis() as u64;
        // last + cooldown = now + wait.
        let last = (now + wait).saturating_sub(cooldown).max(1);
        let key = format!("{}:{action}", fingerprint(scope));
        let mut guard = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let table = self.table(&mut guard)?;
        let e = self.entry_now(table.get(&key).copied().unwrap_or_default(), now);
        let held = Entry {
            last_ms: last,
            day_start_ms: if e.day_start_ms == 0 {
                now
            } else {
                e.day_start_ms
            },
            count: e.count,
        };
        self.commit(table, |t| {
            t.insert(key, held);
        })?;
        Ok(())
    }

    /// Every limited action's state for `scope`.
    pub fn status(&self, scope: &str) -> Result<Vec<Status>, portos_store::StoreError> {
        let now = self.clock.now_ms();
        let mut guard = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let table = self.table(&mut guard)?;
        let fp = fingerprint(scope);
        Ok(self
            .limits
            .iter()
            .map(|(action, limit)| {
                let e = self.entry_now(
                    table
                        .get(&format!("{fp}:{action}"))
                        .copied()
                        .unwrap_or_default(),
                    now,
                );
                let cooldown = limit.cooldown.as_millis() as u64;
                let remaining_cd = if e.last_ms == 0 {
                    0
                } else {
                    (e.last_ms + cooldown).saturating_sub(now)
                };
                Status {
                    action: (*action).to_string(),
                    today_count: e.count,
                    max_per_day: limit.per_day,
                    remaining: limit.per_day.saturating_sub(e.count),
                    cooldown_ms: cooldown,
                    cooldown_remaining_ms: remaining_cd,
                    can_act: e.count < limit.per_day && remaining_cd == 0,
                }
            })
            .collect())
    }
}

fn words(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(dir: &std::path::Path, clock: Arc<ManualClock>) -> Limiter {
        Limiter::new(
            [(
                "post",
                Limit {
                    cooldown: Duration::from_secs(30 * 60),
                    per_day: 3,
                },
            )],
            dir.join("limits.json"),
            clock,
        )
    }

    #[test]
    fn cooldown_then_daily_cap_and_both_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(1_000_000));
        let l = limiter(dir.path(), clock.clone());
        l.acquire("key-a", "post").unwrap();
        let LimitError::Refused(r) = l.acquire("key-a", "post").unwrap_err() else {
            panic!("refused")
        };
        assert_eq!(r.which, Which::Cooldown);
        assert_eq!(r.wait, Duration::from_secs(30 * 60));
        assert!(r.to_string().contains("30 min between calls"), "{r}");
        // Another scope is not limited by this one.
        l.acquire("key-b", "post").unwrap();
        // Unlimited actions always go.
        l.acquire("key-a", "read").unwrap();
        for _ in 0..2 {
            clock.advance(Duration::from_secs(30 * 60));
            l.acquire("key-a", "post").unwrap();
        }
        clock.advance(Duration::from_secs(30 * 60));
        // A new limiter over the same file: a restart.
        let again = limiter(dir.path(), clock.clone());
        let LimitError::Refused(r) = again.acquire("key-a", "post").unwrap_err() else {
            panic!("refused")
        };
        assert_eq!(r.which, Which::Daily);
        assert_eq!(r.wait, Duration::from_secs(24 * 3600 - 90 * 60));
        clock.advance(r.wait);
        again.acquire("key-a", "post").unwrap();
        // The key itself is never written.
        let text = std::fs::read_to_string(dir.path().join("limits.json")).unwrap();
        assert!(!text.contains("key-a"), "{text}");
    }

    #[test]
    fn a_released_call_spends_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(1_000_000));
        let l = limiter(dir.path(), clock.clone());
        let r = l.acquire("k", "post").unwrap().expect("a limited action");
        l.release(r).unwrap();
        // Not in cooldown, and the day's count is back to 0.
        l.acquire("k", "post").unwrap();
        assert_eq!(l.status("k").unwrap()[0].today_count, 1);
    }

    #[test]
    fn a_remote_429_holds_calls_until_its_retry_after() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(5_000_000));
        let l = limiter(dir.path(), clock.clone());
        l.sync_from_remote("k", "post", Some(Duration::from_secs(90)))
            .unwrap();
        let LimitError::Refused(r) = l.acquire("k", "post").unwrap_err() else {
            panic!("refused")
        };
        assert_eq!(r.wait, Duration::from_secs(90));
        clock.advance(Duration::from_secs(90));
        l.acquire("k", "post").unwrap();
        let s = l.status("k").unwrap();
        assert_eq!(s[0].today_count, 1);
        assert!(!s[0].can_act);
    }

    #[test]
    fn a_corrupt_state_file_is_reported_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("limits.json"), "{oops").unwrap();
        let l = limiter(dir.path(), Arc::new(ManualClock::new(1)));
        assert!(matches!(l.acquire("k", "post"), Err(LimitError::Store(_))));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("limits.json")).unwrap(),
            "{oops"
        );
    }

    #[test]
    fn the_window_caps_every_call_of_a_scope_and_slides() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(5_000_000));
        let l = limiter(dir.path(), clock.clone()).with_window(Window {
            max: 3,
            len: Duration::from_secs(60),
        });
        for _ in 0..3 {
            l.acquire("agent-1", "profile").unwrap();
            clock.advance(Duration::from_secs(10));
        }
        let Err(LimitError::Refused(r)) = l.acquire("agent-1", "post") else {
            panic!("the 4th call inside a minute must be refused");
        };
        assert_eq!(r.which, Which::Window);
        assert_eq!(r.wait, Duration::from_secs(30), "{r}");
        assert!(r.to_string().contains("3 calls per 1 min"), "{r}");
        // Another scope has its own window.
        l.acquire("agent-2", "profile").unwrap();
        clock.advance(Duration::from_secs(30));
        l.acquire("agent-1", "profile").unwrap();
    }
}
