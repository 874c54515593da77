//! Hands the heap's free pages back to the kernel.
//!
//! Owns: when a PortOS process calls glibc's `malloc_trim(0)`. glibc keeps
//! what a process freed in its arenas (one per thread that allocated, up to
//! eight per core) and returns little of it by itself. Measured on the api
//! server: start-up (the OpenAPI document, the seed) leaves about 12 MiB free
//! but resident; a schedule that appends to a day's activity file every
//! second grew it by 17 KiB a firing with next to nothing live, because each
//! read of the growing file took a larger block than the last one freed. A
//! trim gave all of it back. [`keep_trimmed`] trims at start, once a burst of
//! requests has ended (a second without any, at most every few seconds), and
//! every minute whatever happens.
//!
//! Must not depend on: any other PortOS crate, or any wire (the caller counts
//! its own requests into an [`Activity`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// How often [`keep_trimmed`] looks whether a burst has ended.
const TICK: Duration = Duration::from_secs(1);
/// The least time between two trims after bursts (a dashboard polling every
/// second ends a "burst" each second).
const MIN_GAP: Duration = Duration::from_secs(5);
/// The most time between two trims, busy or not (work that is not a request:
/// schedules, runs, timers).
const MAX_GAP: Duration = Duration::from_secs(60);

/// A count of units of work (requests) a process has begun; cheap to clone and
/// to bump from any thread.
#[derive(Debug, Clone, Default)]
pub struct Activity(Arc<AtomicU64>);

impl Activity {
    /// One more unit of work.
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// `malloc_trim(0)`: every arena's free pages back to the kernel. Nothing
/// where the allocator is not glibc's.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim(3) takes no pointers and is safe to call from any
    // thread at any time; it only returns free heap pages to the kernel.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

/// When to trim, given what was seen at each tick: a pure state machine, so
/// the policy is tested without a clock or an allocator.
#[derive(Debug)]
struct Policy {
    last_count: u64,
    busy: bool,
    last_trim: Instant,
}

impl Policy {
    fn new(count: u64, now: Instant) -> Self {
        Self {
            last_count: count,
            busy: false,
            last_trim: now,
        }
    }

    /// Whether to trim now, `count` being the activity seen at this tick.
    fn tick(&mut self, count: u64, now: Instant) -> bool {
        let moved = count != self.last_count;
        self.last_count = count;
        let since = now.saturating_duration_since(self.last_trim);
        let burst_ended = self.busy && !moved && since >= MIN_GAP;
        if moved {
            self.busy = true;
        }
        if burst_ended || since >= MAX_GAP {
            self.busy = false;
            self.last_trim = now;
            return true;
        }
        false
    }
}

/// Trims now, then after each burst of `activity` and at least every minute;
/// runs until dropped (abort its task, or let the runtime end).
pub async fn keep_trimmed(activity: Activity) {
    trim();
    let mut policy = Policy::new(activity.count(), Instant::now());
    let mut every = tokio::time::interval(TICK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        every.tick().await;
        if policy.tick(activity.count(), Instant::now()) {
            trim();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, secs: u64) -> Instant {
        start + Duration::from_secs(secs)
    }

    #[test]
    fn a_burst_is_trimmed_after_a_quiet_second_and_idle_only_each_minute() {
        let t0 = Instant::now();
        let mut p = Policy::new(0, t0);
        // Idle: nothing until the minute.
        assert!((1..60).all(|s| !p.tick(0, at(t0, s))));
        assert!(p.tick(0, at(t0, 60)));
        // A burst from 61 to 70: no trim while it lasts, one the second after.
        assert!((61..=70).all(|s| !p.tick(s, at(t0, s))));
        assert!(p.tick(70, at(t0, 71)));
        assert!(!p.tick(70, at(t0, 72)), "one trim per burst");
    }

    #[test]
    fn bursts_a_second_apart_are_trimmed_at_most_every_few_seconds() {
        let t0 = Instant::now();
        let mut p = Policy::new(0, t0);
        let mut count = 0;
        let mut trims = Vec::new();
        for s in 1..=30 {
            // A request every other second, as a dashboard polling.
            if s % 2 == 1 {
                count += 1;
            }
            if p.tick(count, at(t0, s)) {
                trims.push(s);
            }
        }
        assert!(!trims.is_empty());
        assert!(
            trims.windows(2).all(|w| w[1] - w[0] >= MIN_GAP.as_secs()),
            "{trims:?}"
        );
    }

    /// Resident pages of this process, in KiB.
    fn rss_kib() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn a_trim_gives_back_what_a_fragmented_arena_holds() {
        // 64 MiB in 4 KiB blocks on a thread of its own (its own arena), then
        // all but one block in 64 freed: free pages glibc keeps resident.
        let kept = std::thread::spawn(|| {
            let mut blocks: Vec<Vec<u8>> = (0..16_384).map(|i| vec![i as u8; 4096]).collect();
            let kept: Vec<Vec<u8>> = blocks.iter_mut().step_by(64).map(std::mem::take).collect();
            drop(blocks);
            kept
        })
        .join()
        .unwrap();
        let before = rss_kib();
        trim();
        let after = rss_kib();
        assert!(
            before >= after + 32 * 1024,
            "a trim should give back most of 63 MiB: {before} → {after} KiB"
        );
        drop(kept);
    }

    #[test]
    fn busy_without_pause_is_still_trimmed_each_minute() {
        let t0 = Instant::now();
        let mut p = Policy::new(0, t0);
        let trims: Vec<u64> = (1..=130).filter(|&s| p.tick(s, at(t0, s))).collect();
        assert_eq!(trims, vec![60, 120]);
    }
}
