//! The scheduler on a clock the test sets: cron slots at the right UTC
//! instants, intervals counted from the end of a run, no overlapping runs, the
//! missed-runs policy after downtime, the schedule's own limits, and a
//! suspended account — with the actions going to fakes of Moltworld and
//! Moltbook that follow their contracts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use portos_agents::model::ActivityEntry;
use portos_agents::{Agents, AgentsError, Begun, Platforms};
use portos_moltbook::Moltbook;
use portos_moltworld::Moltworld;
use portos_ratelimit::{Limiter, ManualClock};
use portos_store::JsonStore;
use portos_test_support::{Fake, Incoming, serve};
use serde_json::{Value, json};

async fn platform(r: Incoming) -> Response {
    if r.body["thought"] == "slow" {
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    if r.bearer() == Some("mb-suspended-key") {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({ "success": false, "error": "Account suspended for spam" })),
        )
            .into_response();
    }
    Json(json!({ "success": true, "agents": [], "posts": [] })).into_response()
}

struct World {
    agents: Arc<Agents>,
    clock: Arc<ManualClock>,
    fake: Fake,
    agent: String,
    mw_account: String,
    events: Arc<Mutex<Vec<(String, Value)>>>,
    _dir: tempfile::TempDir,
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn world(start: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let fake = serve(platform).await;
    let clock = Arc::new(ManualClock::new(at(start).timestamp_millis() as u64));
    let base = format!("http://{}", fake.addr);
    let platforms = Platforms {
        moltbook: Moltbook::new(
            &base,
            Arc::new(Limiter::new(
                portos_moltbook::limits(),
                dir.path().join("mb.json"),
                clock.clone(),
            )),
            Duration::from_secs(5),
        )
        .unwrap(),
        moltworld: Moltworld::new(
            &base,
            Arc::new(portos_moltworld::limiter(
                dir.path().join("mw.json"),
                clock.clone(),
            )),
            Duration::from_secs(5),
        )
        .unwrap(),
    };
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let store = Arc::new(JsonStore::new(dir.path().join("data")));
    let agents = Agents::new(store, clock.clone(), platforms, move |e: &str, v: Value| {
        sink.lock().unwrap().push((e.to_string(), v));
    });
    let agent = agents
        .create_agent(json!({ "userId": "me", "name": "Ada", "personality": { "style": "witty" } }))
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mw_account = agents
        .link_account(&json!({
            "agentId": agent, "platform": "moltworld", "status": "active",
            "credentials": { "apiKey": "mw-secret-key-0001", "username": "ada", "agentId": "mw-1" }
        }))
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    World {
        agents,
        clock,
        fake,
        agent,
        mw_account,
        events,
        _dir: dir,
    }
}

impl World {
    fn set(&self, t: DateTime<Utc>) {
        self.clock.set(t.timestamp_millis() as u64);
    }
    async fn schedule(&self, action: Value, timing: Value, extra: Value) -> String {
        let mut body = json!({ "agentId": self.agent, "accountId": self.mw_account, "action": action, "schedule": timing });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.agents.create_schedule(body).await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }
    /// Ticks, and waits for the runs it started.
    async fn tick(&self) -> usize {
        let hs = self.agents.tick().await;
        let n = hs.len();
        for h in hs {
            h.await.unwrap();
        }
        n
    }
    async fn activity(&self, day: &str) -> Vec<ActivityEntry> {
        self.agents.activity(&self.agent, Some(day)).await.unwrap()
    }
    fn world_calls(&self, path: &str) -> usize {
        self.fake
            .seen
            .lines("")
            .iter()
            .filter(|l| l.contains(path))
            .count()
    }
}

#[tokio::test]
async fn a_cron_schedule_fires_at_its_utc_instants_and_nowhere_else() {
    // Monday 23 November 2026, 08:59:30 UTC.
    let w = world("2026-11-23T08:59:30Z").await;
    let id = w
        .schedule(
            json!({ "type": "mw_think", "params": { "thought": "morning and evening" } }),
            json!({ "type": "cron", "cron": "0 9,17 * * 1-5" }),
            json!({}),
        )
        .await;
    let view = w.agents.schedule_view(&id).await.unwrap();
    assert_eq!(view["isActive"], true);
    assert_eq!(view["nextRun"], "2026-11-23T09:00:00.000Z");

    // Every 30 s from Monday 09:00 to Sunday 29th 23:59:30.
    let mut fired = Vec::new();
    let mut t = at("2026-11-23T09:00:00Z");
    while t < at("2026-11-30T00:00:00Z") {
        w.set(t);
        if w.tick().await > 0 {
            fired.push(t.to_rfc3339());
        }
        t += chrono::TimeDelta::seconds(30);
    }
    let expected: Vec<String> = ["23", "24", "25", "26", "27"]
        .iter()
        .flat_map(|d| {
            [
                format!("2026-11-{d}T09:00:00+00:00"),
                format!("2026-11-{d}T17:00:00+00:00"),
            ]
        })
        .collect();
    assert_eq!(
        fired, expected,
        "weekdays at 09:00 and 17:00 UTC, no weekend"
    );
    assert_eq!(w.world_calls("/api/world/think"), 10);
    let s = w.agents.schedule(&id).await.unwrap();
    assert_eq!(s.run_count, 10);
    assert_eq!(s.last_run.as_deref(), Some("2026-11-27T17:00:00.000Z"));
    let friday = w.activity("2026-11-27").await;
    let statuses: Vec<&str> = friday.iter().map(|e| e.status.as_str()).collect();
    assert_eq!(statuses, ["started", "completed", "started", "completed"]);
    assert_eq!(
        friday[1].result.as_ref().unwrap()["thought"],
        "morning and evening"
    );
    assert!(
        w.events
            .lock()
            .unwrap()
            .iter()
            .any(|(e, v)| e == "agents:schedule:execute" && v["scheduleId"] == id.as_str())
    );
}

#[tokio::test]
async fn an_interval_schedule_counts_from_the_end_of_each_run() {
    let w = world("2026-11-23T10:00:00Z").await;
    w.schedule(
        json!({ "type": "mw_heartbeat", "params": { "x": 3, "y": 4 } }),
        json!({ "type": "interval", "intervalMs": 90_000 }),
        json!({}),
    )
    .await;
    let start = at("2026-11-23T10:00:00Z");
    let mut fired = Vec::new();
    for s in (0..=400).step_by(10) {
        let t = start + chrono::TimeDelta::seconds(s);
        w.set(t);
        if w.tick().await > 0 {
            fired.push(s);
        }
    }
    assert_eq!(fired, [90, 180, 270, 360]);
    assert_eq!(
        w.fake.seen.lines("").last().unwrap(),
        r#"POST /api/world/join {"name":"ada","x":3,"y":4,"agentId":"mw-1"}"#
    );
}

#[tokio::test]
async fn a_run_never_overlaps_the_previous_one() {
    let w = world("2026-11-23T10:00:30Z").await;
    let id = w
        .schedule(
            json!({ "type": "mw_think", "params": { "thought": "slow" } }),
            json!({ "type": "cron", "cron": "* * * * *" }),
            json!({}),
        )
        .await;
    w.set(at("2026-11-23T10:01:00Z"));
    let first = w.agents.tick().await;
    assert_eq!(first.len(), 1, "the 10:01 run starts");
    // The 10:02 slot comes while the 10:01 run is still going (1.5 s of
    // real time at the fake): skipped, not started beside it.
    w.set(at("2026-11-23T10:02:00Z"));
    assert!(w.agents.tick().await.is_empty());
    // Nor does a manual run start beside it.
    let e = w.agents.run_now(&id).await.unwrap_err();
    assert!(
        matches!(
            e,
            AgentsError::Conflict {
                code: "RUN_ACTIVE",
                ..
            }
        ),
        "{e:?}"
    );
    for h in first {
        h.await.unwrap();
    }
    w.set(at("2026-11-23T10:03:00Z"));
    // 10:03 runs again (the Moltworld think cooldown of 5 s is long past).
    assert_eq!(w.tick().await, 1);

    let day = w.activity("2026-11-23").await;
    let seen: Vec<(&str, &str)> = day
        .iter()
        .map(|e| (e.status.as_str(), e.timestamp.get(11..16).unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("started", "10:01"),
            ("skipped", "10:02"),
            ("completed", "10:02"),
            ("started", "10:03"),
            ("completed", "10:03"),
        ]
    );
    assert!(
        day[1]
            .error
            .as_deref()
            .unwrap()
            .contains("previous run is still going")
    );
    assert_eq!(w.world_calls("/api/world/think"), 2);
}

/// The user's data dir as PortOS left it at 09:00, read again at 12:30.
async fn after_downtime(policy: &str) -> (World, String) {
    let w = world("2026-11-23T08:00:00Z").await;
    let id = w
        .schedule(
            json!({ "type": "mw_think", "params": { "thought": "hourly" } }),
            json!({ "type": "cron", "cron": "0 * * * *" }),
            json!({ "missedRuns": policy }),
        )
        .await;
    w.set(at("2026-11-23T09:00:00Z"));
    assert_eq!(w.tick().await, 1);
    // Down from 09:00:10 to 12:30: a new service over the same data dir.
    w.set(at("2026-11-23T12:30:00Z"));
    (w, id)
}

#[tokio::test]
async fn missed_runs_are_skipped_and_said_so_under_the_skip_policy() {
    let (w, id) = after_downtime("skip").await;
    let again = restarted(&w);
    let runs = again.start().await.unwrap();
    assert!(runs.is_empty(), "nothing runs for the missed slots");
    let day = w.activity("2026-11-23").await;
    let last = day.last().unwrap();
    assert_eq!(last.status, "skipped");
    assert_eq!(
        last.error.as_deref(),
        Some("missed 3 runs while PortOS was not running (missedRuns: skip)")
    );
    assert_eq!(
        again.schedule_view(&id).await.unwrap()["nextRun"],
        "2026-11-23T13:00:00.000Z"
    );
    assert_eq!(w.world_calls("/api/world/think"), 1);
}

#[tokio::test]
async fn missed_runs_run_once_at_start_under_the_run_once_policy() {
    let (w, id) = after_downtime("runOnce").await;
    let again = restarted(&w);
    let runs = again.start().await.unwrap();
    assert_eq!(runs.len(), 1, "one run for three missed slots");
    for h in runs {
        h.await.unwrap();
    }
    let day = w.activity("2026-11-23").await;
    let tail: Vec<&str> = day[day.len() - 2..]
        .iter()
        .map(|e| e.status.as_str())
        .collect();
    assert_eq!(tail, ["started", "completed"]);
    assert_eq!(day[day.len() - 2].result.as_ref().unwrap()["missedRuns"], 3);
    assert_eq!(w.world_calls("/api/world/think"), 2);
    assert_eq!(
        again.schedule_view(&id).await.unwrap()["nextRun"],
        "2026-11-23T13:00:00.000Z"
    );
}

/// A second service over the same data dir and platforms (a restart).
fn restarted(w: &World) -> Arc<Agents> {
    let store = Arc::new(JsonStore::new(w._dir.path().join("data")));
    Agents::new(
        store,
        w.clock.clone(),
        w.agents.platforms().clone(),
        |_: &str, _: Value| {},
    )
}

#[tokio::test]
async fn the_schedules_own_limits_hold_and_a_suspended_account_stops() {
    let w = world("2026-11-23T10:00:00Z").await;
    let id = w
        .schedule(
            json!({ "type": "mw_think", "params": { "thought": "limited" } }),
            json!({ "type": "interval", "intervalMs": 60_000 }),
            json!({ "rateLimit": { "maxPerDay": 2, "cooldownMs": 120_000 } }),
        )
        .await;
    let run = |t: &'static str| {
        let w = &w;
        let id = id.clone();
        async move {
            w.set(at(t));
            match w.agents.run_now(&id).await.unwrap() {
                Begun::Started(h) => {
                    h.await.unwrap();
                    None
                }
                Begun::Skipped(why) => Some(why),
            }
        }
    };
    assert_eq!(run("2026-11-23T10:00:00Z").await, None);
    let why = run("2026-11-23T10:01:00Z").await.unwrap();
    assert_eq!(
        why,
        "rateLimit.cooldownMs: next run allowed at 2026-11-23T10:02:00.000Z"
    );
    assert_eq!(run("2026-11-23T10:02:00Z").await, None);
    let why = run("2026-11-23T10:05:00Z").await.unwrap();
    assert_eq!(why, "rateLimit.maxPerDay: 2 of 2 runs today (UTC)");
    // A new UTC day.
    assert_eq!(run("2026-11-24T00:00:30Z").await, None);
    assert_eq!(w.world_calls("/api/world/think"), 3);

    // Moltbook says the account is suspended: the run fails, the account is
    // marked, and the next run is skipped without a call.
    let mb = w
        .agents
        .link_account(&json!({
            "agentId": w.agent, "platform": "moltbook", "status": "active",
            "credentials": { "apiKey": "mb-suspended-key", "username": "ada" }
        }))
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sid = w
        .agents
        .create_schedule(json!({ "agentId": w.agent, "accountId": mb,
            "action": { "type": "heartbeat" }, "schedule": { "type": "interval", "intervalMs": 60_000 } }))
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..2 {
        if let Begun::Started(h) = w.agents.run_now(&sid).await.unwrap() {
            h.await.unwrap();
        }
    }
    let acct = w.agents.account(&mb).await.unwrap();
    assert_eq!(acct.status.as_str(), "suspended");
    let day = w.activity("2026-11-24").await;
    let mine: Vec<(&str, Option<&str>)> = day
        .iter()
        .filter(|e| e.account_id == mb)
        .map(|e| (e.status.as_str(), e.error.as_deref()))
        .collect();
    assert_eq!(mine[0], ("started", None));
    assert_eq!(mine[1].0, "failed");
    assert!(mine[1].1.unwrap().contains("suspended"), "{mine:?}");
    assert_eq!(mine[3], ("skipped", Some("Account status: suspended")));
    let heartbeat_calls = w
        .fake
        .seen
        .requests()
        .iter()
        .filter(|r| r.bearer() == Some("mb-suspended-key"))
        .count();
    assert_eq!(heartbeat_calls, 1);
}

#[test]
fn cron_follows_standard_semantics() {
    use portos_agents::model::Timing;
    use portos_agents::timing::Plan;
    let plan = |c: &str| {
        Plan::of(&Timing {
            kind: "cron".into(),
            cron: Some(c.into()),
            interval_ms: None,
            random_window: None,
        })
    };
    let next = |c: &str, from: &str| {
        let Plan::Cron(cron) = plan(c).unwrap() else {
            unreachable!()
        };
        Plan::cron_after(&cron, at(from)).unwrap().to_rfc3339()
    };
    // Day of month OR day of week (the original required both).
    assert_eq!(
        next("0 12 13 * 5", "2026-11-25T00:00:00Z"),
        "2026-11-27T12:00:00+00:00"
    );
    assert_eq!(
        next("0 12 13 * 5", "2026-12-05T00:00:00Z"),
        "2026-12-11T12:00:00+00:00"
    );
    // 7 is Sunday; a step over a range works.
    assert_eq!(
        next("0 8 * * 7", "2026-11-25T00:00:00Z"),
        "2026-11-29T08:00:00+00:00"
    );
    // A clock with milliseconds still lands on the whole minute.
    assert_eq!(
        next("0 9 * * *", "2026-11-25T16:58:39.377Z"),
        "2026-11-26T09:00:00+00:00"
    );
    assert_eq!(
        next("1-10/4 0 * * *", "2026-11-25T00:02:00Z"),
        "2026-11-25T00:05:00+00:00"
    );
    // Refused with the reason, not accepted and never fired.
    for bad in ["", "* * * *", "61 * * * *", "0 0 31 2 *", "* * * * * *"] {
        assert!(plan(bad).is_err(), "{bad:?} must be refused");
    }
    let e = plan("0 0 31 2 *").unwrap_err();
    assert!(e.0.contains("never fires"), "{e}");
}

/// Writes as a provider would: a title line, a blank line, a body.
struct Scribe(Mutex<Vec<String>>);

impl portos_agents::Author for Scribe {
    fn write<'a>(
        &'a self,
        agent: &'a portos_agents::model::Agent,
        what: portos_agents::Writing,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send + 'a>>
    {
        self.0
            .lock()
            .unwrap()
            .push(format!("{} {what:?}", agent.name));
        Box::pin(async { Ok("# Rust on Mondays\n\nWhy I rewrite everything in Rust.".to_string()) })
    }
}

#[tokio::test]
async fn a_post_without_text_is_written_by_the_agents_author_unless_turned_off() {
    let w = world("2026-11-23T10:00:00Z").await;
    let scribe = Arc::new(Scribe(Mutex::new(Vec::new())));
    w.agents.set_author(scribe.clone());
    let mb = w
        .agents
        .link_account(&json!({
            "agentId": w.agent, "platform": "moltbook", "status": "active",
            "credentials": { "apiKey": "mb-good-key", "username": "ada" }
        }))
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = w
        .agents
        .act(&mb, "post", json!({ "submolt": "rust" }))
        .await
        .unwrap();
    assert_eq!(r["title"], "Rust on Mondays");
    assert_eq!(r["aiWritten"], true);
    assert_eq!(
        w.fake.seen.lines("").last().unwrap(),
        r#"POST /posts {"submolt":"rust","title":"Rust on Mondays","content":"Why I rewrite everything in Rust."}"#
    );
    assert_eq!(
        scribe.0.lock().unwrap().as_slice(),
        [r#"Ada Post { submolt: "rust" }"#]
    );
    // `aiGenerate: false`: the text must be there.
    w.set(at("2026-11-23T11:00:00Z"));
    let e = w
        .agents
        .act(
            &mb,
            "post",
            json!({ "aiGenerate": false, "title": "Only a title" }),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("post needs params.content"), "{e}");
}

#[tokio::test]
async fn a_days_activity_is_paged_newest_first_from_the_day_file() {
    let w = world("2026-11-25T12:00:00Z").await;
    let store = JsonStore::new(w._dir.path().join("data"));
    let rel = format!("agents/activity/{}/2026-11-25.json", w.agent);
    for i in 0..10 {
        let action = if i % 2 == 0 { "mw_think" } else { "mw_build" };
        let e = json!({ "id": format!("e{i}"), "accountId": w.mw_account, "action": action,
            "status": "completed", "timestamp": format!("2026-11-25T10:0{i}:00.000Z") });
        store.append(&rel, "activities", e).await.unwrap();
    }
    let page = |action: Option<&str>, offset, limit| portos_agents::model::ActivityPage {
        action: action.map(str::to_string),
        offset,
        limit,
    };
    let ids = |list: Vec<ActivityEntry>| list.into_iter().map(|e| e.id).collect::<Vec<_>>();
    // Today (by the service's clock) is the default day.
    let newest = w
        .agents
        .activity_page(&w.agent, None, page(None, 0, 3))
        .await;
    assert_eq!(ids(newest.unwrap()), ["e9", "e8", "e7"]);
    let builds = w
        .agents
        .activity_page(&w.agent, Some("2026-11-25"), page(Some("mw_build"), 1, 2))
        .await;
    assert_eq!(ids(builds.unwrap()), ["e7", "e5"]);
    let past_end = w
        .agents
        .activity_page(&w.agent, None, page(None, 8, 5))
        .await;
    assert_eq!(ids(past_end.unwrap()), ["e1", "e0"]);
    let none = w
        .agents
        .activity_page(&w.agent, None, page(None, 0, 0))
        .await;
    assert!(none.unwrap().is_empty());
    let other_day = w
        .agents
        .activity_page(&w.agent, Some("2026-11-24"), page(None, 0, 9))
        .await;
    assert!(other_day.unwrap().is_empty());
    // The whole day, oldest first.
    assert_eq!(w.activity("2026-11-25").await.len(), 10);
    assert_eq!(w.activity("2026-11-25").await[0].id, "e0");
    for bad in ["2026-13-01", "yesterday", "2026-11-25/../x"] {
        let err = w
            .agents
            .activity_page(&w.agent, Some(bad), page(None, 0, 9))
            .await;
        assert!(
            matches!(err, Err(AgentsError::Invalid(_))),
            "{bad}: {err:?}"
        );
    }
    let err = w
        .agents
        .activity_page("../etc", None, page(None, 0, 9))
        .await;
    assert!(matches!(err, Err(AgentsError::Store(_))), "{err:?}");
}
