//! `/api/git` on registered apps' repositories only, every argument checked;
//! `/api/ports` with owners; `/api/apps/preview`; and each refused without the
//! owner's credential or from another origin.

use super::*;

use portos_test_support::git;

/// A registered app with a git repository (no supervisor runs in these tests:
/// it is registered, not supervised).
async fn app_with_repo(s: &Server) -> (String, tempfile::TempDir) {
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q", "-b", "main"]);
    git(repo.path(), &["config", "user.name", "T"]);
    git(repo.path(), &["config", "user.email", "t@example.com"]);
    std::fs::write(repo.path().join("a.txt"), "one\n").unwrap();
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "first"]);
    let (st, a) = s
        .post_json(
            "/api/apps",
            &json!({ "name": "Repo", "repoPath": repo.path().display().to_string() }),
        )
        .await;
    assert_eq!(st, 201, "{a}");
    (a["id"].as_str().unwrap().to_string(), repo)
}

#[tokio::test]
async fn git_works_on_an_apps_repository_and_nowhere_else() {
    let s = start().await;
    let (id, repo) = app_with_repo(&s).await;
    let path = repo.path().display().to_string();
    std::fs::write(repo.path().join("a.txt"), "two\n").unwrap();

    let (st, status) = s
        .post_json("/api/git/status", &json!({ "path": path }))
        .await;
    assert_eq!(st, 200, "{status}");
    assert_eq!(status["files"][0]["path"], "a.txt");
    assert_eq!(status["files"][0]["status"], "modified");
    let (_, diff) = s.post_json("/api/git/diff", &json!({ "path": path })).await;
    assert!(diff["diff"].as_str().unwrap().contains("+two"), "{diff}");
    let (st, _) = s
        .post_json(
            "/api/git/stage",
            &json!({ "path": path, "files": ["a.txt"] }),
        )
        .await;
    assert_eq!(st, 200);
    let (st, c) = s
        .post_json(
            "/api/git/commit",
            &json!({ "path": path, "message": "say \"two\"" }),
        )
        .await;
    assert_eq!(st, 200, "{c}");
    let (_, log) = s
        .post_json("/api/git/commits", &json!({ "path": path }))
        .await;
    assert_eq!(log["commits"][0]["message"], "say \"two\"");
    assert_eq!(log["commits"][0]["hash"], c["hash"]);
    let info = s.get(&format!("/api/git/{id}")).await.1;
    assert_eq!(
        (info["isRepo"].as_bool(), info["branch"].as_str()),
        (Some(true), Some("main"))
    );
    assert_eq!(info["status"]["clean"], true);

    // Nothing to commit: git's refusal, not a server error.
    let (st, body) = s
        .post_json(
            "/api/git/commit",
            &json!({ "path": path, "message": "empty" }),
        )
        .await;
    assert_eq!(st, 422, "{body}");
    assert_error_shape(&body, "GIT_FAILED");

    // A folder that is no registered app's: 404, whatever the route.
    let other = tempfile::tempdir().unwrap();
    git(other.path(), &["init", "-q"]);
    for route in ["status", "diff", "commits", "info", "branches", "pull"] {
        let (st, body) = s
            .post_json(
                &format!("/api/git/{route}"),
                &json!({ "path": other.path().display().to_string() }),
            )
            .await;
        assert_eq!(st, 404, "{route}: {body}");
        assert_error_shape(&body, "NOT_FOUND");
    }
    let (st, _) = s
        .post_json("/api/git/status", &json!({ "path": format!("{path}/../") }))
        .await;
    assert_eq!(st, 404, "a path that leaves the repository is no app's");
    assert_eq!(s.get("/api/git/nope").await.0, 404);

    // Options where names go, and paths outside the repository: 400, nothing run.
    for (route, body) in [
        ("checkout", json!({ "path": path, "branch": "--orphan=x" })),
        ("push", json!({ "path": path, "branch": "--force" })),
        ("sync", json!({ "path": path, "branch": "-f" })),
        (
            "branch-comparison",
            json!({ "path": path, "base": "--output=/tmp/x", "head": "main" }),
        ),
        (
            "stage",
            json!({ "path": path, "files": ["../../etc/passwd"] }),
        ),
        ("unstage", json!({ "path": path, "files": ["/etc/passwd"] })),
        ("commit", json!({ "path": path })),
    ] {
        let (st, b) = s.post_json(&format!("/api/git/{route}"), &body).await;
        assert_eq!(st, 400, "{route}: {b}");
        assert_error_shape(&b, "VALIDATION_ERROR");
    }
}

#[tokio::test]
async fn ports_name_their_owner_and_allocate_distinct_free_ports() {
    let s = start().await;
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let scan = s.get("/api/ports/scan").await.1;
    assert!(scan["usedPorts"].as_array().unwrap().contains(&json!(port)));
    let owner = scan["owners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["port"] == port)
        .cloned()
        .unwrap();
    assert_eq!(owner["pid"], std::process::id());
    assert_eq!(scan["defaultRange"], json!({ "start": 6000, "end": 6099 }));
    let (_, check) = s
        .post_json("/api/ports/check", &json!({ "ports": [port, 6099] }))
        .await;
    assert_eq!(check[port.to_string()], false);
    let (_, alloc) = s
        .post_json("/api/ports/allocate", &json!({ "count": 5 }))
        .await;
    let got: Vec<u64> = alloc["allocated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    let mut distinct = got.clone();
    distinct.dedup();
    assert_eq!((got.len(), distinct.len()), (5, 5), "{alloc}");
    for (route, body) in [
        ("check", json!({ "ports": [] })),
        ("check", json!({ "ports": ["80"] })),
        ("allocate", json!({ "count": 11 })),
    ] {
        let (st, b) = s.post_json(&format!("/api/ports/{route}"), &body).await;
        assert_eq!(st, 400, "{route}: {b}");
        assert_error_shape(&b, "VALIDATION_ERROR");
    }
}

#[tokio::test]
async fn a_folder_is_previewed_with_what_cannot_be_honoured_named() {
    let s = start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ecosystem.config.cjs"),
        "module.exports = { apps: [{ name: 'w', script: 'server.js', env: { PORT: 6123 }, exec_mode: 'cluster', log_date_format: 'x' }] };",
    )
    .unwrap();
    let (st, p) = s
        .post_json(
            "/api/apps/preview",
            &json!({ "repoPath": dir.path().display().to_string() }),
        )
        .await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["processes"][0]["name"], "w");
    assert_eq!(p["processes"][0]["ports"]["api"], 6123);
    assert!(
        p["processes"][0]["command"]
            .as_str()
            .unwrap()
            .starts_with("node "),
        "{p}"
    );
    let notes = p["unhonoured"].to_string();
    assert!(
        notes.contains("exec_mode: cluster") && notes.contains("log_date_format (not used)"),
        "{notes}"
    );
    let (st, b) = s
        .post_json("/api/apps/preview", &json!({ "repoPath": "relative/dir" }))
        .await;
    assert_eq!(st, 400, "{b}");
    // Nothing was registered.
    let apps = s.get("/api/apps").await.1;
    assert!(apps.as_array().unwrap().iter().all(|a| a["name"] != "w"));
}

#[tokio::test]
async fn the_new_routes_refuse_strangers_and_other_origins() {
    let s = start().await;
    let anon = reqwest::Client::builder().no_proxy().build().unwrap();
    let plain = anon.clone();
    let owner = portos_auth::Owner::new(s.data.path());
    let cookie = format!("portos_session={}", owner.open_session("test").unwrap());
    let posts = [
        "/api/git/status",
        "/api/git/commit",
        "/api/git/push",
        "/api/git/checkout",
        "/api/ports/check",
        "/api/ports/allocate",
        "/api/apps/preview",
    ];
    for p in posts {
        // A logged-in browser on another site: its cookie goes along, the write does not.
        let r = plain
            .post(format!("{}{p}", s.base))
            .header("cookie", &cookie)
            .header("origin", "http://evil.example")
            .header("sec-fetch-site", "cross-site")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{p}");
    }
    // No credential: 401 (a few only: more failures in a row are slowed down, 429).
    for (method, p) in [
        (reqwest::Method::POST, "/api/git/status"),
        (reqwest::Method::POST, "/api/ports/allocate"),
        (reqwest::Method::POST, "/api/apps/preview"),
        (reqwest::Method::GET, "/api/ports/scan"),
    ] {
        let r = anon
            .request(method, format!("{}{p}", s.base))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{p}");
    }
}
