//! The client against a fake Moltbook on 127.0.0.1 that follows the platform's
//! documented contract: `Authorization: Bearer <key>` on every call, the paths
//! and bodies of the API, 201 on create, 204 on delete, `{ success: false,
//! error }` bodies, 429 with `Retry-After` (and `retry_after_minutes`), 403 for
//! a suspended account, 5xx, and a call that never answers.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use portos_moltbook::{ApiKey, Direction, Moltbook, MoltbookError, Sort};
use portos_ratelimit::{Limiter, ManualClock, Which};
use portos_test_support::{Fake, Incoming, serve};
use serde_json::{Value, json};

const GOOD: &str = "moltbook_sk_goodkey123456";
const SUSPENDED: &str = "moltbook_sk_suspended999";
const THROTTLED: &str = "moltbook_sk_throttled777";
const FLAKY: &str = "moltbook_sk_flaky000000";

async fn handle(r: Incoming) -> Response {
    let path = r.path.trim_start_matches("/api/v1").to_string();
    let method = r.method.clone();
    let body = r.body.clone();
    let err = |status: StatusCode, msg: &str| {
        (status, Json(json!({ "success": false, "error": msg }))).into_response()
    };
    if path == "/agents/register" {
        return (
            StatusCode::CREATED,
            Json(json!({ "agent": { "api_key": "moltbook_sk_new", "claim_url": "https://www.moltbook.com/claim/x" } })),
        )
            .into_response();
    }
    let key = r.bearer().unwrap_or_default().to_string();
    match key.as_str() {
        GOOD => {}
        SUSPENDED => return err(StatusCode::FORBIDDEN, "Account suspended: repeated spam"),
        THROTTLED if path == "/posts" => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "120")],
                Json(json!({ "success": false, "error": "You can only post once every 30 minutes", "retry_after_minutes": 2 })),
            )
                .into_response();
        }
        THROTTLED => {}
        FLAKY if path == "/posts" => {
            return err(StatusCode::SERVICE_UNAVAILABLE, "try again later");
        }
        _ => return err(StatusCode::UNAUTHORIZED, "Invalid API key"),
    }
    match (method.as_str(), path.as_str()) {
        ("GET", "/posts/broken") => err(StatusCode::BAD_GATEWAY, "upstream database unavailable"),
        ("GET", "/posts/slow") => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Json(json!({})).into_response()
        }
        ("GET", "/posts/missing") => err(StatusCode::NOT_FOUND, "Post not found"),
        ("POST", "/posts") => (
            StatusCode::CREATED,
            Json(json!({ "success": true, "post": { "id": "p1", "title": body["title"] } })),
        )
            .into_response(),
        ("DELETE", _) if path.starts_with("/posts/") => StatusCode::NO_CONTENT.into_response(),
        _ => Json(json!({ "success": true, "path": path })).into_response(),
    }
}

async fn fake() -> (Fake, String) {
    let fake = serve(handle).await;
    let base = format!("http://{}/api/v1", fake.addr);
    (fake, base)
}

fn client(base: &str, dir: &std::path::Path, clock: Arc<ManualClock>) -> Moltbook {
    let limiter = Limiter::new(
        portos_moltbook::limits(),
        dir.join("moltbook-limits.json"),
        clock,
    );
    Moltbook::new(base, Arc::new(limiter), Duration::from_secs(1)).unwrap()
}

#[tokio::test]
async fn every_call_reaches_its_documented_endpoint() {
    let (fake, base) = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let m = client(&base, dir.path(), clock.clone());
    let k = ApiKey::new(GOOD);
    let step = Duration::from_secs(31 * 60);

    let reg = m.register("agent-one", "a test agent").await.unwrap();
    assert_eq!(reg["agent"]["api_key"], "moltbook_sk_new");
    m.status(&k).await.unwrap();
    m.profile(&k).await.unwrap();
    m.update_profile(&k, json!({ "description": "new words" }))
        .await
        .unwrap();
    let post = m
        .create_post(&k, "general", "Hello", "First post")
        .await
        .unwrap();
    assert_eq!(post["post"]["id"], "p1");
    m.feed(&k, Sort::New, 10).await.unwrap();
    m.posts_by(&k, "agent one").await.unwrap();
    m.post(&k, "p1").await.unwrap();
    assert_eq!(m.delete_post(&k, "p1").await.unwrap(), Value::Null);
    m.comment(&k, "p1", "Nice", None).await.unwrap();
    clock.advance(step);
    m.comment(&k, "p1", "Agreed", Some("c9")).await.unwrap();
    m.comments(&k, "p1").await.unwrap();
    m.vote(&k, "p1", Direction::Up).await.unwrap();
    clock.advance(step);
    m.vote(&k, "p2", Direction::Down).await.unwrap();
    clock.advance(step);
    m.upvote_comment(&k, "c9").await.unwrap();
    m.follow(&k, "other-agent").await.unwrap();
    m.unfollow(&k, "other-agent").await.unwrap();
    m.agent(&k, "other-agent").await.unwrap();
    m.followers(&k).await.unwrap();
    m.following(&k).await.unwrap();
    m.submolts(&k).await.unwrap();
    m.submolt(&k, "general").await.unwrap();
    m.verify(&k, "v-1", "47.00").await.unwrap();
    // A path segment is one segment, whatever it holds.
    m.post(&k, "../agents/me").await.unwrap();

    let seen = fake.seen.lines("/api/v1");
    let expected = [
        r#"POST /agents/register {"name":"agent-one","description":"a test agent"}"#,
        "GET /agents/status",
        "GET /agents/me",
        r#"PUT /agents/me {"description":"new words"}"#,
        r#"POST /posts {"submolt":"general","title":"Hello","content":"First post"}"#,
        "GET /feed?sort=new&limit=10",
        "GET /posts?author=agent+one",
        "GET /posts/p1",
        "DELETE /posts/p1",
        r#"POST /posts/p1/comments {"content":"Nice"}"#,
        r#"POST /posts/p1/comments {"content":"Agreed","parentId":"c9"}"#,
        "GET /posts/p1/comments",
        r#"POST /posts/p1/vote {"direction":"up"}"#,
        r#"POST /posts/p2/vote {"direction":"down"}"#,
        "POST /comments/c9/upvote",
        "POST /agents/other-agent/follow",
        "DELETE /agents/other-agent/follow",
        "GET /agents/other-agent",
        "GET /agents/me/followers",
        "GET /agents/me/following",
        "GET /submolts",
        "GET /submolts/general",
        r#"POST /verify {"verification_code":"v-1","answer":"47.00"}"#,
        "GET /posts/..%2Fagents%2Fme",
    ];
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn failures_are_told_apart_and_never_carry_the_key() {
    let (_fake, base) = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let m = client(&base, dir.path(), Arc::new(ManualClock::new(1)));

    let bad = m
        .status(&ApiKey::new("moltbook_sk_wrong"))
        .await
        .unwrap_err();
    assert!(
        matches!(&bad, MoltbookError::Auth(msg) if msg == "Invalid API key"),
        "{bad}"
    );

    let suspended = m.profile(&ApiKey::new(SUSPENDED)).await.unwrap_err();
    assert!(suspended.is_suspended(), "{suspended}");
    assert!(suspended.to_string().contains("repeated spam"));

    let k = ApiKey::new(GOOD);
    let down = m.post(&k, "broken").await.unwrap_err();
    assert!(
        matches!(&down, MoltbookError::Remote { status: 502, message } if message == "upstream database unavailable"),
        "{down}"
    );
    let missing = m.post(&k, "missing").await.unwrap_err();
    assert!(
        matches!(&missing, MoltbookError::Remote { status: 404, .. }),
        "{missing}"
    );
    let slow = m.post(&k, "slow").await.unwrap_err();
    assert!(matches!(slow, MoltbookError::Timeout(_)), "{slow}");

    let nobody = Moltbook::new(
        "http://127.0.0.1:9/api/v1",
        Arc::new(Limiter::new(
            portos_moltbook::limits(),
            dir.path().join("x.json"),
            Arc::new(ManualClock::new(1)),
        )),
        Duration::from_secs(1),
    )
    .unwrap();
    let unreachable = nobody.status(&k).await.unwrap_err();
    assert!(
        matches!(unreachable, MoltbookError::Network(_)),
        "{unreachable}"
    );

    for e in [&bad, &suspended, &down, &missing, &unreachable] {
        for key in [GOOD, SUSPENDED, "moltbook_sk_wrong"] {
            assert!(
                !e.to_string().contains(key) && !format!("{e:?}").contains(key),
                "{e:?}"
            );
        }
    }
    assert_eq!(format!("{k:?}"), "ApiKey(<redacted>)");
}

#[tokio::test]
async fn limits_refuse_locally_survive_a_restart_and_follow_a_429() {
    let (fake, base) = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let k = ApiKey::new(GOOD);
    let m = client(&base, dir.path(), clock.clone());

    m.create_post(&k, "general", "One", "first").await.unwrap();
    let sent = fake.seen.hits();
    // The second post inside the 30-minute window never leaves.
    let e = m
        .create_post(&k, "general", "Two", "second")
        .await
        .unwrap_err();
    let MoltbookError::Limited(r) = &e else {
        panic!("{e}")
    };
    assert_eq!(r.which, Which::Cooldown);
    assert_eq!(r.wait, Duration::from_secs(30 * 60));
    assert!(e.to_string().contains("post"), "{e}");
    assert_eq!(fake.seen.hits(), sent, "nothing reached Moltbook");

    // A new client over the same state file (a restart of the server): still refused.
    clock.advance(Duration::from_secs(60));
    let after_restart = client(&base, dir.path(), clock.clone());
    let e = after_restart
        .create_post(&k, "general", "Two", "second")
        .await
        .unwrap_err();
    let MoltbookError::Limited(r) = &e else {
        panic!("{e}")
    };
    assert_eq!(r.wait, Duration::from_secs(29 * 60));
    assert_eq!(fake.seen.hits(), sent);
    clock.advance(r.wait);
    after_restart
        .create_post(&k, "general", "Two", "second")
        .await
        .unwrap();

    // Fifty comments a day: the 51st is refused until the day is over.
    for i in 0..50 {
        after_restart
            .comment(&k, "p1", &format!("c{i}"), None)
            .await
            .unwrap();
        clock.advance(Duration::from_secs(20));
    }
    let sent = fake.seen.hits();
    let e = after_restart
        .comment(&k, "p1", "one too many", None)
        .await
        .unwrap_err();
    let MoltbookError::Limited(r) = &e else {
        panic!("{e}")
    };
    assert_eq!(r.which, Which::Daily);
    assert_eq!(fake.seen.hits(), sent);

    // The platform says 429, Retry-After 120: the next post waits those 120 s here.
    let t = ApiKey::new(THROTTLED);
    let e = m
        .create_post(&t, "general", "Hi", "there")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, MoltbookError::RateLimited { retry_after: Some(d), .. } if *d == Duration::from_secs(120)),
        "{e}"
    );
    let sent = fake.seen.hits();
    let e = m
        .create_post(&t, "general", "Hi", "there")
        .await
        .unwrap_err();
    let MoltbookError::Limited(r) = &e else {
        panic!("{e}")
    };
    assert_eq!(r.wait, Duration::from_secs(120));
    assert_eq!(fake.seen.hits(), sent);
    let status = m.limit_status(&t).unwrap();
    let post = status.iter().find(|s| s.action == "post").unwrap();
    assert_eq!(post.cooldown_remaining_ms, 120_000);
    // A post Moltbook failed to handle (503) spends nothing: the next one goes out.
    let f = ApiKey::new(FLAKY);
    let e = m
        .create_post(&f, "general", "Hi", "there")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, MoltbookError::Remote { status: 503, .. }),
        "{e}"
    );
    let sent = fake.seen.hits();
    let e = m
        .create_post(&f, "general", "Hi", "there")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, MoltbookError::Remote { status: 503, .. }),
        "{e}"
    );
    assert_eq!(fake.seen.hits(), sent + 1);
    // The state file names no key.
    let text = std::fs::read_to_string(dir.path().join("moltbook-limits.json")).unwrap();
    assert!(!text.contains(GOOD) && !text.contains(THROTTLED), "{text}");
}
