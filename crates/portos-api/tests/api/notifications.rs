//! `/api/notifications` through the real server, over a file in the
//! original's shape: the routes' answers, the channel's events, refusals.

use super::*;

const A: &str = "5b0c3f0e-0d7e-4c57-9b59-1c7c0a3e2f11";
const B: &str = "6c1d4a1f-1e8f-4d68-8c6a-2d8d1b4f3a22";

/// The next event of the notifications channel (broadcasts skipped).
async fn next_note(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> Value {
    loop {
        let e = next_event(ws).await.expect("an event");
        if e["event"]
            .as_str()
            .is_some_and(|n| n.starts_with("notifications:"))
        {
            return e;
        }
    }
}

/// A socket on the notifications channel, its subscription answered.
async fn subscribed(
    s: &Server,
) -> impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
+ SinkExt<Message>
+ Unpin {
    let mut ws = s.ws().await;
    ws.send(Message::Text(
        r#"{"event":"notifications:subscribe"}"#.into(),
    ))
    .await
    .unwrap();
    assert_eq!(
        next_note(&mut ws).await["event"],
        "notifications:subscribed"
    );
    ws
}

fn seed(s: &Server) -> Value {
    let file = json!({
        "version": 1,
        "notifications": [
            { "id": A, "type": "briefing_ready", "title": "Daily Briefing Ready", "description": "ready",
              "priority": "low", "timestamp": "2026-11-30T08:00:00.000Z", "link": "/cos/briefing",
              "read": false, "metadata": { "date": "2026-11-30" } },
            { "id": B, "type": "health_issue", "title": "disk", "description": "",
              "priority": "high", "timestamp": "2026-12-01T08:00:00.000Z", "link": null,
              "read": true, "metadata": {} }
        ]
    });
    std::fs::write(
        s.data.path().join("notifications.json"),
        serde_json::to_string_pretty(&file).unwrap(),
    )
    .unwrap();
    file
}

#[tokio::test]
async fn the_routes_answer_as_the_original_and_send_its_events() {
    let s = start().await;
    let file = seed(&s);
    let (st, list) = s.get("/api/notifications").await;
    assert_eq!(st, 200);
    assert_eq!(list[0]["id"], B, "newest first: {list}");
    assert_eq!(list[1], file["notifications"][0], "as stored");
    assert_eq!(
        s.get("/api/notifications?unreadOnly=true")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.get("/api/notifications?type=health_issue&limit=1")
            .await
            .1[0]["id"],
        B
    );
    assert_eq!(
        s.get("/api/notifications/count").await.1,
        json!({ "count": 1 })
    );
    assert_eq!(
        s.get("/api/notifications/counts").await.1,
        json!({ "total": 2, "unread": 1, "byType": { "briefing_ready": 1, "health_issue": 1 } })
    );
    let (st, body) = s.get("/api/notifications?limit=abc").await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "VALIDATION_ERROR");

    let mut ws = subscribed(&s).await;
    let (st, body) = s.post(&format!("/api/notifications/{A}/read")).await;
    assert_eq!(
        (
            st,
            body["success"].as_bool(),
            body["notification"]["read"].as_bool()
        ),
        (200, Some(true), Some(true))
    );
    let e = next_note(&mut ws).await;
    assert_eq!(
        (e["event"].as_str(), e["data"]["id"].as_str()),
        (Some("notifications:updated"), Some(A))
    );
    let e = next_note(&mut ws).await;
    assert_eq!(
        (e["event"].as_str(), e["data"].as_u64()),
        (Some("notifications:count"), Some(0))
    );
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(s.data.path().join("notifications.json")).unwrap(),
    )
    .unwrap();
    let mut expected = file.clone();
    expected["notifications"][0]["read"] = json!(true);
    assert_eq!(saved, expected, "only the read flag changed");

    let (st, body) = s.post("/api/notifications/no-such-id/read").await;
    assert_eq!(st, 404);
    assert_error_shape(&body, "NOT_FOUND");
    assert_eq!(
        s.post("/api/notifications/read-all").await.1,
        json!({ "success": true, "updated": 0 })
    );
    let (st, body) = s.delete(&format!("/api/notifications/{B}")).await;
    assert_eq!((st, body["notification"]["id"].as_str()), (200, Some(B)));
    assert_eq!(next_note(&mut ws).await["event"], "notifications:removed");
    next_note(&mut ws).await;
    assert_eq!(
        s.delete("/api/notifications").await.1,
        json!({ "success": true, "cleared": 1 })
    );
    assert_eq!(next_note(&mut ws).await["event"], "notifications:cleared");
}

#[tokio::test]
async fn notifications_need_the_owner_and_our_own_origin() {
    let s = start().await;
    seed(&s);
    let anon = reqwest::Client::builder().no_proxy().build().unwrap();
    for path in [
        "/api/notifications",
        "/api/notifications/count",
        "/api/notifications/counts",
    ] {
        let r = anon.get(format!("{}{path}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    for (method, path) in [
        (
            reqwest::Method::POST,
            format!("/api/notifications/{A}/read"),
        ),
        (
            reqwest::Method::POST,
            "/api/notifications/read-all".to_string(),
        ),
        (reqwest::Method::DELETE, "/api/notifications".to_string()),
    ] {
        let (status, _) = from_another_site(&s, method, &path, None).await;
        assert_eq!(status, 403, "{path}");
    }
    assert_eq!(
        s.get("/api/notifications/count").await.1,
        json!({ "count": 1 }),
        "nothing changed"
    );
}

#[tokio::test]
async fn a_provider_that_hits_its_limit_rings_once() {
    let s = start().await;
    let mut ws = subscribed(&s).await;
    let ai = &s.state.ai;
    portos_ai::status::from_run(
        ai,
        "claude",
        "rate-limit",
        "Rate limit reached, try again in 5 minutes",
    )
    .await;
    let added = next_note(&mut ws).await;
    assert_eq!(added["event"], "notifications:added", "{added}");
    assert_eq!(added["data"]["title"], "claude is unavailable (rate-limit)");
    assert_eq!(added["data"]["link"], "/providers");
    // Still unavailable, hit again: no second notification while the first is unread.
    limit_again(ai).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        s.get("/api/notifications/count").await.1,
        json!({ "count": 1 })
    );
}

async fn limit_again(ai: &portos_ai::Ai) {
    portos_ai::status::from_run(ai, "claude", "usage-limit", "Usage limit reached").await;
}

#[tokio::test]
async fn failed_schedules_and_suspended_accounts_ring_the_bell_manual_runs_do_not() {
    let s = start().await;
    let mut ws = subscribed(&s).await;
    let bell = |event: &str, data: Value| {
        portos_api::routes::notifications::bell(&s.state.notifications, event, &data)
    };
    // A digest the owner asked for failed: they saw it fail; no notification.
    bell(
        "brain:digest:failed",
        json!({ "job": "daily-digest", "trigger": "manual", "error": "boom" }),
    );
    bell(
        "brain:digest:failed",
        json!({ "job": "daily-digest", "trigger": "schedule", "error": "No AI provider available" }),
    );
    let added = next_note(&mut ws).await;
    assert_eq!(
        added["data"]["title"], "Scheduled daily digest failed",
        "{added}"
    );
    assert_eq!(added["data"]["description"], "No AI provider available");
    next_note(&mut ws).await;
    bell(
        "agents:activity",
        json!({ "status": "failed", "scheduleId": "s1", "action": "post", "agentId": "a1", "error": "429" }),
    );
    assert_eq!(
        next_note(&mut ws).await["data"]["title"],
        "Scheduled post for a1 failed"
    );
    next_note(&mut ws).await;
    // An action run by hand (no schedule) that failed: the owner saw it.
    bell(
        "agents:activity",
        json!({ "status": "failed", "scheduleId": null, "action": "post", "agentId": "a1" }),
    );
    bell(
        "agents:account:suspended",
        json!({ "accountId": "acc", "username": "ada", "platform": "moltbook", "error": "suspended" }),
    );
    assert_eq!(
        next_note(&mut ws).await["data"]["title"],
        "moltbook suspended ada"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        s.get("/api/notifications/count").await.1,
        json!({ "count": 3 })
    );
}
