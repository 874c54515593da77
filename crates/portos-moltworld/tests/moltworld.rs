//! The client against a fake Moltworld on 127.0.0.1 that follows the platform's
//! contract: the agent named by `agentId` in the body or query (no bearer
//! token), JSON bodies `{ error }` on failure, 401 for an unknown agent, 403 for
//! a suspended one, 429 with `Retry-After`, 5xx, and a call that never answers.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use portos_moltworld::{Appearance, Build, Join, Moltworld, MoltworldError};
use portos_ratelimit::{ManualClock, Which};
use portos_test_support::{Fake, Incoming, serve};
use serde_json::{Value, json};

const GOOD: &str = "mw-agent-good";
const SUSPENDED: &str = "mw-agent-suspended";
const THROTTLED: &str = "mw-agent-throttled";
const FLAKY: &str = "mw-agent-flaky";

async fn handle(r: Incoming) -> Response {
    let err =
        |status: StatusCode, msg: &str| (status, Json(json!({ "error": msg }))).into_response();
    let path = r.path.as_str();
    if path == "/api/agents/register" {
        return (
            StatusCode::CREATED,
            Json(json!({ "agent": { "id": "mw-new-1", "name": r.body["name"] }, "position": { "x": 0, "y": 0 } })),
        )
            .into_response();
    }
    let agent = r
        .body
        .get("agentId")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            r.query
                .as_deref()
                .and_then(|q| q.strip_prefix("agentId="))
                .map(str::to_string)
        })
        .unwrap_or_default();
    match agent.as_str() {
        GOOD => {}
        SUSPENDED => return err(StatusCode::FORBIDDEN, "Agent banned: griefing"),
        THROTTLED if path == "/api/world/think" => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "90")],
                Json(json!({ "error": "Slow down" })),
            )
                .into_response();
        }
        THROTTLED => {}
        FLAKY if path == "/api/world/join" => {
            return err(StatusCode::SERVICE_UNAVAILABLE, "world restarting");
        }
        FLAKY if path == "/api/agents/balance" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            return Json(json!({})).into_response();
        }
        FLAKY => {}
        _ => return err(StatusCode::UNAUTHORIZED, "Unknown agent"),
    }
    match path {
        "/api/agents/balance" => Json(json!({ "balance": { "sim": 42.5 } })).into_response(),
        "/api/world/build" if r.body["z"].as_i64() > Some(100) => {
            err(StatusCode::BAD_REQUEST, "z must be between 0 and 100")
        }
        _ => Json(json!({ "ok": true })).into_response(),
    }
}

fn client(fake: &Fake, dir: &std::path::Path, clock: Arc<ManualClock>) -> Moltworld {
    let limiter = portos_moltworld::limiter(dir.join("moltworld-limits.json"), clock);
    Moltworld::new(
        &format!("http://{}", fake.addr),
        Arc::new(limiter),
        Duration::from_secs(1),
    )
    .unwrap()
}

#[tokio::test]
async fn every_call_reaches_its_documented_endpoint() {
    let fake = serve(handle).await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let w = client(&fake, dir.path(), clock.clone());

    let reg = w.register("Ada Bot", &Appearance::default()).await.unwrap();
    assert_eq!(reg.agent_id, "mw-new-1", "the id nested under agent.id");
    assert_eq!(reg.api_key, "mw-new-1", "no key given: the id stands in");
    w.profile(GOOD).await.unwrap();
    w.update_profile(GOOD, json!({ "name": "Ada 2", "agentId": "someone-else" }))
        .await
        .unwrap();
    let balance = w.balance(GOOD).await.unwrap();
    assert_eq!(balance["balance"]["sim"], 42.5);
    let join = Join {
        name: Some("Ada".into()),
        x: 12,
        y: -7,
        thinking: Some("hmm".into()),
        say: Some("hello".into()),
        say_to: Some("mw-other".into()),
    };
    w.join(GOOD, &join).await.unwrap();
    w.think(GOOD, "what to build").await.unwrap();
    let block = Build {
        x: 1,
        y: 2,
        z: 3,
        kind: "wood".into(),
        action: "place".into(),
    };
    w.build(GOOD, &block).await.unwrap();

    assert_eq!(
        fake.seen.lines(""),
        [
            r##"POST /api/agents/register {"name":"Ada Bot","worldId":"alpha","appearance":{"color":"#3b82f6","emoji":"🤖","style":"robot"}}"##,
            "GET /api/agents/profile?agentId=mw-agent-good",
            r#"PATCH /api/agents/profile {"agentId":"mw-agent-good","name":"Ada 2"}"#,
            "GET /api/agents/balance?agentId=mw-agent-good",
            r#"POST /api/world/join {"name":"Ada","x":12,"y":-7,"thinking":"hmm","say":"hello","sayTo":"mw-other","agentId":"mw-agent-good"}"#,
            r#"POST /api/world/think {"agentId":"mw-agent-good","thought":"what to build"}"#,
            r#"POST /api/world/build {"x":1,"y":2,"z":3,"type":"wood","action":"place","agentId":"mw-agent-good"}"#,
        ]
    );
    assert!(
        fake.seen.requests().iter().all(|r| r.bearer().is_none()),
        "Moltworld takes no bearer token"
    );
}

#[tokio::test]
async fn failures_are_told_apart() {
    let fake = serve(handle).await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let w = client(&fake, dir.path(), clock.clone());

    let e = w.profile("mw-nobody").await.unwrap_err();
    assert!(
        matches!(&e, MoltworldError::Auth(m) if m == "Unknown agent"),
        "{e:?}"
    );

    let e = w.think(SUSPENDED, "hi").await.unwrap_err();
    assert!(e.is_suspended(), "{e:?}");
    assert!(e.to_string().contains("griefing"), "{e}");

    let bad = Build {
        x: 0,
        y: 0,
        z: 500,
        kind: "stone".into(),
        action: "place".into(),
    };
    let e = w.build(GOOD, &bad).await.unwrap_err();
    assert!(
        matches!(&e, MoltworldError::Remote { status: 400, message } if message.contains("z must be")),
        "{e:?}"
    );

    // 5xx: an error, and the join is given back (the next one reaches the world).
    for _ in 0..2 {
        let e = w.join(FLAKY, &Join::default()).await.unwrap_err();
        assert!(
            matches!(e, MoltworldError::Remote { status: 503, .. }),
            "{e:?}"
        );
    }
    let joins = fake
        .seen
        .lines("")
        .iter()
        .filter(|l| l.starts_with("POST /api/world/join"))
        .count();
    assert_eq!(joins, 2, "a 503 does not spend the 5 s cooldown");

    // No answer within the timeout.
    let e = w.balance(FLAKY).await.unwrap_err();
    assert!(matches!(e, MoltworldError::Timeout(_)), "{e:?}");

    // 429 with Retry-After: 90 s: the next think waits 90 s here, not 5.
    let e = w.think(THROTTLED, "one").await.unwrap_err();
    assert!(
        matches!(e, MoltworldError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(90)),
        "{e:?}"
    );
    let before = fake.seen.hits();
    clock.advance(Duration::from_secs(60));
    let e = w.think(THROTTLED, "two").await.unwrap_err();
    let MoltworldError::Limited(r) = e else {
        panic!("refused locally, got {e:?}")
    };
    assert_eq!(r.which, Which::Cooldown);
    assert_eq!(r.wait, Duration::from_secs(30));
    assert_eq!(fake.seen.hits(), before, "nothing sent while held");
}

#[tokio::test]
async fn limits_refuse_locally_and_survive_a_restart() {
    let fake = serve(handle).await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let w = client(&fake, dir.path(), clock.clone());

    w.think(GOOD, "first").await.unwrap();
    let sent = fake.seen.hits();
    let e = w.think(GOOD, "too soon").await.unwrap_err();
    assert!(
        matches!(&e, MoltworldError::Limited(r) if r.which == Which::Cooldown && r.limit_text == "5s between calls"),
        "{e:?}"
    );
    assert_eq!(fake.seen.hits(), sent, "the refused think never left");

    // A new client over the same state file: the restart resets nothing.
    let again = client(&fake, dir.path(), clock.clone());
    assert!(matches!(
        again.think(GOOD, "after restart").await,
        Err(MoltworldError::Limited(_))
    ));
    assert_eq!(fake.seen.hits(), sent);
    clock.advance(Duration::from_secs(5));
    again.think(GOOD, "now").await.unwrap();

    // 500 builds a day: the 501st is refused without reaching the world.
    let stone = Build {
        x: 0,
        y: 0,
        z: 0,
        kind: "stone".into(),
        action: "place".into(),
    };
    for _ in 0..500 {
        clock.advance(Duration::from_secs(2));
        again.build(GOOD, &stone).await.ok();
    }
    let sent = fake.seen.hits();
    clock.advance(Duration::from_secs(2));
    let e = again.build(GOOD, &stone).await.unwrap_err();
    assert!(
        matches!(&e, MoltworldError::Limited(r) if r.which == Which::Daily && r.limit_text == "500 per day"),
        "{e:?}"
    );
    assert_eq!(fake.seen.hits(), sent);
}

#[tokio::test]
async fn sixty_calls_a_minute_per_agent_in_all() {
    let fake = serve(handle).await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let w = client(&fake, dir.path(), clock.clone());
    for _ in 0..60 {
        w.profile(GOOD).await.unwrap();
        clock.advance(Duration::from_millis(500));
    }
    let sent = fake.seen.hits();
    let e = w.balance(GOOD).await.unwrap_err();
    let MoltworldError::Limited(r) = e else {
        panic!("the 61st call within a minute is refused here: {e:?}")
    };
    assert_eq!(r.which, Which::Window);
    assert_eq!(fake.seen.hits(), sent);
    // Another agent is not held by this one's calls.
    w.profile(THROTTLED).await.unwrap();
    clock.advance(Duration::from_secs(31));
    w.balance(GOOD).await.unwrap();
}
