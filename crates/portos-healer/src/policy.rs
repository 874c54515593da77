//! When to fix: the pure rules, on a clock the caller gives (milliseconds since
//! the epoch), so a day of crashes can be simulated in a test.
//!
//! A process is *crashing* when it enters `errored`, or when it exited
//! `crash_count` times within `crash_window_ms` — a crash loop that PM2's
//! `errored` would never catch (its runs may each outlast `min_uptime`). Per
//! crashing process: no fix while one runs for its app, none inside the
//! cooldown after a fix (a good fix starts `cooldown_ms`, a failed one
//! `failure_backoff_ms` doubled per failure in a row), at most
//! `max_attempts_per_day` a UTC day.

use std::collections::{HashMap, HashSet, VecDeque};

use serde::Serialize;

use crate::config::Config;

/// What the supervisor said happened to a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happened {
    /// Its child exited by itself (a stop by request is not an exit).
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// It gave up restarting it.
    Errored,
    /// It answers its health probe (or, without one, outlived `min_uptime`).
    Healthy,
    /// Anything else (started, stopping, stopped, ...).
    Other,
}

/// One event about one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessEvent {
    pub process: String,
    /// `portos`, or the app's id.
    pub group: String,
    pub happened: Happened,
    pub at_ms: u64,
    /// The supervisor's words (the exit, the crash loop).
    pub reason: String,
}

/// Why a fix starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    CrashLoop,
    Errored,
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::CrashLoop => "crash-loop",
            Trigger::Errored => "errored",
            Trigger::Manual => "manual",
        }
    }
}

/// The rules' answer to an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not a crash, or not yet a crash loop.
    Nothing,
    /// Crashing, but no fix now, and why.
    Hold(String),
    /// Start a fix (the slot is taken: call [`Policy::finished`] after).
    Fix(Trigger),
}

#[derive(Debug, Default, Clone)]
struct Proc {
    crashes: VecDeque<u64>,
    quiet_until: u64,
    failures_in_a_row: u32,
    day: u64,
    attempts_today: u32,
}

/// What the healer shows of one process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Standing {
    pub process: String,
    /// `watching`, `cooling-down` or `fixing`.
    pub state: &'static str,
    /// Until when a new fix waits (epoch ms), while cooling down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<u64>,
    pub crashes_in_window: usize,
    pub attempts_today: u32,
}

/// The healer's memory of crashes and fixes.
#[derive(Debug, Default)]
pub struct Policy {
    procs: HashMap<String, Proc>,
    /// Apps with a fix running (one at a time per app).
    fixing: HashSet<String>,
    /// Processes with a fix running.
    fixing_procs: HashSet<String>,
}

const DAY_MS: u64 = 86_400_000;

impl Policy {
    /// Takes one event; on [`Decision::Fix`] the app's slot is taken.
    pub fn observe(&mut self, cfg: &Config, ev: &ProcessEvent, app: &str) -> Decision {
        let trigger = match &ev.happened {
            Happened::Errored => Trigger::Errored,
            Happened::Exited { code, signal } => {
                if *code == Some(0) && signal.is_none() {
                    return Decision::Nothing;
                }
                let p = self.procs.entry(ev.process.clone()).or_default();
                p.crashes.push_back(ev.at_ms);
                let since = ev.at_ms.saturating_sub(cfg.crash_window_ms);
                while p.crashes.front().is_some_and(|t| *t < since) {
                    p.crashes.pop_front();
                }
                if p.crashes.len() < cfg.crash_count as usize {
                    return Decision::Nothing;
                }
                Trigger::CrashLoop
            }
            Happened::Healthy | Happened::Other => return Decision::Nothing,
        };
        if !cfg.enabled {
            return Decision::Hold("the autofixer is paused".into());
        }
        self.take(cfg, &ev.process, app, ev.at_ms, trigger)
    }

    /// A fix asked for by the owner: no cooldown or daily cap, but still one
    /// at a time per app.
    pub fn manual(&mut self, cfg: &Config, process: &str, app: &str, now_ms: u64) -> Decision {
        self.take(cfg, process, app, now_ms, Trigger::Manual)
    }

    fn take(&mut self, cfg: &Config, process: &str, app: &str, now: u64, t: Trigger) -> Decision {
        if self.fixing.contains(app) || self.fixing_procs.contains(process) {
            return Decision::Hold(format!("a fix for {app} is running"));
        }
        let p = self.procs.entry(process.to_string()).or_default();
        if p.day != now / DAY_MS {
            p.day = now / DAY_MS;
            p.attempts_today = 0;
        }
        if t != Trigger::Manual {
            if now < p.quiet_until {
                return Decision::Hold(format!(
                    "cooling down for {} s more",
                    (p.quiet_until - now).div_ceil(1000)
                ));
            }
            if p.attempts_today >= cfg.max_attempts_per_day {
                return Decision::Hold(format!("{} fixes today, the daily cap", p.attempts_today));
            }
        }
        p.attempts_today += 1;
        p.crashes.clear();
        self.fixing.insert(app.to_string());
        self.fixing_procs.insert(process.to_string());
        Decision::Fix(t)
    }

    /// A fix ended (`good`: the process stayed healthy after it); frees the
    /// app's slot and starts the cooldown.
    pub fn finished(&mut self, cfg: &Config, process: &str, app: &str, good: bool, now_ms: u64) {
        self.fixing.remove(app);
        self.fixing_procs.remove(process);
        let p = self.procs.entry(process.to_string()).or_default();
        p.crashes.clear();
        if good {
            p.failures_in_a_row = 0;
            p.quiet_until = now_ms + cfg.cooldown_ms;
        } else {
            p.failures_in_a_row = p.failures_in_a_row.saturating_add(1);
            let doubling = 1u64 << p.failures_in_a_row.saturating_sub(1).min(16);
            p.quiet_until = now_ms + cfg.failure_backoff_ms.saturating_mul(doubling).min(DAY_MS);
        }
    }

    /// A fix that never started (the process healed itself, the agent could
    /// not be found): the slot is freed, no cooldown, the attempt not counted.
    pub fn released(&mut self, process: &str, app: &str) {
        self.fixing.remove(app);
        self.fixing_procs.remove(process);
        if let Some(p) = self.procs.get_mut(process) {
            p.attempts_today = p.attempts_today.saturating_sub(1);
        }
    }

    /// What each process the healer has seen crash is doing.
    pub fn standings(&self, now_ms: u64) -> Vec<Standing> {
        let mut v: Vec<Standing> = self
            .procs
            .iter()
            .map(|(name, p)| {
                let fixing = self.fixing_procs.contains(name);
                let cooling = !fixing && now_ms < p.quiet_until;
                Standing {
                    process: name.clone(),
                    state: if fixing {
                        "fixing"
                    } else if cooling {
                        "cooling-down"
                    } else {
                        "watching"
                    },
                    until_ms: cooling.then_some(p.quiet_until),
                    crashes_in_window: p.crashes.len(),
                    attempts_today: if p.day == now_ms / DAY_MS {
                        p.attempts_today
                    } else {
                        0
                    },
                }
            })
            .collect();
        v.sort_by(|a, b| a.process.cmp(&b.process));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(at_ms: u64) -> ProcessEvent {
        ProcessEvent {
            process: "web".into(),
            group: "app".into(),
            happened: Happened::Exited {
                code: Some(1),
                signal: None,
            },
            at_ms,
            reason: String::new(),
        }
    }

    #[test]
    fn a_crash_loop_is_caught_before_errored_and_clean_exits_are_not_crashes() {
        let cfg = Config::default();
        let mut p = Policy::default();
        let t0 = 10 * DAY_MS;
        assert_eq!(p.observe(&cfg, &exit(t0), "app"), Decision::Nothing);
        assert_eq!(p.observe(&cfg, &exit(t0 + 1000), "app"), Decision::Nothing);
        let mut clean = exit(t0 + 1500);
        clean.happened = Happened::Exited {
            code: Some(0),
            signal: None,
        };
        assert_eq!(p.observe(&cfg, &clean, "app"), Decision::Nothing);
        assert_eq!(
            p.observe(&cfg, &exit(t0 + 2000), "app"),
            Decision::Fix(Trigger::CrashLoop)
        );
    }

    #[test]
    fn crashes_spread_wider_than_the_window_are_no_loop() {
        let cfg = Config::default();
        let mut p = Policy::default();
        for i in 0..10 {
            assert_eq!(
                p.observe(&cfg, &exit(i * (cfg.crash_window_ms / 2 + 1)), "app"),
                Decision::Nothing
            );
        }
    }

    #[test]
    fn one_fix_per_app_then_a_cooldown_then_the_next() {
        let cfg = Config::default();
        let mut p = Policy::default();
        let mut errored = exit(0);
        errored.happened = Happened::Errored;
        assert_eq!(
            p.observe(&cfg, &errored, "app"),
            Decision::Fix(Trigger::Errored)
        );
        // Another process of the same app, while the fix runs: held.
        let mut other = errored.clone();
        other.process = "worker".into();
        assert!(matches!(p.observe(&cfg, &other, "app"), Decision::Hold(_)));
        p.finished(&cfg, "web", "app", true, 1000);
        errored.at_ms = 2000;
        let held = p.observe(&cfg, &errored, "app");
        assert!(
            matches!(&held, Decision::Hold(w) if w.contains("cooling down")),
            "{held:?}"
        );
        errored.at_ms = 1000 + cfg.cooldown_ms;
        assert_eq!(
            p.observe(&cfg, &errored, "app"),
            Decision::Fix(Trigger::Errored)
        );
        // The owner's "fix now" skips the cooldown, never the one-at-a-time.
        assert!(matches!(p.manual(&cfg, "web", "app", 5), Decision::Hold(_)));
        p.finished(&cfg, "web", "app", true, errored.at_ms);
        assert_eq!(
            p.manual(&cfg, "web", "app", errored.at_ms + 1),
            Decision::Fix(Trigger::Manual)
        );
    }

    #[test]
    fn an_hour_of_crashes_with_failing_fixes_makes_few_attempts() {
        let cfg = Config {
            failure_backoff_ms: 60_000,
            ..Config::default()
        };
        let mut p = Policy::default();
        let mut fixes = 0;
        // A crash every 2 s for an hour; each fix fails 30 s after it starts.
        let mut fix_ends_at = None;
        for i in 0..1800u64 {
            let now = 3 * DAY_MS + i * 2000;
            if fix_ends_at.is_some_and(|t| now >= t) {
                p.finished(&cfg, "web", "app", false, now);
                fix_ends_at = None;
            }
            if let Decision::Fix(_) = p.observe(&cfg, &exit(now), "app") {
                fixes += 1;
                fix_ends_at = Some(now + 30_000);
            }
        }
        // Backoff 1, 2, 4, 8, 16 min after each failure: 5 fit in the hour,
        // and the daily cap (5) holds too.
        assert!(fixes <= cfg.max_attempts_per_day, "{fixes} fixes");
        assert!(fixes >= 2, "{fixes} fixes");
        let s = &p.standings(3 * DAY_MS + 3_600_000)[0];
        assert_eq!(s.attempts_today, fixes);
    }

    #[test]
    fn the_daily_cap_resets_on_the_next_utc_day_and_a_release_gives_the_attempt_back() {
        let cfg = Config {
            max_attempts_per_day: 1,
            cooldown_ms: 0,
            ..Config::default()
        };
        let mut p = Policy::default();
        let mut e = exit(DAY_MS);
        e.happened = Happened::Errored;
        assert_eq!(p.observe(&cfg, &e, "app"), Decision::Fix(Trigger::Errored));
        p.released("web", "app");
        assert_eq!(p.observe(&cfg, &e, "app"), Decision::Fix(Trigger::Errored));
        p.finished(&cfg, "web", "app", true, DAY_MS + 10);
        e.at_ms = DAY_MS + 20;
        assert!(matches!(p.observe(&cfg, &e, "app"), Decision::Hold(w) if w.contains("cap")));
        e.at_ms = 2 * DAY_MS;
        assert_eq!(p.observe(&cfg, &e, "app"), Decision::Fix(Trigger::Errored));
    }
}
