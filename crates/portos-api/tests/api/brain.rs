//! `/api/brain` through the real server: capture without a provider goes to
//! review with the reason (on /ws too), records under `/api/brain/{kind}`,
//! settings refusals, and the routes' refusals without the owner or from
//! another site.

use super::*;

/// The next `brain:classified` broadcast.
async fn classified(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> Value {
    for _ in 0..40 {
        if let Some(e) = next_event(ws).await
            && e["event"] == "brain:classified"
        {
            return e["data"].clone();
        }
    }
    panic!("no brain:classified");
}

#[tokio::test]
async fn a_capture_with_no_provider_goes_to_review_with_the_reason() {
    let s = start().await;
    let mut ws = s.ws().await;
    let (st, got) = s
        .post_json(
            "/api/brain/capture",
            &json!({"text": "Call Dana about the lease"}),
        )
        .await;
    assert_eq!(st, 200, "{got}");
    assert_eq!(got["message"], "Thought captured! AI is classifying...");
    let id = got["inboxLog"]["id"].as_str().unwrap().to_string();
    let event = classified(&mut ws).await;
    assert_eq!(
        event,
        json!({"entryId": id, "status": "needs_review", "error": "No AI provider available"})
    );
    let (_, entry) = s.get(&format!("/api/brain/inbox/{id}")).await;
    assert_eq!(entry["status"], "needs_review");
    assert_eq!(entry["classification"]["title"], "Classification failed");
    let (_, inbox) = s.get("/api/brain/inbox?status=needs_review").await;
    assert_eq!(inbox["counts"]["needs_review"], 1);
    let (st, body) = s.get("/api/brain/inbox?limit=500").await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "VALIDATION_ERROR");
    // Resolved by hand: filed as a person named after the thought.
    let (st, r) = s
        .post_json(
            "/api/brain/review/resolve",
            &json!({"inboxLogId": id, "destination": "people"}),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["filedRecord"]["name"], "Call Dana about the lease");
    let (st, body) = s
        .post_json(
            "/api/brain/review/resolve",
            &json!({"inboxLogId": id, "destination": "people"}),
        )
        .await;
    assert_eq!(st, 409);
    assert_error_shape(&body, "NOT_IN_REVIEW");
    // A digest with no provider: 422 with the reason, nothing stored.
    let (st, body) = s.post("/api/brain/digest/run").await;
    assert_eq!(st, 422, "{body}");
    assert_eq!(body["error"], "No AI provider available");
    assert_eq!(s.get("/api/brain/digest/latest").await.1, Value::Null);
}

#[tokio::test]
async fn records_settings_and_links_answer_as_the_original() {
    let s = start().await;
    let (st, p) = s
        .post_json(
            "/api/brain/projects",
            &json!({"name": "Garden", "nextAction": "Measure the bed", "archived": true}),
        )
        .await;
    assert_eq!(st, 201, "{p}");
    assert_eq!(p["status"], "active");
    assert!(p.get("archived").is_none(), "unknown keys are dropped");
    let id = p["id"].as_str().unwrap();
    let (st, body) = s
        .post_json("/api/brain/projects", &json!({"name": "No next action"}))
        .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (400, Some("nextAction is required"))
    );
    let (st, _) = s
        .send(
            reqwest::Method::PUT,
            &format!("/api/brain/projects/{id}"),
            Some(r#"{"status":"blocked"}"#),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        s.get("/api/brain/projects?status=blocked")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (st, body) = s.get("/api/brain/pets").await;
    assert_eq!(st, 404);
    assert_error_shape(&body, "NOT_FOUND");
    let (st, body) = s.get("/api/brain/people/nope").await;
    assert_eq!(
        (st, body["error"].as_str()),
        (404, Some("Person not found"))
    );
    assert_eq!(s.delete(&format!("/api/brain/projects/{id}")).await.0, 204);

    let (_, settings) = s.get("/api/brain/settings").await;
    assert_eq!(settings["dailyDigestTime"], "09:00");
    assert_eq!(settings["lastDailyDigest"], Value::Null);
    let (st, body) = s
        .send(
            reqwest::Method::PUT,
            "/api/brain/settings",
            Some(r#"{"weeklyReviewTime":"25:00"}"#),
        )
        .await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "VALIDATION_ERROR");
    let (st, body) = s
        .send(
            reqwest::Method::PUT,
            "/api/brain/settings",
            Some(r#"{"defaultProvider":"nope"}"#),
        )
        .await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "INVALID_PROVIDER");

    let (st, l) = s
        .post_json(
            "/api/brain/links",
            &json!({"url": "https://example.com/a", "tags": ["x"]}),
        )
        .await;
    assert_eq!(st, 201);
    assert_eq!(
        (l["linkType"].as_str(), l["cloneStatus"].as_str()),
        (Some("other"), Some("none"))
    );
    let (st, body) = s
        .post_json("/api/brain/links", &json!({"url": "https://example.com/a"}))
        .await;
    assert_eq!(st, 409);
    assert_eq!(body["context"]["existingId"], l["id"]);
    let (st, body) = s
        .post(&format!(
            "/api/brain/links/{}/clone",
            l["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "NOT_GITHUB_REPO");
    assert_eq!(
        s.get("/api/brain/links?isGitHubRepo=false").await.1["total"],
        1
    );
    let (_, summary) = s.get("/api/brain/summary").await;
    assert_eq!(
        (
            summary["counts"]["links"].clone(),
            summary["counts"]["projects"].clone()
        ),
        (json!(1), json!(0))
    );
    let (_, schedule) = s.get("/api/brain/schedule").await;
    assert_eq!(schedule["missedRuns"], "runOnce");
    assert_eq!(schedule["jobs"][0]["job"], "daily-digest");
}

#[tokio::test]
async fn the_brain_needs_the_owner_and_our_own_origin() {
    let s = start().await;
    let anon = reqwest::Client::builder().no_proxy().build().unwrap();
    // Four tries: past that, the limiter answers 429 to a stranger.
    for path in [
        "/api/brain/inbox",
        "/api/brain/people",
        "/api/brain/schedule",
    ] {
        let r = anon.get(format!("{}{path}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    let r = anon
        .post(format!("{}/api/brain/capture", s.base))
        .json(&json!({"text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            "/api/brain/capture",
            Some(r#"{"text":"from a stranger"}"#),
        ),
        (
            reqwest::Method::POST,
            "/api/brain/people",
            Some(r#"{"name":"Mallory"}"#),
        ),
        (
            reqwest::Method::PUT,
            "/api/brain/settings",
            Some(r#"{"dailyDigestTime":"01:00"}"#),
        ),
        (
            reqwest::Method::POST,
            "/api/brain/links",
            Some(r#"{"url":"https://github.com/evil/repo"}"#),
        ),
        (reqwest::Method::POST, "/api/brain/digest/run", None),
        (reqwest::Method::POST, "/api/brain/review/run", None),
    ] {
        let (status, _) = from_another_site(&s, method, path, body).await;
        assert_eq!(status, 403, "{path}");
    }
    assert!(!s.data.path().join("brain").exists(), "nothing was written");
}
