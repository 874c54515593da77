//! The brain's scheduler: the daily digest at `dailyDigestTime` and the
//! weekly review on `weeklyReviewDay` at `weeklyReviewTime`, in UTC, by the
//! brain's clock. Each slot is handled once: run on time, or — when PortOS
//! was not running (or the machine slept) across it — as `missedRuns` says:
//! `runOnce` (the original's catch-up, done once however many were missed) or
//! `skip`. Every scheduled outcome (ran, failed, skipped) is one line of
//! `schedule_log.jsonl`, which with `meta.json`'s `last*` is what tells a
//! handled slot after a restart. A fresh install has missed nothing.

use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc};
use serde_json::{Map, Value, json};

use crate::digest::Job;
use crate::files::SCHEDULE_LOG;
use crate::validate::clock_time;
use crate::{Brain, Result, iso};

/// A slot this much past is late: handled by the missed-runs policy.
const GRACE: Duration = Duration::minutes(5);
/// The longest the loop sleeps between looks at the clock.
const CADENCE: std::time::Duration = std::time::Duration::from_secs(60);

pub(crate) const DAYS: &[&str] = &[
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

/// What happens to slots missed while PortOS was not running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    Skip,
    RunOnce,
}

impl Missed {
    pub const NAMES: &'static [&'static str] = &["skip", "runOnce"];

    /// From the settings' `missedRuns` (absent: `runOnce`, the original's).
    pub fn of(meta: &Map<String, Value>) -> Missed {
        match meta.get("missedRuns").and_then(Value::as_str) {
            Some("skip") => Missed::Skip,
            _ => Missed::RunOnce,
        }
    }
}

/// What the scheduler knows between ticks: the newest slot handled per job.
#[derive(Debug, Default)]
pub(crate) struct State {
    loaded: bool,
    handled: [Option<DateTime<Utc>>; 2],
}

/// One scheduled outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub job: Job,
    pub slot: DateTime<Utc>,
    /// `schedule` (on time) or `missed`.
    pub trigger: &'static str,
    /// `ran`, `failed` or `skipped`.
    pub outcome: &'static str,
    /// Slots that passed unhandled before this one.
    pub missed: u64,
}

fn period(job: Job) -> Duration {
    match job {
        Job::DailyDigest => Duration::days(1),
        Job::WeeklyReview => Duration::days(7),
    }
}

/// The newest slot of `job` at or before `now`; `None` when the settings
/// name no valid time.
pub fn slot_before(
    job: Job,
    meta: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let s = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or_default();
    let key = match job {
        Job::DailyDigest => "dailyDigestTime",
        Job::WeeklyReview => "weeklyReviewTime",
    };
    let (h, m) = clock_time(s(key))?;
    let today = now
        .date_naive()
        .and_time(NaiveTime::from_hms_opt(h, m, 0)?)
        .and_utc();
    let candidate = match job {
        Job::DailyDigest => today,
        Job::WeeklyReview => {
            let target = DAYS.iter().position(|d| *d == s("weeklyReviewDay"))? as i64;
            let back = (i64::from(now.weekday().num_days_from_sunday()) - target).rem_euclid(7);
            today - Duration::days(back)
        }
    };
    Some(if candidate > now {
        candidate - period(job)
    } else {
        candidate
    })
}

/// How many slots of `job` fall in `(after, latest]`.
fn slots_since(job: Job, after: DateTime<Utc>, latest: DateTime<Utc>) -> u64 {
    let (d, p) = (
        (latest - after).num_milliseconds(),
        period(job).num_milliseconds(),
    );
    if d <= 0 { 0 } else { ((d + p - 1) / p) as u64 }
}

fn parse(at: Option<&Value>) -> Option<DateTime<Utc>> {
    at.and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

impl Brain {
    async fn handled_at_start(
        &self,
        meta: &Map<String, Value>,
    ) -> Result<[Option<DateTime<Utc>>; 2]> {
        let log = self.log(SCHEDULE_LOG).await?;
        let mut handled = [None, None];
        for job in Job::ALL {
            let logged = log
                .iter()
                .filter(|e| e.get("job").and_then(Value::as_str) == Some(job.name()))
                .filter_map(|e| parse(e.get("slot")))
                .max();
            handled[job.index()] = logged.max(parse(meta.get(job.meta_key())));
        }
        Ok(handled)
    }

    /// Looks at the clock once and handles every slot that came due; what it
    /// did. A run is awaited (one of a job at a time, manual ones included).
    pub async fn tick(&self) -> Result<Vec<Fired>> {
        let now = self.now();
        let meta = self.meta().await?;
        let loaded = self
            .inner
            .scheduler
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .loaded;
        if !loaded {
            let handled = self.handled_at_start(&meta).await?;
            let mut st = self
                .inner
                .scheduler
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            st.handled = handled;
            st.loaded = true;
        }
        let mut fired = Vec::new();
        for job in Job::ALL {
            let Some(slot) = slot_before(job, &meta, now) else {
                continue;
            };
            let handled = {
                let mut st = self
                    .inner
                    .scheduler
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let was = st.handled[job.index()];
                // A fresh install (nothing ever handled) has missed nothing.
                st.handled[job.index()] = Some(slot);
                match was {
                    None => continue,
                    Some(h) if h >= slot => continue,
                    Some(h) => h,
                }
            };
            let count = slots_since(job, handled, slot);
            let late = now - slot > GRACE;
            let (trigger, missed) = if late {
                ("missed", count)
            } else {
                ("schedule", count - 1)
            };
            let f = Fired {
                job,
                slot,
                trigger,
                outcome: "ran",
                missed,
            };
            fired.push(if late && Missed::of(&meta) == Missed::Skip {
                self.skip(f).await?
            } else {
                self.fire(f).await?
            });
        }
        Ok(fired)
    }

    async fn skip(&self, mut f: Fired) -> Result<Fired> {
        f.outcome = "skipped";
        let why = format!(
            "missed {} run{} while PortOS was not running (missedRuns: skip)",
            f.missed,
            if f.missed == 1 { "" } else { "s" }
        );
        self.broadcast(
            &format!("brain:{}:skipped", f.job.short()),
            json!({"job": f.job.name(), "slot": iso(f.slot), "missed": f.missed, "reason": why}),
        );
        self.record(&f, json!({"reason": why})).await?;
        Ok(f)
    }

    async fn fire(&self, mut f: Fired) -> Result<Fired> {
        let _running = self.inner.jobs[f.job.index()].lock().await;
        let extra = match self
            .generate(f.job, &crate::model::Choice::default(), f.trigger)
            .await
        {
            Ok(record) => json!({"recordId": record["id"]}),
            Err(e) => {
                f.outcome = "failed";
                json!({"error": e.to_string()})
            }
        };
        self.record(&f, extra).await?;
        Ok(f)
    }

    async fn record(&self, f: &Fired, extra: Value) -> Result<()> {
        let mut line = Map::new();
        line.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
        line.insert("job".into(), json!(f.job.name()));
        line.insert("slot".into(), json!(iso(f.slot)));
        line.insert("trigger".into(), json!(f.trigger));
        line.insert("outcome".into(), json!(f.outcome));
        line.insert("missed".into(), json!(f.missed));
        if let Value::Object(extra) = extra {
            line.extend(extra);
        }
        line.insert("at".into(), json!(self.now_iso()));
        self.append(SCHEDULE_LOG, &line).await
    }

    /// Runs the schedule until the future is dropped: a look at the clock at
    /// least every minute and at each slot.
    pub async fn scheduler(&self) {
        loop {
            if let Err(e) = self.tick().await {
                tracing::warn!("brain scheduler: {e}");
            }
            let wait = match self.meta().await {
                Ok(meta) => Job::ALL
                    .iter()
                    .filter_map(|j| {
                        slot_before(*j, &meta, self.now()).map(|s| s + period(*j) - self.now())
                    })
                    .filter_map(|d| d.to_std().ok())
                    .fold(CADENCE, std::cmp::min),
                Err(_) => CADENCE,
            };
            tokio::time::sleep(wait.max(std::time::Duration::from_millis(500))).await;
        }
    }

    /// `GET /api/brain/schedule`: each job's next slot and last outcome, the
    /// policy, and the newest 20 outcomes.
    pub async fn schedule(&self) -> Result<Value> {
        let meta = self.meta().await?;
        let now = self.now();
        let mut log = self.log(SCHEDULE_LOG).await?;
        log.reverse();
        let jobs: Vec<Value> = Job::ALL
            .iter()
            .map(|j| {
                let next = slot_before(*j, &meta, now).map(|s| iso(s + period(*j)));
                let last = log.iter().find(|e| e.get("job").and_then(Value::as_str) == Some(j.name()));
                json!({"job": j.name(), "next": next, "lastRun": meta.get(j.meta_key()), "lastOutcome": last})
            })
            .collect();
        let missed = match Missed::of(&meta) {
            Missed::Skip => "skip",
            Missed::RunOnce => "runOnce",
        };
        log.truncate(20);
        Ok(json!({"jobs": jobs, "missedRuns": missed, "log": log}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn slots_are_the_newest_time_at_or_before_now() {
        let meta = crate::files::meta_defaults();
        // 2026-12-02 is a Wednesday.
        assert_eq!(
            slot_before(Job::DailyDigest, &meta, at("2026-12-02T10:00:00Z")),
            Some(at("2026-12-02T09:00:00Z"))
        );
        assert_eq!(
            slot_before(Job::DailyDigest, &meta, at("2026-12-02T08:59:59Z")),
            Some(at("2026-12-01T09:00:00Z"))
        );
        assert_eq!(
            slot_before(Job::WeeklyReview, &meta, at("2026-12-02T10:00:00Z")),
            Some(at("2026-11-29T16:00:00Z"))
        );
        assert_eq!(
            slot_before(Job::WeeklyReview, &meta, at("2026-12-06T16:00:00Z")),
            Some(at("2026-12-06T16:00:00Z"))
        );
        assert_eq!(
            slot_before(Job::WeeklyReview, &meta, at("2026-12-06T15:59:00Z")),
            Some(at("2026-11-29T16:00:00Z"))
        );
        let mut bad = meta.clone();
        bad.insert("dailyDigestTime".into(), json!("99:99"));
        assert_eq!(
            slot_before(Job::DailyDigest, &bad, at("2026-12-02T10:00:00Z")),
            None
        );
    }

    #[test]
    fn missed_slots_are_counted() {
        let j = Job::DailyDigest;
        assert_eq!(
            slots_since(j, at("2026-12-01T09:00:00Z"), at("2026-12-04T09:00:00Z")),
            3
        );
        assert_eq!(
            slots_since(j, at("2026-12-01T09:00:05Z"), at("2026-12-02T09:00:00Z")),
            1
        );
        assert_eq!(
            slots_since(j, at("2026-12-02T09:00:00Z"), at("2026-12-02T09:00:00Z")),
            0
        );
    }
}
