//! The scheduler's decisions, apart from any clock or I/O: which schedules are
//! active, when each fires next, which fire now, and what a firing that finds
//! the previous run still going, or slots missed while PortOS was down, turn
//! into. The service asks it with the time of its clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::model::MissedRuns;
use crate::timing::Plan;

/// What the planner decided for one schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firing {
    /// Run it now.
    Run { id: String, why: Why },
    /// Do not run it; record why.
    Skip { id: String, why: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// Its time came.
    Due,
    /// It missed `n` slots while PortOS was down; the policy runs it once.
    Missed(u64),
}

#[derive(Debug)]
struct Slot {
    /// `None` for a schedule that is not active but has a manual run going.
    plan: Option<Plan>,
    next: Option<DateTime<Utc>>,
    running: bool,
}

/// The active schedules and their next times.
#[derive(Debug, Default)]
pub struct Planner {
    slots: BTreeMap<String, Slot>,
}

fn draw(min: u64, max: u64) -> u64 {
    if max <= min {
        min
    } else {
        rand::random_range(min..max)
    }
}

impl Planner {
    /// Makes `id` active from `now` (replacing what it had). `last_run` with
    /// `policy` decides about slots missed since: pass `at_start` only when
    /// PortOS itself starts (a schedule switched on later missed nothing).
    pub fn activate(
        &mut self,
        id: &str,
        plan: Plan,
        now: DateTime<Utc>,
        since: Option<DateTime<Utc>>,
        policy: MissedRuns,
        at_start: bool,
    ) -> Option<Firing> {
        let running = self.slots.get(id).is_some_and(|s| s.running);
        let missed = match since {
            Some(t) if at_start && t < now => plan.missed(t, now),
            _ => 0,
        };
        let next = plan.next(now, draw);
        self.slots.insert(
            id.to_string(),
            Slot {
                plan: Some(plan),
                next,
                running,
            },
        );
        if missed == 0 {
            return None;
        }
        Some(match policy {
            MissedRuns::Skip => Firing::Skip {
                id: id.to_string(),
                why: format!(
                    "missed {missed} run{} while PortOS was not running (missedRuns: skip)",
                    if missed == 1 { "" } else { "s" }
                ),
            },
            MissedRuns::RunOnce => {
                self.mark_running(id);
                Firing::Run {
                    id: id.to_string(),
                    why: Why::Missed(missed),
                }
            }
        })
    }

    pub fn deactivate(&mut self, id: &str) {
        self.slots.remove(id);
    }

    pub fn is_active(&self, id: &str) -> bool {
        self.slots.get(id).is_some_and(|s| s.plan.is_some())
    }

    pub fn active_count(&self) -> usize {
        self.slots.values().filter(|s| s.plan.is_some()).count()
    }

    pub fn is_running(&self, id: &str) -> bool {
        self.slots.get(id).is_some_and(|s| s.running)
    }

    /// When `id` fires next.
    pub fn next_of(&self, id: &str) -> Option<DateTime<Utc>> {
        self.slots.get(id).and_then(|s| s.next)
    }

    /// The earliest next firing of all.
    pub fn next_wake(&self) -> Option<DateTime<Utc>> {
        self.slots.values().filter_map(|s| s.next).min()
    }

    /// Claims `id` for a run outside its timing (a manual run): false when a
    /// run of it is still going.
    pub fn mark_running(&mut self, id: &str) -> bool {
        match self.slots.get_mut(id) {
            Some(s) if s.running => false,
            Some(s) => {
                s.running = true;
                true
            }
            // Not active (disabled): runs are still not doubled.
            None => {
                self.slots.insert(
                    id.to_string(),
                    Slot {
                        plan: None,
                        next: None,
                        running: true,
                    },
                );
                true
            }
        }
    }

    /// Everything due at `now`. A schedule whose previous run is still going
    /// is skipped for this slot, never run twice at once.
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<Firing> {
        let mut out = Vec::new();
        for (id, s) in &mut self.slots {
            let Some(at) = s.next.filter(|t| *t <= now) else {
                continue;
            };
            let ran = !s.running;
            if ran {
                s.running = true;
                out.push(Firing::Run {
                    id: id.clone(),
                    why: Why::Due,
                });
            } else {
                out.push(Firing::Skip {
                    id: id.clone(),
                    why: format!(
                        "the run due at {} was skipped: the previous run is still going",
                        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                });
            }
            // An interval counts from the end of its run; others from now.
            s.next = match &s.plan {
                Some(Plan::Interval(_)) if ran => None,
                Some(p) => p.next(now, draw),
                None => None,
            };
        }
        out
    }

    /// A run of `id` ended at `now`; an interval schedule counts from here.
    pub fn finished(&mut self, id: &str, now: DateTime<Utc>) {
        let Some(s) = self.slots.get_mut(id) else {
            return;
        };
        s.running = false;
        match &s.plan {
            Some(p) if s.next.is_none() => s.next = p.next(now, draw),
            Some(_) => {}
            // The placeholder of a manual run of an inactive schedule.
            None => {
                self.slots.remove(id);
            }
        }
    }
}
