use super::*;

#[tokio::test]
async fn providers_are_listed_in_file_order_without_their_secrets() {
    let s = start().await;
    let (st, body) = s.get("/api/providers").await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["activeProvider"], "claude-code");
    let list = body["providers"].as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["claude-code", "lmstudio"]);
    let text = body.to_string();
    assert!(!text.contains("PROVIDERSECRET"), "{text}");
    let (claude, lm) = (&list[0], &list[1]);
    assert_eq!(claude["envVars"]["AWS_BEARER_TOKEN_BEDROCK"], "***");
    assert_eq!(claude["envVars"]["CLAUDE_CODE_USE_BEDROCK"], "1");
    assert_eq!(claude["hasApiKey"], false);
    assert_eq!(claude["lastUsedBy"], "a field only the original knows");
    assert_eq!(lm["hasApiKey"], true);
    assert!(lm.get("apiKey").is_none(), "{lm}");
    assert_eq!(
        lm["endpoint"], "http://localhost:1234/v1",
        "baseUrl is read as endpoint"
    );
    assert_eq!(lm["type"], "api");

    // An edit by another program is seen on the next request.
    let path = s.data.path().join("providers.json");
    let edited = std::fs::read_to_string(&path).unwrap().replace(
        "\"activeProvider\": \"claude-code\"",
        "\"activeProvider\": \"lmstudio\"",
    );
    std::fs::write(&path, &edited).unwrap();
    let (_, body) = s.get("/api/providers").await;
    assert_eq!(body["activeProvider"], "lmstudio");

    // A broken file: named, and left as it is.
    std::fs::write(&path, "{\"providers\": {\"x\": {\"id\": 3}}}").unwrap();
    let (st, body) = s.get("/api/providers").await;
    assert_eq!(st, 500);
    let msg = body["error"].as_str().unwrap();
    assert!(
        msg.contains("providers.json") && msg.contains("providers.x.id"),
        "{msg}"
    );
}

#[tokio::test]
async fn task_type_overrides_migrate_the_legacy_list_and_drop_inherited_entries() {
    let s = start().await;
    let (st, body) = s.get("/api/apps/legacy-blog/task-types").await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["appName"], "Blog");
    assert_eq!(
        body["taskTypeOverrides"],
        json!({"security-audit": {"enabled": false}, "dependency-updates": {"enabled": false}})
    );
    let file = || -> Value {
        serde_json::from_str(&std::fs::read_to_string(s.data.path().join("apps.json")).unwrap())
            .unwrap()
    };
    assert!(
        file()["apps"]["legacy-blog"]
            .get("disabledTaskTypes")
            .is_none(),
        "the migration is saved"
    );

    async fn put(s: &Server, task: &str, body: &str) -> (u16, Value) {
        let path = format!("/api/apps/legacy-blog/task-types/{task}");
        s.send(reqwest::Method::PUT, &path, Some(body)).await
    }
    let (st, body) = put(&s, "security-audit", r#"{"enabled": true}"#).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        (body["success"].as_bool(), body["enabled"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(
        body["taskTypeOverrides"].get("security-audit").is_none(),
        "enabled with no interval inherits: removed: {body}"
    );
    let (st, body) = put(&s, "code-review", r#"{"interval": "weekly"}"#).await;
    assert_eq!(st, 200);
    assert_eq!(
        body["taskTypeOverrides"]["code-review"],
        json!({"interval": "weekly"})
    );
    let (_, body) = put(&s, "code-review", r#"{"interval": null}"#).await;
    assert!(
        body["taskTypeOverrides"].get("code-review").is_none(),
        "{body}"
    );
    assert_eq!(
        file()["apps"]["legacy-blog"]["taskTypeOverrides"],
        json!({"dependency-updates": {"enabled": false}})
    );

    for (task, bad) in [
        ("code-review", r#"{}"#),
        ("code-review", r#"{"interval": "hourly"}"#),
        ("code-review", r#"{"interval": 5}"#),
        ("bad%20name", r#"{"enabled": false}"#),
    ] {
        let (st, body) = put(&s, task, bad).await;
        assert_eq!(st, 400, "{task} {bad}: {body}");
        assert_error_shape(&body, "VALIDATION_ERROR");
    }
    let (st, _) = s
        .send(
            reqwest::Method::PUT,
            "/api/apps/nope/task-types/x",
            Some(r#"{"enabled": false}"#),
        )
        .await;
    assert_eq!(st, 404);
    let (st, _) = s.get("/api/apps/nope/task-types").await;
    assert_eq!(st, 404);
}

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn an_update_pulls_the_repo_and_reports_each_step() {
    let s = start().await;
    let work = tempfile::tempdir().unwrap();
    let (upstream, checkout, author) = (
        work.path().join("upstream.git"),
        work.path().join("checkout"),
        work.path().join("author"),
    );
    let path = |p: &Path| p.to_str().unwrap().to_string();
    git(work.path(), &["init", "-q", "--bare", &path(&upstream)]);
    git(
        work.path(),
        &["clone", "-q", &path(&upstream), &path(&author)],
    );
    let publish = |file: &str, text: &str| {
        std::fs::write(author.join(file), text).unwrap();
        git(&author, &["add", "."]);
        git(&author, &["commit", "-qm", file]);
        git(&author, &["push", "-q", "origin", "HEAD"]);
    };
    publish("README", "one");
    git(
        work.path(),
        &["clone", "-q", &path(&upstream), &path(&checkout)],
    );
    publish("NEW", "two");

    let (_, created) = s
        .post_json(
            "/api/apps",
            &json!({ "name": "Up", "repoPath": checkout, "pm2ProcessNames": [] }),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let (st, body) = s.post(&format!("/api/apps/{id}/update")).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["success"], true, "{body}");
    assert_eq!(body["steps"][0]["step"], "git-pull");
    assert_eq!(
        body["steps"].as_array().unwrap().len(),
        1,
        "no package.json, no processes"
    );
    assert_eq!(
        std::fs::read_to_string(checkout.join("NEW")).unwrap(),
        "two"
    );
    let statuses: Vec<&str> = body["progress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["running", "done"]);
    // The same update asked by a live client: its steps come to it alone.
    let mut ws = s.ws().await;
    let mut other = s.ws().await;
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(json!({"event": "app:update", "data": {"appId": id}})))
        .await
        .unwrap();
    let mut live = Vec::new();
    while let Ok(Some(Ok(Message::Text(t)))) =
        tokio::time::timeout(Duration::from_secs(10), ws.next()).await
    {
        let v: Value = serde_json::from_str(&t).unwrap();
        let done = v["event"] == "app:update:complete";
        live.push(v);
        if done {
            break;
        }
    }
    let names: Vec<&str> = live.iter().filter_map(|v| v["event"].as_str()).collect();
    assert_eq!(
        names.iter().filter(|n| **n == "app:update:step").count(),
        2,
        "{names:?}"
    );
    let complete = live.last().unwrap();
    assert_eq!(complete["event"], "app:update:complete", "{live:?}");
    assert_eq!(complete["data"]["success"], true);
    assert_eq!(complete["data"]["steps"][0]["step"], "git-pull");
    while let Ok(Some(Ok(Message::Text(t)))) =
        tokio::time::timeout(Duration::from_millis(200), other.next()).await
    {
        assert!(!t.contains("app:update"), "the other client saw {t}");
    }
    for (data, expected) in [
        (json!({}), "Validation failed"),
        (json!({"appId": "nope"}), "App not found"),
    ] {
        ws.send(send(json!({"event": "app:update", "data": data})))
            .await
            .unwrap();
        let v = next_event(&mut ws).await.unwrap();
        assert_eq!(v["event"], "app:update:error", "{v}");
        assert_eq!(v["data"]["message"], expected, "{v}");
    }
    let (_, hist) = s.get("/api/history?action=update").await;
    assert_eq!(hist["entries"][0]["target"], json!(id));
    assert_eq!(hist["entries"][0]["success"], true);

    // A failing step ends the update: not a git repo.
    let plain = work.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    let (_, created) = s
        .post_json("/api/apps", &json!({ "name": "Plain", "repoPath": plain }))
        .await;
    let (st, body) = s
        .post(&format!(
            "/api/apps/{}/update",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["success"], false);
    let steps = body["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "nothing after the failing step: {body}");
    assert_eq!(steps[0]["success"], false);
    assert!(
        steps[0]["message"]
            .as_str()
            .unwrap()
            .contains("not a git repository"),
        "{body}"
    );

    let (st, body) = s.post("/api/apps/legacy-blog/update").await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "PATH_NOT_FOUND");
    let (st, _) = s.post("/api/apps/nope/update").await;
    assert_eq!(st, 404);
}

/// A static file server we did not write (`python3 -m http.server`) on a free
/// loopback port, serving `dir`; killed when dropped.
pub(crate) struct StaticServer(std::process::Child, u16);

impl StaticServer {
    pub(crate) fn start(dir: &Path) -> Self {
        Self::start_on(dir, 0)
    }

    /// On `port` (0: any free one).
    pub(crate) fn start_on(dir: &Path, port: u16) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        StaticServer(child, port)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn providers_are_created_changed_activated_probed_and_deleted() {
    use std::os::unix::fs::PermissionsExt;
    let s = start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (st, body) = s
        .post_json(
            "/api/providers",
            &json!({"name": "My Local LLM", "type": "api", "endpoint": format!("http://127.0.0.1:{closed}/v1"),
                    "apiKey": "sk-NEWPROVIDERSECRET-123456", "models": ["m1"]}),
        )
        .await;
    assert_eq!(st, 201, "{body}");
    assert_eq!(body["id"], "my-local-llm");
    assert_eq!(body["hasApiKey"], true);
    assert_eq!(
        (body["timeout"].as_u64(), body["enabled"].as_bool()),
        (Some(300000), Some(true))
    );
    assert!(!body.to_string().contains("NEWPROVIDERSECRET"), "{body}");
    let file = || std::fs::read_to_string(s.data.path().join("providers.json")).unwrap();
    assert!(
        file().contains("sk-NEWPROVIDERSECRET-123456"),
        "the key is kept on disk"
    );

    let (st, body) = s
        .post_json(
            "/api/providers",
            &json!({"name": "My Local LLM", "type": "api"}),
        )
        .await;
    assert_eq!(st, 409, "{body}");
    for (bad, field) in [
        (json!({"name": "x", "type": "shell"}), "Type"),
        (json!({"name": "", "type": "cli"}), "Name"),
        (json!({"name": "x", "type": "cli", "timeout": 5}), "timeout"),
        (
            json!({"name": "x", "type": "cli", "models": "all"}),
            "models",
        ),
        (
            json!({"name": "x", "type": "api", "endpoint": "file:///etc/passwd"}),
            "endpoint",
        ),
        (json!({"name": "x", "type": "cli", "id": "../up"}), "id"),
        (json!(["not", "an", "object"]), "object"),
    ] {
        let (st, body) = s.post_json("/api/providers", &bad).await;
        assert_eq!(st, 400, "{bad}: {body}");
        assert_error_shape(&body, "VALIDATION_ERROR");
        assert!(
            body["error"].as_str().unwrap().contains(field),
            "{bad}: {body}"
        );
    }

    // Changing other fields keeps the key; a secret sent back as *** keeps its value.
    let (st, body) = s
        .send(
            reqwest::Method::PUT,
            "/api/providers/my-local-llm",
            Some(r#"{"name": "Renamed", "id": "hijack"}"#),
        )
        .await;
    assert_eq!(
        (st, body["name"].as_str(), body["id"].as_str()),
        (200, Some("Renamed"), Some("my-local-llm"))
    );
    assert!(file().contains("sk-NEWPROVIDERSECRET-123456"));
    let (st, body) = s
        .send(
            reqwest::Method::PUT,
            "/api/providers/claude-code",
            Some(r#"{"envVars": {"AWS_BEARER_TOKEN_BEDROCK": "***", "CLAUDE_CODE_USE_BEDROCK": "0"}}"#),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert!(
        file().contains("bedrock-PROVIDERSECRET-0001"),
        "the secret env value is kept"
    );
    assert!(file().contains("\"CLAUDE_CODE_USE_BEDROCK\": \"0\""));
    let (st, _) = s
        .send(
            reqwest::Method::PUT,
            "/api/providers/my-local-llm",
            Some(r#"{"apiKey": ""}"#),
        )
        .await;
    assert_eq!(st, 200);
    assert!(
        !file().contains("sk-NEWPROVIDERSECRET-123456"),
        "\"\" clears the key"
    );
    let (st, _) = s
        .send(reqwest::Method::PUT, "/api/providers/nope", Some("{}"))
        .await;
    assert_eq!(st, 404);

    // Active.
    let (st, body) = s
        .send(
            reqwest::Method::PUT,
            "/api/providers/active",
            Some(r#"{"id": "my-local-llm"}"#),
        )
        .await;
    assert_eq!((st, body["id"].as_str()), (200, Some("my-local-llm")));
    assert_eq!(s.get("/api/providers/active").await.1["id"], "my-local-llm");
    let (st, _) = s
        .send(reqwest::Method::PUT, "/api/providers/active", Some("{}"))
        .await;
    assert_eq!(st, 400);
    let (st, _) = s
        .send(
            reqwest::Method::PUT,
            "/api/providers/active",
            Some(r#"{"id": "nope"}"#),
        )
        .await;
    assert_eq!(st, 404);

    // Probes: an API server that is down, one that answers (a static file
    // server we did not write), a CLI that answers, a CLI that is missing.
    let (_, body) = s.post("/api/providers/my-local-llm/test").await;
    assert_eq!(body["success"], false, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("API not reachable"),
        "{body}"
    );
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("v1")).unwrap();
    std::fs::write(
        site.path().join("v1/models"),
        r#"{"object": "list", "data": [{"id": "smollm2"}, {"id": "qwen"}]}"#,
    )
    .unwrap();
    let files = StaticServer::start(site.path());
    s.send(
        reqwest::Method::PUT,
        "/api/providers/my-local-llm",
        Some(&json!({"endpoint": format!("http://127.0.0.1:{}/v1/", files.1)}).to_string()),
    )
    .await;
    let (_, body) = s.post("/api/providers/my-local-llm/test").await;
    assert_eq!(body["success"], true, "{body}");
    assert_eq!(body["models"], json!(["smollm2", "qwen"]));

    let script = site.path().join("fake-agent");
    std::fs::write(
        &script,
        "#!/bin/sh\n[ \"$1\" = --version ] && echo 'fake-agent 1.2.3' && exit 0\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (st, _) = s
        .post_json(
            "/api/providers",
            &json!({"name": "Fake", "type": "cli", "command": script}),
        )
        .await;
    assert_eq!(st, 201);
    let (_, body) = s.post("/api/providers/fake/test").await;
    assert_eq!(
        (body["success"].as_bool(), body["version"].as_str()),
        (Some(true), Some("fake-agent 1.2.3")),
        "{body}"
    );
    s.send(
        reqwest::Method::PUT,
        "/api/providers/fake",
        Some(r#"{"command": "no-such-command-anywhere; rm -rf /"}"#),
    )
    .await;
    let (_, body) = s.post("/api/providers/fake/test").await;
    assert_eq!(body["success"], false);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not found in PATH"),
        "{body}"
    );
    let (st, _) = s.post("/api/providers/nope/test").await;
    assert_eq!(st, 404);

    // Deleting the active one makes the first left active.
    let (st, _) = s.delete("/api/providers/my-local-llm").await;
    assert_eq!(st, 204);
    assert_eq!(
        s.get("/api/providers").await.1["activeProvider"],
        "claude-code"
    );
    let (st, _) = s.delete("/api/providers/my-local-llm").await;
    assert_eq!(st, 404);
    let (st, _) = s.get("/api/providers/my-local-llm").await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn refresh_config_reads_the_ecosystem_file_with_node() {
    let s = start().await;
    let repo = tempfile::tempdir().unwrap();
    let (_, created) = s
        .post_json(
            "/api/apps",
            &json!({ "name": "Blog", "repoPath": repo.path() }),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let refresh = format!("/api/apps/{id}/refresh-config");

    let (st, body) = s.post(&refresh).await;
    assert_eq!(
        (st, body["updated"].as_bool()),
        (200, Some(false)),
        "no file: {body}"
    );

    // Computed values, which a reading of the source text cannot follow.
    std::fs::write(
        repo.path().join("ecosystem.config.cjs"),
        r#"const BASE = 4000;
module.exports = { apps: [
  { name: 'blog-api', script: 'server.js', env: { PORT: BASE + 1, PM2_HOME: '/tmp/pm2-blog' } },
  { name: 'blog-ui', script: 'vite', env: { PORT: String(BASE) } },
  { name: 'blog-browser', script: 'b.js', env: { PORT: BASE + 7, CDP_PORT: BASE + 6 } },
  { name: 'blog-worker', script: 'w.js', ports: { metrics: 9100 } },
  { name: 'blog-cron', script: 'c.js' },
] };
"#,
    )
    .unwrap();
    let (st, body) = s.post(&refresh).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["updated"], true);
    assert_eq!(
        body["processes"],
        json!([
            { "name": "blog-api", "port": 4001, "ports": { "api": 4001 } },
            { "name": "blog-ui", "port": 4000, "ports": { "ui": 4000 } },
            { "name": "blog-browser", "port": 4006, "ports": { "cdp": 4006, "health": 4007 } },
            { "name": "blog-worker", "port": 9100, "ports": { "metrics": 9100 } },
            { "name": "blog-cron", "port": null, "ports": {} },
        ])
    );
    let app = &body["app"];
    assert_eq!(
        app["pm2ProcessNames"],
        json!([
            "blog-api",
            "blog-ui",
            "blog-browser",
            "blog-worker",
            "blog-cron"
        ])
    );
    assert_eq!(
        (app["apiPort"].as_u64(), app["pm2Home"].as_str()),
        (Some(4001), Some("/tmp/pm2-blog"))
    );
    let (_, body) = s.post(&refresh).await;
    assert_eq!(
        body["updated"], false,
        "nothing changed the second time: {body}"
    );
    assert_eq!(body["processes"].as_array().unwrap().len(), 5);

    std::fs::write(
        repo.path().join("ecosystem.config.cjs"),
        "module.exports = {",
    )
    .unwrap();
    let (st, body) = s.post(&refresh).await;
    assert_eq!(st, 400, "{body}");
    assert_error_shape(&body, "ECOSYSTEM_UNREADABLE");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("ecosystem.config.cjs"),
        "{body}"
    );
    let (st, body) = s.post("/api/apps/legacy-blog/refresh-config").await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "PATH_NOT_FOUND");
}
