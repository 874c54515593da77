//! When a schedule fires, in UTC: five-field cron expressions (standard
//! semantics through `croner`: names, steps on ranges, `7` as Sunday, and day
//! of month OR day of week when both are set — the original's quirks fixed),
//! fixed intervals, and a random delay drawn in a window. Pure functions of
//! the time given, so tests set the clock.

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use croner::Cron;

use crate::model::{Invalid, Timing};

/// A schedule's timing, parsed.
#[derive(Debug, Clone)]
pub enum Plan {
    Cron(Box<Cron>),
    Interval(TimeDelta),
    Random { min_ms: u64, max_ms: u64 },
}

/// At most this many missed slots are counted (a year of minutes is more).
const MISSED_CAP: u64 = 1000;

impl Plan {
    pub fn of(t: &Timing) -> Result<Self, Invalid> {
        match t.kind.as_str() {
            "cron" => {
                let expr = t
                    .cron
                    .as_deref()
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| {
                        Invalid("schedule.cron is required for a cron schedule".into())
                    })?;
                let fields = expr.split_whitespace().count();
                if !expr.starts_with('@') && fields != 5 {
                    return Err(Invalid(format!(
                        "schedule.cron {expr:?} has {fields} fields; it needs 5 (minute hour day-of-month month day-of-week)"
                    )));
                }
                let cron: Cron = expr
                    .parse()
                    .map_err(|e| Invalid(format!("schedule.cron {expr:?}: {e}")))?;
                // An expression that can never fire (31 February) is refused now.
                cron.find_next_occurrence(&Utc::now(), false)
                    .map_err(|e| Invalid(format!("schedule.cron {expr:?} never fires: {e}")))?;
                Ok(Plan::Cron(Box::new(cron)))
            }
            "interval" => {
                let ms = t.interval_ms.ok_or_else(|| {
                    Invalid("schedule.intervalMs is required for an interval schedule".into())
                })?;
                if ms < 1000 {
                    return Err(Invalid(format!(
                        "schedule.intervalMs must be at least 1000, not {ms}"
                    )));
                }
                Ok(Plan::Interval(TimeDelta::milliseconds(ms as i64)))
            }
            "random" => {
                let w = t.random_window.ok_or_else(|| {
                    Invalid("schedule.randomWindow is required for a random schedule".into())
                })?;
                if w.min_ms < 1000 || w.max_ms < 1000 {
                    return Err(Invalid(
                        "schedule.randomWindow.minMs and maxMs must be at least 1000".into(),
                    ));
                }
                if w.min_ms > w.max_ms {
                    return Err(Invalid(format!(
                        "schedule.randomWindow.minMs ({}) must not exceed maxMs ({})",
                        w.min_ms, w.max_ms
                    )));
                }
                Ok(Plan::Random {
                    min_ms: w.min_ms,
                    max_ms: w.max_ms,
                })
            }
            other => Err(Invalid(format!(
                "schedule.type must be cron, interval or random, not {other:?}"
            ))),
        }
    }

    /// The first cron slot strictly after `t`.
    pub fn cron_after(cron: &Cron, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Slots are whole seconds: croner would carry `t`'s fraction over.
        let t = t.with_nanosecond(0).unwrap_or(t);
        cron.find_next_occurrence(&t, false).ok()
    }

    /// When to fire next, counted from `from` (activation, or the end of the
    /// last run for an interval). `draw` picks a random delay in `[min, max]`.
    pub fn next(
        &self,
        from: DateTime<Utc>,
        draw: impl FnOnce(u64, u64) -> u64,
    ) -> Option<DateTime<Utc>> {
        match self {
            Plan::Cron(c) => Self::cron_after(c, from),
            Plan::Interval(d) => Some(from + *d),
            Plan::Random { min_ms, max_ms } => {
                Some(from + TimeDelta::milliseconds(draw(*min_ms, *max_ms) as i64))
            }
        }
    }

    /// How many slots fell in `(since, now]` — the runs missed while nothing
    /// was running. Random schedules are anchored to nothing: never missed.
    pub fn missed(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
        match self {
            Plan::Cron(c) => {
                let mut n = 0;
                let mut t = since;
                while let Some(next) = Self::cron_after(c, t) {
                    if next > now || n >= MISSED_CAP {
                        break;
                    }
                    n += 1;
                    t = next;
                }
                n
            }
            Plan::Interval(d) => {
                let elapsed = now - since;
                if elapsed < *d || d.num_milliseconds() <= 0 {
                    0
                } else {
                    ((elapsed.num_milliseconds() / d.num_milliseconds()) as u64).min(MISSED_CAP)
                }
            }
            Plan::Random { .. } => 0,
        }
    }
}
