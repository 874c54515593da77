//! The smaller holes of the security issue, each refused: stored files never
//! served as pages, `security.*` out of the settings API, editor options,
//! `chromePath`, one detection at a time, and a request without a Host.

use super::*;

use futures_util::SinkExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn upload(s: &Server, name: &str, bytes: &[u8]) -> String {
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    let (st, body) = s
        .post_json("/api/uploads", &json!({ "filename": name, "data": data }))
        .await;
    assert_eq!(st, 201, "{body}");
    body["filename"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn stored_files_are_never_served_as_pages() {
    let s = start().await;
    let png = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(PNG_1X1)
            .unwrap()
    };
    let cases = [
        ("x.html", &b"<script>alert(1)</script>"[..], false),
        (
            "x.svg",
            &b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"[..],
            false,
        ),
        ("notes.txt", &b"plain words"[..], true),
        ("dot.png", &png[..], true),
    ];
    for (name, bytes, inline) in cases {
        let stored = upload(&s, name, bytes).await;
        let r = s
            .http
            .get(format!("{}/api/uploads/{stored}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let h = r.headers();
        assert_eq!(h["content-security-policy"], "sandbox", "{name}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{name}");
        let disposition = h["content-disposition"].to_str().unwrap();
        if inline {
            assert_eq!(disposition, "inline", "{name}");
        } else {
            assert_eq!(
                disposition,
                format!("attachment; filename=\"{stored}\""),
                "{name}"
            );
        }
    }
}

#[tokio::test]
async fn the_settings_api_neither_shows_nor_writes_security() {
    let s = start().await;
    let path = s.data.path().join("settings.json");
    let mut file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    file["security"] = json!({ "apiToken": "owner-secret-token-1234" });
    std::fs::write(&path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    let (st, body) = s.get("/api/settings").await;
    assert_eq!(st, 200);
    assert!(body.get("security").is_none(), "{body}");
    let before = std::fs::read(&path).unwrap();
    let (st, body) = s
        .send(
            reqwest::Method::PUT,
            "/api/settings",
            Some(r#"{"security": {"apiToken": "mine-now"}, "theme": "dark"}"#),
        )
        .await;
    assert_eq!(st, 403, "{body}");
    assert_error_shape(&body, "FORBIDDEN_SETTING");
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing written");
}

#[tokio::test]
async fn editor_options_and_a_chrome_path_that_is_no_program_are_refused() {
    let s = start().await;
    let repo = tempfile::tempdir().unwrap();
    for command in [
        "code --install-extension evil.vsix",
        "vim +!id",
        "nvim -c !id",
    ] {
        let (st, app) = s
            .post_json(
                "/api/apps",
                &json!({ "name": "ed", "repoPath": repo.path(), "editorCommand": command }),
            )
            .await;
        assert_eq!(st, 201, "{app}");
        let id = app["id"].as_str().unwrap();
        let (st, body) = s.post(&format!("/api/apps/{id}/open-editor")).await;
        assert_eq!(st, 400, "{command}: {body}");
        assert_error_shape(&body, "INVALID_EDITOR_ARGS");
    }
    let not_a_program = repo.path().join("chrome");
    std::fs::write(&not_a_program, "#!/bin/sh\n").unwrap();
    let (st, body) = s
        .send(
            reqwest::Method::PUT,
            "/api/browser/config",
            Some(&json!({ "chromePath": not_a_program }).to_string()),
        )
        .await;
    assert_eq!(st, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not an executable file"),
        "{body}"
    );
}

#[tokio::test]
async fn one_detection_at_a_time_per_client() {
    let s = start().await;
    let repo = tempfile::tempdir().unwrap();
    // Node takes a second and a half to load this file, so the first
    // detection is still running when the second is asked for.
    std::fs::write(
        repo.path().join("ecosystem.config.mjs"),
        "await new Promise(r => setTimeout(r, 1500)); export default { apps: [] };",
    )
    .unwrap();
    let mut ws = s.ws().await;
    let start_msg = Message::Text(
        json!({"event": "detect:start", "data": {"path": repo.path()}})
            .to_string()
            .into(),
    );
    ws.send(start_msg.clone()).await.unwrap();
    ws.send(start_msg.clone()).await.unwrap();
    let refused = tokio::time::timeout(
        Duration::from_secs(10),
        until_event(&mut ws, |e| e["event"] == "detect:start:error"),
    )
    .await
    .expect("the second detection is refused");
    assert!(
        refused["data"]["message"]
            .as_str()
            .unwrap()
            .contains("already running")
    );
    let done = tokio::time::timeout(
        Duration::from_secs(20),
        until_event(&mut ws, |e| e["event"] == "detect:complete"),
    )
    .await
    .expect("the first detection ends");
    assert_eq!(done["data"]["success"], true, "{done}");
    // Once it has ended, the client may detect again.
    ws.send(start_msg).await.unwrap();
    let again = tokio::time::timeout(
        Duration::from_secs(20),
        until_event(&mut ws, |e| {
            e["event"] == "detect:complete" || e["event"] == "detect:start:error"
        }),
    )
    .await
    .expect("the next detection answers");
    assert_eq!(again["event"], "detect:complete", "{again}");
}

#[tokio::test]
async fn a_request_without_a_host_does_not_pass() {
    let s = start().await;
    let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /api/settings HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.0 403"), "{out}");
    assert!(out.contains("HOST_NOT_ALLOWED"), "{out}");
}

#[tokio::test]
async fn a_key_stays_with_the_endpoint_it_was_saved_for_and_follows_no_redirect() {
    use axum::response::IntoResponse;
    let s = start().await;
    // Where a redirect would send the key: it must see no request at all.
    let elsewhere =
        portos_test_support::serve(|_| async { axum::http::StatusCode::OK.into_response() }).await;
    let target = format!("http://{}/v1", elsewhere.addr);
    let redirecting = portos_test_support::serve(move |_| {
        let target = target.clone();
        async move {
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [(axum::http::header::LOCATION, format!("{target}/models"))],
            )
                .into_response()
        }
    })
    .await;
    let (st, p) = s
        .post_json(
            "/api/providers",
            &json!({ "name": "Hosted", "type": "api", "endpoint": format!("http://{}/v1", redirecting.addr), "apiKey": "sk-saved-for-this-endpoint" }),
        )
        .await;
    assert_eq!(st, 201, "{p}");
    let (_, result) = s.post("/api/providers/hosted/test").await;
    assert_eq!(result["success"], false, "{result}");
    assert_eq!(redirecting.seen.hits(), 1);
    assert_eq!(elsewhere.seen.hits(), 0, "the key followed a redirect");

    let put = |body: Value| {
        let s = &s;
        async move {
            s.send(
                reqwest::Method::PUT,
                "/api/providers/hosted",
                Some(&body.to_string()),
            )
            .await
        }
    };
    // Another field changed, the same endpoint: the key is kept.
    let (st, p) = put(json!({ "timeout": 5000 })).await;
    assert_eq!((st, &p["hasApiKey"]), (200, &json!(true)), "{p}");
    // A new endpoint without a key: the stored key is dropped.
    let (st, p) = put(json!({ "endpoint": "http://127.0.0.1:9/v1" })).await;
    assert_eq!((st, &p["hasApiKey"]), (200, &json!(false)), "{p}");
    let file = std::fs::read_to_string(s.data.path().join("providers.json")).unwrap();
    assert!(!file.contains("sk-saved-for-this-endpoint"), "{file}");
    // A new endpoint with its key in the same request: kept.
    let (st, p) = put(json!({ "endpoint": "http://127.0.0.1:10/v1", "apiKey": "sk-new" })).await;
    assert_eq!((st, &p["hasApiKey"]), (200, &json!(true)), "{p}");

    // JIRA: a token is only kept for the server it was saved for.
    let instance = |base: &str, token: Option<&str>| {
        let mut b =
            json!({ "id": "acme", "name": "Acme", "baseUrl": base, "email": "me@acme.test" });
        if let Some(t) = token {
            b["apiToken"] = json!(t);
        }
        b
    };
    let (st, body) = s
        .post_json(
            "/api/jira/instances",
            &instance("https://jira.acme.test", Some("pat-1")),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let (st, body) = s
        .post_json(
            "/api/jira/instances",
            &instance("https://jira.acme.test", None),
        )
        .await;
    assert_eq!(st, 200, "same server, token kept: {body}");
    let (st, body) = s
        .post_json(
            "/api/jira/instances",
            &instance("https://attacker.test", None),
        )
        .await;
    assert_eq!(st, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("baseUrl changed"),
        "{body}"
    );
    let jira = std::fs::read_to_string(s.data.path().join("jira.json")).unwrap();
    assert!(!jira.contains("attacker.test"), "nothing saved: {jira}");
}
