use super::*;

#[tokio::test]
async fn history_lists_filters_and_counts_like_the_original() {
    let s = start().await;
    let (st, body) = s.get("/api/history").await;
    assert_eq!(st, 200);
    assert_eq!(body["total"], 3);
    let ids: Vec<&str> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert!(
        ids[0].ends_with("0003") && ids[2].ends_with("0001"),
        "newest first: {ids:?}"
    );

    let (_, body) = s.get("/api/history?action=start&target=blog").await;
    assert_eq!(body["total"], 1);
    let (_, body) = s.get("/api/history?success=false").await;
    assert_eq!(body["entries"][0]["error"], "process not found");
    let (_, body) = s.get("/api/history?limit=1&offset=1").await;
    assert_eq!(
        (
            body["total"].as_u64(),
            body["entries"].as_array().unwrap().len()
        ),
        (Some(3), 1)
    );

    let (_, stats) = s.get("/api/history/stats").await;
    assert_eq!(stats["total"], 3);
    assert_eq!(stats["byAction"], json!({"restart": 1, "start": 2}));
    assert_eq!(stats["successRate"], "66.7");
    let (_, actions) = s.get("/api/history/actions").await;
    assert_eq!(actions, json!(["restart", "start"]));

    let (st, body) = s
        .delete("/api/history/0b7c5c1e-0003-4000-8000-000000000003")
        .await;
    assert_eq!((st, body), (200, json!({"deleted": true})));
    // The same query again answers the new data, not a kept answer.
    assert_eq!(s.get("/api/history").await.1["total"], 2);
    let (st, body) = s.delete("/api/history/nope").await;
    assert_eq!(
        (st, body),
        (200, json!({"deleted": false, "error": "Entry not found"}))
    );
    // The field a newer version wrote is still in the file after the rewrite.
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(s.data.path().join("history.json")).unwrap())
            .unwrap();
    assert_eq!(
        file["entries"][1]["addedByANewerVersion"],
        json!({"keep": true})
    );

    let (st, body) = s.delete("/api/history?olderThanDays=1").await;
    assert_eq!((st, body), (200, json!({"cleared": true})));
    assert_eq!(s.get("/api/history").await.1["total"], 0);
}

#[tokio::test]
async fn bad_input_gets_a_4xx_json_error_never_a_500() {
    let s = start().await;
    let (st, body) = s
        .send(reqwest::Method::PUT, "/api/settings", Some("{ not json"))
        .await;
    assert_eq!(st, 400, "{body}");
    assert_error_shape(&body, "BAD_REQUEST");
    let (st, body) = s
        .send(reqwest::Method::PUT, "/api/settings", Some("[1, 2]"))
        .await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "VALIDATION_ERROR");
    let (st, body) = s.get("/api/history?limit=lots").await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "VALIDATION_ERROR");
    assert!(body["error"].as_str().unwrap().contains("limit"), "{body}");
    let (st, body) = s.get("/api/no/such/route").await;
    assert_eq!(st, 404);
    assert_error_shape(&body, "NOT_FOUND");
    for name in ["..%2F..%2Fetc%2Fpasswd", "a%20b", "x%00y", "a%2Fb"] {
        let (st, body) = s.get(&format!("/api/logs/{name}")).await;
        assert_eq!(st, 400, "{name}: {body}");
        assert_error_shape(&body, "INVALID_PROCESS_NAME");
    }
    // One process's control: a bad action or name is refused before the supervisor is asked.
    let (st, body) = s.post("/api/processes/sleeper/jump").await;
    assert_eq!(st, 400, "{body}");
    assert_error_shape(&body, "INVALID_ACTION");
    assert!(body["error"].as_str().unwrap().contains("jump"), "{body}");
    let (st, body) = s.post("/api/processes/a%2Fb/restart").await;
    assert_eq!(st, 400, "{body}");
    assert_error_shape(&body, "INVALID_PROCESS_NAME");
    let huge = format!(
        "{{\"big\": \"{}\"}}",
        "x".repeat(portos_api::BODY_LIMIT + 10)
    );
    let (st, body) = s
        .send(reqwest::Method::PUT, "/api/settings", Some(&huge))
        .await;
    assert_eq!(st, 413, "{body}");
    assert_error_shape(&body, "PAYLOAD_TOO_LARGE");
    let (st, body) = s.get("/api/apps/unknown-app").await;
    assert_eq!(st, 404);
    assert_eq!(body["error"], "App not found");
}

#[tokio::test]
async fn a_corrupt_data_file_is_named_and_left_untouched() {
    let s = start().await;
    let path = s.data.path().join("history.json");
    std::fs::write(&path, "{\"entries\": [ {\"id\": 1 ").unwrap();
    let (st, body) = s.get("/api/history").await;
    assert_eq!(st, 500);
    assert!(
        body["error"].as_str().unwrap().contains("history.json"),
        "{body}"
    );
    assert_eq!(body["context"]["kind"], "CORRUPT_DATA_FILE");
    let (st, _) = s.delete("/api/history").await;
    assert_eq!(st, 500);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\"entries\": [ {\"id\": 1 "
    );
    // The owner hears of it once (two failures, one unread notification).
    let mut notes = Value::Null;
    for _ in 0..100 {
        notes = s.get("/api/notifications").await.1;
        if notes.as_array().is_some_and(|n| !n.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(notes.as_array().map(Vec::len), Some(1), "{notes}");
    assert!(
        notes[0]["title"]
            .as_str()
            .unwrap()
            .starts_with("Server error"),
        "{notes}"
    );
    assert!(
        notes[0]["description"]
            .as_str()
            .unwrap()
            .contains("history.json"),
        "{notes}"
    );
}

#[tokio::test]
async fn settings_merge_and_never_show_a_secret() {
    let s = start().await;
    let (st, body) = s.get("/api/settings").await;
    assert_eq!(st, 200);
    let text = body.to_string();
    assert!(
        !text.contains("jira-token-AAAABBBBCCCC1234") && !text.contains("SECRETSECRET"),
        "{text}"
    );
    assert_eq!(body["openai"]["apiKey"], "***9876");
    assert_eq!(body["theme"], "dark");
    let (st, body) = s
        .send(
            reqwest::Method::PUT,
            "/api/settings",
            Some(r#"{"theme": "light", "port": 1}"#),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        (body["theme"].as_str(), body["port"].as_u64()),
        (Some("light"), Some(1))
    );
    assert!(!body.to_string().contains("SECRETSECRET"));
    let file = std::fs::read_to_string(s.data.path().join("settings.json")).unwrap();
    assert!(
        file.contains("sk-live-SECRETSECRETSECRET9876"),
        "the secret itself is kept on disk"
    );
}

#[tokio::test]
async fn a_foreign_host_is_refused() {
    let s = start().await;
    for (host, ok) in [
        ("evil.example.com", false),
        ("rebind.attacker.net:5554", false),
        ("localhost:5554", true),
        ("127.0.0.1", true),
        ("192.168.1.7:5554", true),
    ] {
        let r = s
            .http
            .get(format!("{}/api/history", s.base))
            .header("host", host)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        if ok {
            assert_eq!(status, 200, "{host}: {body}");
        } else {
            assert_eq!(status, 403, "{host}");
            assert_error_shape(&body, "HOST_NOT_ALLOWED");
        }
    }
}

pub(crate) async fn next_event(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> Option<Value> {
    match tokio::time::timeout(Duration::from_millis(500), ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str(t.as_str()).ok(),
        _ => None,
    }
}

#[tokio::test]
async fn errors_reach_only_the_errors_channel_subscribers() {
    let s = start().await;
    let mut sub = s.ws().await;
    let mut other = s.ws().await;
    sub.send(Message::Text(r#"{"event":"errors:subscribe"}"#.into()))
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut sub).await.unwrap()["event"],
        "errors:subscribed"
    );
    other
        .send(Message::Text(
            r#"{"event":"notifications:subscribe"}"#.into(),
        ))
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut other).await.unwrap()["event"],
        "notifications:subscribed"
    );

    let (st, _) = s.get("/api/history?limit=-1").await;
    assert_eq!(st, 400);
    let mut got = Vec::new();
    while let Some(e) = next_event(&mut sub).await {
        got.push(e);
    }
    let notified = got
        .iter()
        .find(|e| e["event"] == "error:notified")
        .expect("error:notified for the subscriber");
    assert_eq!(notified["data"]["code"], "VALIDATION_ERROR");
    assert_eq!(notified["data"]["status"], 400);
    let mut others = Vec::new();
    while let Some(e) = next_event(&mut other).await {
        others.push(e["event"].as_str().unwrap().to_string());
    }
    assert!(
        !others.contains(&"error:notified".to_string()),
        "{others:?}"
    );
    assert!(
        others.contains(&"error:occurred".to_string()),
        "the broadcast reaches everyone: {others:?}"
    );

    // Unsubscribed: nothing more on the channel.
    sub.send(Message::Text(r#"{"event":"errors:unsubscribe"}"#.into()))
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut sub).await.unwrap()["event"],
        "errors:unsubscribed"
    );
    s.get("/api/nope").await;
    let mut after = Vec::new();
    while let Some(e) = next_event(&mut sub).await {
        after.push(e["event"].as_str().unwrap().to_string());
    }
    assert!(!after.contains(&"error:notified".to_string()), "{after:?}");

    // Bad messages get an error event, not a crash.
    sub.send(Message::Text("not json".into())).await.unwrap();
    assert_eq!(next_event(&mut sub).await.unwrap()["event"], "error");
    sub.send(Message::Text(r#"{"event":"nosuch:subscribe"}"#.into()))
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut sub).await.unwrap()["event"],
        "nosuch:subscribe:error"
    );
}

#[tokio::test]
async fn a_client_that_never_reads_is_dropped_and_the_others_keep_receiving() {
    let s = start().await;
    let mut slow = s.ws().await;
    slow.send(Message::Text(
        r#"{"event":"notifications:subscribe"}"#.into(),
    ))
    .await
    .unwrap();
    let mut fast = s.ws().await;
    fast.send(Message::Text(
        r#"{"event":"notifications:subscribe"}"#.into(),
    ))
    .await
    .unwrap();
    assert_eq!(
        next_event(&mut fast).await.unwrap()["event"],
        "notifications:subscribed"
    );
    // `slow` never reads from here on.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(s.state.hub.client_count(), 2);

    let reader = tokio::spawn(async move {
        let mut n = 0u64;
        while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(2), fast.next()).await
        {
            if let Message::Text(t) = m
                && t.as_str().contains("\"notifications:added\"")
            {
                n += 1;
            }
        }
        n
    });
    let payload = json!({ "title": "x".repeat(2048) });
    let mut sent = 0u64;
    while s.state.hub.client_count() == 2 && sent < 200_000 {
        for _ in 0..50 {
            s.state
                .hub
                .publish("notifications", "notifications:added", &payload);
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(
        s.state.hub.client_count(),
        1,
        "the slow client was dropped after {sent} events"
    );
    for _ in 0..100 {
        s.state
            .hub
            .publish("notifications", "notifications:added", &payload);
        sent += 1;
    }
    let received = reader.await.unwrap();
    assert_eq!(received, sent, "the reading client got every event");
    drop(slow);
}

pub(crate) const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

#[tokio::test]
async fn uploads_round_trip_with_safe_names() {
    use base64::Engine;
    let s = start().await;
    let data = base64::engine::general_purpose::STANDARD.encode(b"hello, world");
    let (st, body) = s
        .post_json(
            "/api/uploads",
            &json!({"data": data, "filename": "../../etc/notes.txt"}),
        )
        .await;
    assert_eq!(st, 201, "{body}");
    let stored = body["filename"].as_str().unwrap().to_string();
    assert!(
        stored.ends_with("-notes.txt") && !stored.contains('/'),
        "{stored}"
    );
    assert_eq!(body["size"], 12);
    assert_eq!(body["sizeFormatted"], "12 B");
    assert!(s.data.path().join("uploads").join(&stored).is_file());

    // Multipart too.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"a,b\n1,2\n".to_vec()).file_name("data.csv"),
    );
    let r = s
        .http
        .post(format!("{}/api/uploads", s.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let csv: Value = r.json().await.unwrap();
    assert_eq!(csv["mimeType"], "text/csv; charset=utf-8");

    let (_, list) = s.get("/api/uploads").await;
    assert_eq!(list["count"], 2);
    assert_eq!(list["totalSize"], 20);

    let r = s
        .http
        .get(format!("{}/api/uploads/{stored}", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"hello, world");

    for bad in ["..%2F..%2Fhistory.json", "%2E%2Eenv", "a%5Cb"] {
        let (st, body) = s.get(&format!("/api/uploads/{bad}")).await;
        assert!(st == 400 || st == 404, "{bad}: {st} {body}");
        assert_ne!(st, 200);
    }
    let (st, body) = s.get("/api/uploads/..%2F..%2Fhistory.json").await;
    assert_eq!(st, 400, "{body}");
    assert_error_shape(&body, "INVALID_FILENAME");

    let (st, body) = s.delete(&format!("/api/uploads/{stored}")).await;
    assert_eq!((st, body["success"].as_bool()), (200, Some(true)));
    let (st, _) = s.delete(&format!("/api/uploads/{stored}")).await;
    assert_eq!(st, 404);
    let (st, body) = s.delete("/api/uploads").await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "CONFIRMATION_REQUIRED");
    let (st, body) = s.delete("/api/uploads?confirm=true").await;
    assert_eq!((st, body["deleted"].as_u64()), (200, Some(1)));

    let (st, body) = s
        .send(
            reqwest::Method::POST,
            "/api/uploads",
            Some(r#"{"filename": "x.txt"}"#),
        )
        .await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "VALIDATION_ERROR");
    let (st, body) = s
        .send(
            reqwest::Method::POST,
            "/api/uploads",
            Some(r#"{"data": "@@@@", "filename": "x.txt"}"#),
        )
        .await;
    assert_eq!(st, 400, "{body}");
}

#[tokio::test]
async fn screenshots_are_checked_by_their_bytes_and_attachments_by_extension() {
    let s = start().await;
    let (st, body) = s
        .post_json(
            "/api/screenshots",
            &json!({"data": PNG_1X1, "filename": "shot"}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["filename"], "shot.png");
    let r = s
        .http
        .get(format!("{}/api/screenshots/shot.png", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/png");
    let not_image = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        b"<svg onload=alert(1)>",
    );
    let (st, body) = s
        .post_json("/api/screenshots", &json!({"data": not_image}))
        .await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "INVALID_FILE_TYPE");

    let (st, body) = s
        .post_json(
            "/api/attachments",
            &json!({"data": PNG_1X1, "filename": "run.exe"}),
        )
        .await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "INVALID_FILE_TYPE");
    let (st, body) = s
        .post_json(
            "/api/attachments",
            &json!({"data": PNG_1X1, "filename": "pic.png"}),
        )
        .await;
    assert_eq!(st, 201, "{body}");
    let (_, list) = s.get("/api/attachments").await;
    assert_eq!(list["attachments"].as_array().unwrap().len(), 1);
    assert!(
        s.data
            .path()
            .join("cos/attachments")
            .join(body["filename"].as_str().unwrap())
            .is_file()
    );
}
