//! `/api/commands` through the real server: a command's output on the live
//! socket, its history entry, a refusal with its reason, and who may call.

use super::*;

/// The live events until `command:<id>:complete` (10 s at most).
async fn until_complete(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
    id: &str,
) -> (String, Value) {
    let (data, complete) = (
        format!("command:{id}:data"),
        format!("command:{id}:complete"),
    );
    let mut out = String::new();
    for _ in 0..20 {
        while let Some(e) = next_event(ws).await {
            if e["event"] == data.as_str() {
                out.push_str(e["data"]["data"].as_str().unwrap());
            } else if e["event"] == complete.as_str() {
                return (out, e["data"].clone());
            }
        }
    }
    panic!("no {complete}; output so far {out:?}");
}

#[tokio::test]
async fn a_command_streams_to_every_socket_and_is_recorded() {
    let s = start().await;
    let mut ws = s.ws().await;
    let folder = s.data.path().to_str().unwrap().to_string();
    let (st, body) = s
        .post_json(
            "/api/commands/execute",
            &json!({ "command": "echo \"hello  there\"", "workspacePath": folder }),
        )
        .await;
    assert_eq!(st, 202, "{body}");
    assert_eq!(body["status"], "started");
    let id = body["commandId"].as_str().unwrap().to_string();
    let (out, done) = until_complete(&mut ws, &id).await;
    assert_eq!(out, "hello  there\n", "the quoted argument stays one");
    assert_eq!(
        (done["success"].as_bool(), done["exitCode"].as_i64()),
        (Some(true), Some(0)),
        "{done}"
    );
    assert!(done["runtime"].as_u64().is_some());
    let (_, history) = s.get("/api/history?action=command").await;
    let entry = &history["entries"][0];
    assert_eq!(entry["targetName"], "echo \"hello  there\"", "{history}");
    assert_eq!(entry["details"]["output"], "hello  there\n");
    assert_eq!(entry["details"]["workspacePath"], json!(folder));
    // Gone once finished: stop has nothing to stop.
    let (st, body) = s.post(&format!("/api/commands/{id}/stop")).await;
    assert_eq!(st, 404);
    assert_error_shape(&body, "NOT_ACTIVE");
}

#[tokio::test]
async fn a_refused_command_is_a_403_with_its_reason_and_in_the_history() {
    let s = start().await;
    for (command, reason) in [
        ("rm -rf /", "Command 'rm' is not in the allowlist"),
        (
            "cat /etc/passwd > /tmp/x",
            "Command contains disallowed shell characters (security restriction)",
        ),
    ] {
        let (st, body) = s
            .post_json("/api/commands/execute", &json!({ "command": command }))
            .await;
        assert_eq!(st, 403, "{command}: {body}");
        assert_error_shape(&body, "FORBIDDEN");
        assert_eq!(body["error"], reason);
    }
    let (_, history) = s.get("/api/history?action=command").await;
    let entries = history["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{history}");
    assert!(entries.iter().all(|e| e["success"] == false));
    let (st, body) = s.post_json("/api/commands/execute", &json!({})).await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "MISSING_COMMAND");
    let (st, body) = s
        .post_json(
            "/api/commands/execute",
            &json!({ "command": "ls", "workspacePath": "/no/such/dir" }),
        )
        .await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "INVALID_WORKSPACE");
}

#[tokio::test]
async fn the_allow_list_is_a_checked_setting() {
    let s = start().await;
    let (st, list) = s.get("/api/commands/allowed").await;
    assert_eq!(st, 200);
    let list: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(list.contains(&"git") && list.contains(&"cargo"), "{list:?}");
    assert!(list.windows(2).all(|w| w[0] <= w[1]), "sorted: {list:?}");
    let s = &s;
    let put = |v: Value| async move {
        s.send(reqwest::Method::PUT, "/api/settings", Some(&v.to_string()))
            .await
    };
    let (st, body) = put(json!({ "commands": { "allowed": ["/bin/sh"] } })).await;
    assert_eq!(st, 400, "{body}");
    assert_error_shape(&body, "VALIDATION_ERROR");
    assert_eq!(
        put(json!({ "commands": { "allowed": ["echo"] } })).await.0,
        200
    );
    assert_eq!(s.get("/api/commands/allowed").await.1, json!(["echo"]));
    let (st, body) = s
        .post_json("/api/commands/execute", &json!({ "command": "git status" }))
        .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (403, Some("Command 'git' is not in the allowlist"))
    );
}

#[tokio::test]
async fn commands_need_the_owner_and_our_own_origin() {
    let s = start().await;
    let anon = reqwest::Client::builder().no_proxy().build().unwrap();
    let body = r#"{"command": "echo from-a-stranger"}"#;
    let r = anon
        .post(format!("{}/api/commands/execute", s.base))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    for path in [
        "/api/commands/allowed",
        "/api/commands/processes",
        "/api/commands/x/stop",
    ] {
        let r = anon.get(format!("{}{path}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    // The owner's session from another site's page: refused before it runs.
    let (status, answer) = from_another_site(
        &s,
        reqwest::Method::POST,
        "/api/commands/execute",
        Some(body),
    )
    .await;
    assert_eq!(status, 403);
    assert_error_shape(&answer, "CROSS_ORIGIN");
    let (_, history) = s.get("/api/history?action=command").await;
    assert_eq!(
        history["entries"],
        json!([]),
        "nothing ran, nothing recorded"
    );
}
