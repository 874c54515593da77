use super::*;

#[tokio::test]
async fn detection_reports_each_step_to_the_asking_client() {
    let s = start().await;
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(
        repo.path().join("package.json"),
        r#"{"name": "shop", "scripts": {"dev": "vite"}, "dependencies": {"express": "4"}, "devDependencies": {"vite": "7"}}"#,
    )
    .unwrap();
    std::fs::write(repo.path().join(".env"), "PORT=4100\nVITE_PORT=4101\n").unwrap();
    std::fs::write(
        repo.path().join("ecosystem.config.cjs"),
        "module.exports = { apps: [{ name: 'shop-api', env: { PORT: 4100 } }, { name: 'shop-ui', env: { PORT: 4101 } }] };",
    )
    .unwrap();
    std::fs::write(repo.path().join("README.md"), "# Shop\n\nA small shop.\n").unwrap();
    let mut ws = s.ws().await;
    let mut other = s.ws().await;
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(
        json!({"event": "detect:start", "data": {"path": repo.path()}}),
    ))
    .await
    .unwrap();
    let mut steps = Vec::new();
    let complete = loop {
        let v = tokio::time::timeout(Duration::from_secs(10), next_event_blocking(&mut ws))
            .await
            .expect("detection finished");
        if v["event"] == "detect:complete" {
            break v["data"].clone();
        }
        assert_eq!(v["event"], "detect:step", "{v}");
        steps.push(format!(
            "{}:{}",
            v["data"]["step"].as_str().unwrap(),
            v["data"]["status"].as_str().unwrap()
        ));
    };
    let done: Vec<&str> = steps
        .iter()
        .filter(|s| !s.ends_with(":running"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        done,
        [
            "validate:done",
            "files:done",
            "package:done",
            "config:done",
            "pm2:done",
            "readme:done"
        ],
        "{steps:?}"
    );
    assert_eq!(complete["success"], true);
    let r = &complete["result"];
    assert_eq!(
        (r["name"].as_str(), r["type"].as_str()),
        (Some("shop"), Some("vite+express"))
    );
    assert_eq!(
        (r["apiPort"].as_u64(), r["uiPort"].as_u64()),
        (Some(4100), Some(4101))
    );
    assert_eq!(r["startCommands"], json!(["npm run dev"]));
    assert_eq!(r["pm2ProcessNames"], json!(["shop-api", "shop-ui"]));
    assert_eq!(r["description"], "A small shop.");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), other.next())
            .await
            .is_err(),
        "the other client hears nothing"
    );

    for (path, error) in [
        (repo.path().join("missing"), "Directory does not exist"),
        (repo.path().join("package.json"), "Path is not a directory"),
    ] {
        ws.send(send(
            json!({"event": "detect:start", "data": {"path": path}}),
        ))
        .await
        .unwrap();
        let complete = until_event(&mut ws, |v| v["event"] == "detect:complete").await;
        assert_eq!(
            (
                complete["data"]["success"].as_bool(),
                complete["data"]["error"].as_str()
            ),
            (Some(false), Some(error))
        );
    }
    ws.send(send(json!({"event": "detect:start", "data": {}})))
        .await
        .unwrap();
    assert_eq!(
        next_event_blocking(&mut ws).await["event"],
        "detect:start:error"
    );
}

/// The next text event, however long it takes.
pub(crate) async fn next_event_blocking(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> Value {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("the socket ended: {other:?}"),
        }
    }
}

/// The first event that `wanted` accepts; the ones before it are skipped.
pub(crate) async fn until_event(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    loop {
        let e = next_event_blocking(ws).await;
        if wanted(&e) {
            return e;
        }
    }
}

#[tokio::test]
async fn prompts_render_include_keep_versions_and_name_missing_variables() {
    let s = start().await;
    let put = |path: &str, body: Value| {
        let path = path.to_string();
        let s = &s;
        async move {
            s.send(reqwest::Method::PUT, &path, Some(&body.to_string()))
                .await
        }
    };
    let (st, _) = s
        .post_json(
            "/api/prompts/variables",
            &json!({"key": "rules", "name": "Rules", "category": "rules", "content": "Be brief."}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, body) = s
        .post_json(
            "/api/prompts/variables",
            &json!({"key": "rules", "content": "again"}),
        )
        .await;
    assert_eq!(st, 409, "{body}");
    // A field that is not text is refused, on a create and on an update.
    let (st, body) = s
        .post_json(
            "/api/prompts/variables",
            &json!({"key": "odd", "content": "x", "category": {}}),
        )
        .await;
    assert_eq!(st, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("category"),
        "{body}"
    );
    let (st, body) = s
        .send(
            reqwest::Method::PUT,
            "/api/prompts/variables/rules",
            Some(r#"{"content": 7}"#),
        )
        .await;
    assert_eq!(st, 400, "{body}");
    for (stage, template, vars) in [
        ("leaf", "Task: {{task}}", json!([])),
        (
            "middle",
            "{{> leaf}}\n{{#files}}- {{.}}\n{{/files}}",
            json!([]),
        ),
        (
            "outer",
            "{{rules}}\n{{> middle}}\nFor {{who}}.",
            json!(["rules"]),
        ),
        ("loop-a", "{{> loop-b}}", json!([])),
        ("loop-b", "{{> loop-a}}", json!([])),
    ] {
        let (st, body) = s
            .post_json("/api/prompts", &json!({"stageName": stage, "name": stage, "template": template, "variables": vars}))
            .await;
        assert_eq!(st, 200, "{stage}: {body}");
    }
    let (st, body) = s
        .post_json("/api/prompts", &json!({"stageName": "leaf", "name": "x"}))
        .await;
    assert_eq!(st, 409, "{body}");
    let (_, stage) = s.get("/api/prompts/outer").await;
    assert_eq!(
        (stage["template"].as_str(), stage["model"].as_str()),
        (
            Some("{{rules}}\n{{> middle}}\nFor {{who}}."),
            Some("default")
        )
    );

    // A preview names what is missing; the stage's own variables fill in.
    let (st, body) = s
        .post_json(
            "/api/prompts/outer/preview",
            &json!({"testData": {"task": "fix the login", "files": ["a.rs", "b.rs"]}}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        body["preview"],
        "Be brief.\nTask: fix the login\n- a.rs\n- b.rs\n\nFor ."
    );
    assert_eq!(body["missing"], json!(["who"]));
    let (st, body) = s.post_json("/api/prompts/loop-a/preview", &json!({})).await;
    assert_eq!(st, 422, "{body}");
    assert_error_shape(&body, "INVALID_TEMPLATE");

    // A run from a stored prompt: every variable is needed.
    let (st, body) = s
        .post_json(
            "/api/runs",
            &json!({"providerId": "claude-code", "stage": "outer", "variables": {"task": "x"}}),
        )
        .await;
    assert_eq!(st, 422, "{body}");
    assert_error_shape(&body, "MISSING_VARIABLES");
    assert_eq!(body["context"]["missing"], json!(["who"]));
    let (st, body) = s
        .post_json("/api/runs", &json!({"providerId": "claude-code", "stage": "outer", "variables": {"task": "x", "who": "Ada", "files": []}}))
        .await;
    assert_eq!(st, 202, "{body}");
    assert_eq!(body["metadata"]["prompt"], "Be brief.\nTask: x\n\nFor Ada.");
    assert_eq!(body["metadata"]["promptStage"], "outer");
    let (st, _) = s
        .post_json(
            "/api/runs",
            &json!({"providerId": "claude-code", "stage": "nope"}),
        )
        .await;
    assert_eq!(st, 404);

    // Versions: every saved template is kept.
    let (st, body) = put(
        "/api/prompts/leaf",
        json!({"template": "Task now: {{task}}", "description": "d"}),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let (_, listed) = s.get("/api/prompts/leaf/versions").await;
    let versions = listed["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{listed}");
    let oldest = versions[1]["version"].as_str().unwrap();
    let (_, old) = s.get(&format!("/api/prompts/leaf/versions/{oldest}")).await;
    assert_eq!(old["template"], "Task: {{task}}");
    assert_eq!(s.get("/api/prompts/leaf").await.1["description"], "d");
    let (st, _) = s.get("/api/prompts/leaf/versions/123").await;
    assert_eq!(st, 404);

    // Variables: an update keeps the fields it does not name.
    let (st, _) = put(
        "/api/prompts/variables/rules",
        json!({"content": "Be very brief."}),
    )
    .await;
    assert_eq!(st, 200);
    let (_, v) = s.get("/api/prompts/variables/rules").await;
    assert_eq!(
        (v["name"].as_str(), v["content"].as_str()),
        (Some("Rules"), Some("Be very brief."))
    );

    // Protection and bad names.
    let (st, _) = s
        .post_json(
            "/api/prompts",
            &json!({"stageName": "app-detection", "name": "App Detection", "template": "x"}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, body) = s.delete("/api/prompts/app-detection").await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "SYSTEM_STAGE_PROTECTED");
    let (st, _) = s.delete("/api/prompts/app-detection?force=true").await;
    assert_eq!(st, 200);
    let (st, _) = s.get("/api/prompts/app-detection").await;
    assert_eq!(st, 404);
    let (st, body) = s
        .post_json(
            "/api/prompts",
            &json!({"stageName": ".hidden", "name": "x"}),
        )
        .await;
    assert_eq!(st, 400, "{body}");
    let (st, _) = s
        .post_json(
            "/api/prompts/variables",
            &json!({"key": "a-b", "content": "x"}),
        )
        .await;
    assert_eq!(st, 400);
    let (st, _) = s.delete("/api/prompts/variables/rules").await;
    assert_eq!(st, 200);
    assert_eq!(s.get("/api/prompts/variables/rules").await.0, 404);
}

#[tokio::test]
async fn provider_status_follows_checks_limits_and_recovery() {
    let s = start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (st, _) = s
        .post_json(
            "/api/providers",
            &json!({"id": "probe-me", "name": "Probe me", "type": "api", "endpoint": format!("http://127.0.0.1:{port}/v1")}),
        )
        .await;
    assert_eq!(st, 201);
    let mut ws = s.ws().await;
    let status = |id: &'static str| {
        let s = &s;
        async move { s.get(&format!("/api/providers/{id}/status")).await.1 }
    };
    assert_eq!(
        status("probe-me").await["available"],
        true,
        "unknown is available"
    );

    portos_ai::status::check_all(&s.state.ai).await;
    let st = status("probe-me").await;
    assert_eq!(
        (st["available"].as_bool(), st["reason"].as_str()),
        (Some(false), Some("network-error")),
        "{st}"
    );
    assert!(
        st["lastError"]
            .as_str()
            .unwrap()
            .contains("API not reachable"),
        "{st}"
    );
    let event = until_event(&mut ws, |e| {
        e["event"] == "provider:status:changed" && e["data"]["providerId"] == "probe-me"
    })
    .await;
    assert_eq!(event["data"]["type"], "network-error");
    let cli = status("claude-code").await;
    assert_eq!(
        cli["reason"], "cli-unavailable",
        "the fixture's claude is not installed: {cli}"
    );

    // The server comes up: the next check finds it.
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("v1")).unwrap();
    std::fs::write(site.path().join("v1/models"), r#"{"data": [{"id": "m"}]}"#).unwrap();
    let _server = StaticServer::start_on(site.path(), port);
    portos_ai::status::check_all(&s.state.ai).await;
    assert_eq!(status("probe-me").await["available"], true);
    let event = until_event(&mut ws, |e| {
        e["event"] == "provider:status:changed" && e["data"]["providerId"] == "probe-me"
    })
    .await;
    assert_eq!(event["data"]["type"], "recovered");

    // A usage limit from a run holds until its time, whatever checks say.
    portos_ai::status::from_run(
        &s.state.ai,
        "probe-me",
        "usage-limit",
        "You've hit your usage limit, try again in 2 hours",
    )
    .await;
    portos_ai::status::check_all(&s.state.ai).await;
    let st = status("probe-me").await;
    assert_eq!(
        (st["available"].as_bool(), st["reason"].as_str()),
        (Some(false), Some("usage-limit")),
        "{st}"
    );
    assert!(
        st["timeUntilRecovery"]
            .as_str()
            .unwrap()
            .starts_with("1h 59m"),
        "{st}"
    );
    let (_, all) = s.get("/api/providers/status").await;
    assert_eq!(all["providers"]["probe-me"]["reason"], "usage-limit");
    let (st, body) = s.post("/api/providers/probe-me/status/recover").await;
    assert_eq!(
        (st, body["status"]["available"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let (st, _) = s.post("/api/providers/nope/status/recover").await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn task_analysis_falls_back_to_the_keyword_estimate_without_lm_studio() {
    let s = start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (st, _) = s
        .send(
            reqwest::Method::PUT,
            "/api/lmstudio/config",
            Some(&json!({ "baseUrl": format!("http://127.0.0.1:{closed}") }).to_string()),
        )
        .await;
    assert_eq!(st, 200);
    let (_, stats) = s.get("/api/lmstudio/thinking-stats").await;
    assert_eq!(
        (
            stats["localAnalyses"].as_u64(),
            stats["localSuccessRate"].as_str()
        ),
        (Some(0), Some("0%"))
    );
    for (task, complexity, escalate) in [
        (
            "Refactor the entire codebase for the new architecture",
            0.8,
            true,
        ),
        ("Fix a typo in the README", 0.3, false),
        ("Add a button", 0.5, false),
        (
            &*format!("Add a button. {}", "More detail. ".repeat(80)),
            0.7,
            true,
        ),
    ] {
        let (st, a) = s
            .post_json(
                "/api/lmstudio/analyze-task",
                &json!({ "description": task, "id": "t1" }),
            )
            .await;
        assert_eq!(st, 200, "{a}");
        assert_eq!(
            (
                a["complexity"].as_f64(),
                a["escalateToCloud"].as_bool(),
                a["localAnalysis"].as_bool()
            ),
            (Some(complexity), Some(escalate), Some(false)),
            "{task}: {a}"
        );
        assert_eq!(a["taskId"], "t1");
    }
    let (_, stats) = s.get("/api/lmstudio/thinking-stats").await;
    assert_eq!(
        (
            stats["localAnalyses"].as_u64(),
            stats["cloudEscalations"].as_u64(),
            stats["escalationRate"].as_str()
        ),
        (Some(4), Some(2), Some("50.0%")),
        "{stats}"
    );
    let (st, c) = s
        .post_json(
            "/api/lmstudio/classify-memory",
            &json!({ "content": "I prefer tabs" }),
        )
        .await;
    assert_eq!((st, c["success"].as_bool()), (200, Some(false)), "{c}");
    assert_eq!(c["error"], "LM Studio not available");
    let (st, body) = s.post_json("/api/lmstudio/analyze-task", &json!({})).await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "VALIDATION_ERROR");
}

/// A run's metadata once it has ended.
pub(crate) async fn ended_run(s: &Server, id: &str) -> Value {
    for _ in 0..200 {
        let (_, run) = s.get(&format!("/api/runs/{id}")).await;
        if !run["endTime"].is_null() {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("run {id} did not end");
}

#[tokio::test]
async fn runs_pass_over_unavailable_providers_and_left_runs_are_recorded() {
    let s = start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for p in [
        json!({"id": "limited", "name": "Limited", "type": "api", "endpoint": "http://127.0.0.1:1/v1", "fallbackProvider": "backup"}),
        json!({"id": "backup", "name": "Backup", "type": "api", "endpoint": format!("http://127.0.0.1:{closed}/v1")}),
    ] {
        assert_eq!(s.post_json("/api/providers", &p).await.0, 201);
    }
    portos_ai::status::from_run(
        &s.state.ai,
        "limited",
        "rate-limit",
        "429 Too Many Requests",
    )
    .await;
    let (st, body) = s
        .post_json(
            "/api/runs",
            &json!({"providerId": "limited", "prompt": "hi"}),
        )
        .await;
    assert_eq!(st, 202, "{body}");
    let run = ended_run(&s, body["runId"].as_str().unwrap()).await;
    assert_eq!(run["fallbackHops"][0]["providerId"], "limited", "{run}");
    assert_eq!(run["fallbackHops"][0]["errorCategory"], "rate-limit");
    assert!(
        run["fallbackHops"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("unavailable")
    );
    assert_eq!(
        (run["providerId"].as_str(), run["success"].as_bool()),
        (Some("backup"), Some(false))
    );
    assert_eq!(
        run["errorCategory"], "network-error",
        "the backup was tried: {run}"
    );

    // A run a previous api server left in flight, on an API provider: recorded as failed.
    let id = "0b7c5c1e-0000-4000-8000-00000000abcd";
    let dir = s.data.path().join("runs").join(id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("prompt.txt"), "hi").unwrap();
    std::fs::write(
        dir.join("metadata.json"),
        json!({"id": id, "type": "ai", "providerId": "backup", "startTime": "2026-11-25T10:00:00.000Z", "endTime": null}).to_string(),
    )
    .unwrap();
    portos_ai::runs::resume(&s.state.ai).await;
    let run = ended_run(&s, id).await;
    assert_eq!(run["success"], false);
    assert_eq!(
        run["error"],
        "the api server restarted while the run was in flight"
    );
    let (_, listed) = s.get("/api/runs").await;
    assert_eq!(listed["total"], 2);
}
