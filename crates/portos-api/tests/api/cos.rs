//! `/api/cos` in-process: who may call it, what it refuses, and that the
//! task files take exactly what the routes say. Agents themselves are the
//! e2e test's (they need the runner).

use super::*;

#[tokio::test]
async fn the_cos_needs_the_owner_and_our_own_origin() {
    let s = start().await;
    let anon = reqwest::Client::builder().no_proxy().build().unwrap();
    // Four tries: past that, the limiter answers 429 to a stranger.
    for path in ["/api/cos", "/api/cos/tasks", "/api/cos/agents"] {
        let r = anon.get(format!("{}{path}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    let r = anon
        .post(format!("{}/api/cos/tasks", s.base))
        .json(&json!({"description": "from a stranger"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            "/api/cos/tasks",
            Some(r#"{"description":"from another site"}"#),
        ),
        (reqwest::Method::POST, "/api/cos/start", None),
        (
            reqwest::Method::PUT,
            "/api/cos/config",
            Some(r#"{"maxConcurrentAgents":9}"#),
        ),
        (
            reqwest::Method::POST,
            "/api/cos/tasks/reorder",
            Some(r#"{"taskIds":["task-1"]}"#),
        ),
        (reqwest::Method::DELETE, "/api/cos/tasks/task-1", None),
        (
            reqwest::Method::POST,
            "/api/cos/agents/agent-12345678/terminate",
            None,
        ),
    ] {
        let (status, body) = from_another_site(&s, method, path, body).await;
        assert_eq!(status, 403, "{path}");
        assert_error_shape(&body, "CROSS_ORIGIN");
    }
    assert!(
        !s.data.path().join("TASKS.md").exists()
            || !std::fs::read_to_string(s.data.path().join("TASKS.md"))
                .unwrap()
                .contains("another site")
    );
    assert!(
        !s.data.path().join("cos/state.json").exists()
            || !std::fs::read_to_string(s.data.path().join("cos/state.json"))
                .unwrap()
                .contains("\"maxConcurrentAgents\": 9")
    );
}

#[tokio::test]
async fn bad_requests_are_refused_whole_and_write_nothing() {
    let s = start().await;
    for (body, why) in [
        (json!({}), "description is required"),
        (json!({"description": "  "}), "description is required"),
        (
            json!({"description": "x", "priority": "URGENT"}),
            "priority",
        ),
        (json!({"description": "x", "type": "ready"}), "type"),
        (
            json!({"description": "x", "useWorktree": "yes"}),
            "useWorktree",
        ),
        (
            json!({"description": "x", "app": "no-such-app"}),
            "no registered app",
        ),
        (
            json!({"description": "x", "metadata": {"bad key": 1}}),
            "metadata key",
        ),
        (
            json!({"description": "x", "metadata": {"blockedReason": "forged"}}),
            "metadata key",
        ),
        (
            json!({"description": "x", "position": "middle"}),
            "position",
        ),
    ] {
        let (st, b) = s.post_json("/api/cos/tasks", &body).await;
        assert_eq!(st, 400, "{body} → {b}");
        assert_error_shape(&b, "VALIDATION_ERROR");
        assert!(b["error"].as_str().unwrap().contains(why), "{b}");
    }
    let (_, tasks) = s.get("/api/cos/tasks").await;
    assert_eq!(tasks["user"]["tasks"], json!([]), "{tasks}");
    // The config: unknown keys, the task files' paths and wrong types are refused.
    for (body, why) in [
        (json!({"noSuchKey": 1}), "unknown config key"),
        (json!({"userTasksFile": "/etc/passwd"}), "not settable"),
        (json!({"cosTasksFile": "../x.md"}), "not settable"),
        (
            json!({"maxConcurrentAgents": "three"}),
            "maxConcurrentAgents",
        ),
        (json!({"maxConcurrentAgents": 0}), "maxConcurrentAgents"),
        (json!({"lanes": {"critical": 1, "huge": 2}}), "lanes"),
    ] {
        let (st, b) = s
            .send(
                reqwest::Method::PUT,
                "/api/cos/config",
                Some(&body.to_string()),
            )
            .await;
        assert_eq!(st, 400, "{body} → {b}");
        assert!(b["error"].as_str().unwrap().contains(why), "{b}");
    }
    let (_, cfg) = s.get("/api/cos/config").await;
    assert_eq!(cfg["maxConcurrentAgents"], 3);
    assert_eq!(cfg["userTasksFile"], "data/TASKS.md");
    for (path, code) in [
        ("/api/cos/agents/agent-00000000", 404),
        ("/api/cos/agents/..%2F..%2Fetc", 400),
        ("/api/cos/reports/2026-13-45", 400),
        ("/api/cos/reports/2026-01-01", 404),
        ("/api/cos/agents/history/yesterday", 400),
    ] {
        let (st, b) = s.get(path).await;
        assert_eq!(st, code, "{path}: {b}");
    }
    for (path, code) in [
        ("/api/cos/tasks/task-nope/approve", 404),
        ("/api/cos/agents/agent-00000000/terminate", 404),
        ("/api/cos/learning/reset/nothing", 404),
    ] {
        let (st, b) = s.post(path).await;
        assert_eq!(st, code, "{path}: {b}");
    }
    let (st, b) = s
        .post_json("/api/cos/tasks/reorder", &json!({"taskIds": ["task-nope"]}))
        .await;
    assert_eq!(st, 404, "{b}");
    let (st, _) = s.delete("/api/cos/tasks/task-nope").await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn tasks_are_added_edited_reordered_and_deleted_in_the_original_format() {
    let s = start().await;
    let mut ids = Vec::new();
    for (d, p) in [
        ("first", "LOW"),
        ("second", "CRITICAL"),
        ("third\nwith a second line", "HIGH"),
    ] {
        let (st, t) = s.post_json("/api/cos/tasks", &json!({"description": d, "priority": p, "context": "why\nand how", "attachments": [{"filename": "a.png"}]})).await;
        assert_eq!(st, 201, "{t}");
        assert_eq!(t["status"], "pending");
        assert_eq!(t["taskType"], "user");
        ids.push(t["id"].as_str().unwrap().to_string());
    }
    let (st, top) = s
        .post_json(
            "/api/cos/tasks",
            &json!({"description": "on top", "position": "top"}),
        )
        .await;
    assert_eq!(st, 201);
    let (_, all) = s.get("/api/cos/tasks").await;
    let order: Vec<&str> = all["user"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [top["id"].as_str().unwrap(), &ids[0], &ids[1], &ids[2]],
        "file order, no sort by priority"
    );
    assert_eq!(
        all["user"]["file"], "TASKS.md",
        "no absolute path in the answer"
    );
    let third = &all["user"]["tasks"][3];
    assert_eq!(third["description"], "third\nwith a second line");
    assert_eq!(third["metadata"]["context"], "why\nand how");
    assert_eq!(
        third["metadata"]["attachments"],
        json!([{"filename": "a.png"}])
    );
    // Reorder sticks; an edit changes only what it names.
    let (st, b) = s
        .post_json(
            "/api/cos/tasks/reorder",
            &json!({"taskIds": [ids[2], ids[1], ids[0]]}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, t) = s
        .send(
            reqwest::Method::PUT,
            &format!("/api/cos/tasks/{}", ids[0]),
            Some(
                &json!({"priority": "HIGH", "status": "blocked", "blockedReason": "waiting"})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["status"], "blocked");
    assert_eq!(t["metadata"]["blockedReason"], "waiting");
    let (st, b) = s
        .send(
            reqwest::Method::PUT,
            &format!("/api/cos/tasks/{}", ids[1]),
            Some(&json!({"status": "ready"}).to_string()),
        )
        .await;
    assert_eq!(st, 400, "an unknown status is refused: {b}");
    let (st, b) = s
        .send(
            reqwest::Method::PUT,
            &format!("/api/cos/tasks/{}", ids[1]),
            Some(&json!({"status": "in_progress"}).to_string()),
        )
        .await;
    assert_eq!(st, 400, "{b}");
    let md = std::fs::read_to_string(s.data.path().join("TASKS.md")).unwrap();
    let pending = md.find("## Pending").unwrap();
    let (a, b) = (md.find(&ids[2]).unwrap(), md.find(&ids[1]).unwrap());
    assert!(pending < a && a < b, "{md}");
    assert!(
        md.contains(&format!("- [!] #{} | HIGH | first\n", ids[0])),
        "{md}"
    );
    assert!(md.contains("  > with a second line\n"), "{md}");
    assert!(
        md.contains("  - Context: __json__:\"why\\nand how\"\n"),
        "{md}"
    );
    // A CoS task awaits approval until approved.
    let (st, sys) = s.post_json("/api/cos/tasks", &json!({"description": "look at the logs", "type": "internal", "approvalRequired": true})).await;
    assert_eq!(st, 201, "{sys}");
    let sys_id = sys["id"].as_str().unwrap();
    assert!(sys_id.starts_with("sys-"));
    let (_, all) = s.get("/api/cos/tasks").await;
    assert_eq!(all["cos"]["awaitingApproval"][0]["id"], sys_id, "{all}");
    let (st, t) = s.post(&format!("/api/cos/tasks/{sys_id}/approve")).await;
    assert_eq!(st, 200);
    assert_eq!(t["approvalRequired"], false);
    let cos_md = std::fs::read_to_string(s.data.path().join("COS-TASKS.md")).unwrap();
    assert!(
        cos_md.contains(&format!(
            "- [ ] #{sys_id} | MEDIUM | AUTO | look at the logs"
        )),
        "{cos_md}"
    );
    let (st, _) = s
        .delete(&format!("/api/cos/tasks/{}?type=user", ids[0]))
        .await;
    assert_eq!(st, 200);
    assert!(
        !std::fs::read_to_string(s.data.path().join("TASKS.md"))
            .unwrap()
            .contains(&ids[0])
    );
    // Start and stop answer as the original's: a second one says why not.
    assert_eq!(
        s.post("/api/cos/start").await.1,
        json!({"success": true, "running": true})
    );
    assert_eq!(
        s.post("/api/cos/start").await.1,
        json!({"success": false, "error": "Already running"})
    );
    assert_eq!(
        s.post("/api/cos/stop").await.1,
        json!({"success": true, "running": false})
    );
    assert_eq!(
        s.post("/api/cos/stop").await.1,
        json!({"success": false, "error": "Not running"})
    );
    // A stopped CoS evaluates nothing.
    let (_, e) = s.post("/api/cos/evaluate").await;
    assert_eq!(e["success"], false, "{e}");
}
