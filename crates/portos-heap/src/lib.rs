//! Hands the heap's free pages back to the kernel.
//!
//! Owns: when a PortOS process calls glibc's `malloc_trim(0)`, and how many
//! arenas glibc's malloc may make ([`limit_arenas`]). glibc keeps
//! what a process freed in its arenas (one per thread that allocated, up to
//! eight per core) and returns little of it by itself. Measured on the api
//! server: start-up (the OpenAPI document, the seed) leaves about 12 MiB free
//! but resident, which a trim gives back. A trim cannot give back pages still
//! partly in use: growth from buffers that grow with a file (the day's
//! activity log, read whole per entry) kept on despite it, and was fixed where
//! the file is written (`JsonStore::append`). [`keep_trimmed`] trims at start, once a burst of
//! requests has ended (a second without any, at most every few seconds), and
//! every minute whatever happens.
//!
//! Also the binary's own pages: RSS counts every page of code mapped in, and
//! start-up runs once through far more code (the seed, the OpenAPI document,
//! every route's table entry) than serving does; the kernel maps each touched
//! page with its neighbours. The api server had 10 MiB of its 11 MiB of code
//! resident after start, 5 MiB of it needed to serve. [`release_code`], called
//! once as serving begins, hands those clean pages back (`MADV_PAGEOUT`, Linux
//! 5.4 and later); what is used again comes back from the page cache.
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

/// How many malloc arenas a process may have (glibc's default is eight per
/// core).
const ARENAS: i32 = 2;

/// Caps glibc's malloc arenas at [`ARENAS`]; call it first in `main`,
/// before any thread is started. Each arena keeps its own free memory, and a
/// trim can only give back whole free pages: measured on the api server over
/// a soak, its seven arenas grew by ~100 KiB each in ten minutes while its
/// live heap did not grow (heaptrack). Fewer arenas share their free space
/// between threads; a process with two cores gains nothing from more.
/// Nothing where the allocator is not glibc's.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt(3) takes no pointers; M_ARENA_MAX only bounds how many
    // arenas later threads may create.
    unsafe {
        nix::libc::mallopt(nix::libc::M_ARENA_MAX, ARENAS);
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

/// Unmaps the resident pages of this program's own code and read-only data
/// (clean file pages: nothing is lost, a page used again faults back in).
/// Nothing on kernels without `MADV_PAGEOUT`.
pub fn release_code() {
    #[cfg(target_os = "linux")]
    {
        let (Ok(exe), Ok(maps)) = (
            std::fs::read_link("/proc/self/exe"),
            std::fs::read_to_string("/proc/self/maps"),
        ) else {
            return;
        };
        for (start, end) in read_only_ranges(&maps, &exe.to_string_lossy()) {
            #[allow(unsafe_code)]
            // SAFETY: the range is a whole mapping of our own executable, not
            // writable; MADV_PAGEOUT only reclaims its pages (a later access
            // faults them back from the file), it changes no memory's content.
            unsafe {
                nix::libc::madvise(
                    start as *mut nix::libc::c_void,
                    end - start,
                    nix::libc::MADV_PAGEOUT,
                );
            }
        }
    }
}

/// The mappings of `exe` in `/proc/self/maps` text that are readable and not
/// writable (its code and read-only data), as address ranges.
fn read_only_ranges(maps: &str, exe: &str) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (range, perms) = (f.next()?, f.next()?);
            let path = f.nth(3)?;
            let ours =
                path == exe && perms.starts_with('r') && perms.as_bytes().get(1) == Some(&b'-');
            let (a, b) = range.split_once('-')?;
            let range = (
                usize::from_str_radix(a, 16).ok()?,
                usize::from_str_radix(b, 16).ok()?,
            );
            ours.then_some(range)
        })
        .collect()
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

/// Trims now (and releases the code start-up ran), then after each burst of `activity` and at least every minute;
/// runs until dropped (abort its task, or let the runtime end).
pub async fn keep_trimmed(activity: Activity) {
    trim();
    release_code();
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
    fn only_the_programs_own_read_only_mappings_are_released() {
        let maps = "\
55a0-55b0 r--p 00000000 fd:01 12 /opt/portos/bin/portos-api
55b0-55f0 r-xp 00010000 fd:01 12 /opt/portos/bin/portos-api
55f0-5600 rw-p 00050000 fd:01 12 /opt/portos/bin/portos-api
7f00-7f10 r-xp 00000000 fd:01 40 /usr/lib/x86_64-linux-gnu/libc.so.6
7f20-7f30 rw-p 00000000 00:00 0
7ffe-7fff r-xp 00000000 00:00 0 [vdso]
";
        assert_eq!(
            read_only_ranges(maps, "/opt/portos/bin/portos-api"),
            vec![(0x55a0, 0x55b0), (0x55b0, 0x55f0)]
        );
    }

    /// Resident KiB of this program's own code and read-only data.
    fn code_rss_kib() -> u64 {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let exe = exe.to_string_lossy();
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut ours = false;
        let mut kib = 0;
        for line in smaps.lines() {
            if line.contains('-') && line.split_whitespace().count() >= 5 && !line.ends_with(" kB")
            {
                let perms = line.split_whitespace().nth(1).unwrap_or("");
                ours = line.ends_with(exe.as_ref()) && perms.starts_with("r-");
            } else if ours && let Some(v) = line.strip_prefix("Rss:") {
                kib += v
                    .trim()
                    .trim_end_matches(" kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap_or(0);
            }
        }
        kib
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn released_code_is_no_longer_resident_and_still_runs() {
        let before = code_rss_kib();
        release_code();
        let after = code_rss_kib();
        assert!(before > 0);
        assert!(after < before, "resident code {before} → {after} KiB");
        // Whatever was released faults back in when it runs.
        a_burst_is_trimmed_after_a_quiet_second_and_idle_only_each_minute();
    }

    #[test]
    fn busy_without_pause_is_still_trimmed_each_minute() {
        let t0 = Instant::now();
        let mut p = Policy::new(0, t0);
        let trims: Vec<u64> = (1..=130).filter(|&s| p.tick(s, at(t0, s))).collect();
        assert_eq!(trims, vec![60, 120]);
    }
}
