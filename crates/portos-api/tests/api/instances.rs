//! `/api/instances` in-process: who may call it, and what a peer must be
//! before anything is kept. Two live instances pairing is the e2e test's.

use super::*;

/// A port on loopback with nothing listening on it.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const A_TOKEN: &str =
    "portos-peer-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn instances_need_the_owner_and_our_own_origin() {
    let s = start().await;
    let anon = reqwest::Client::builder().no_proxy().build().unwrap();
    // Four tries: past that, the limiter answers 429 to a stranger.
    for path in [
        "/api/instances",
        "/api/instances/self",
        "/api/instances/agents",
    ] {
        let r = anon.get(format!("{}{path}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    let r = anon
        .post(format!("{}/api/instances/peers", s.base))
        .json(&json!({"address": "127.0.0.1", "token": A_TOKEN}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let port = closed_port();
    let add = json!({"address": "127.0.0.1", "port": port, "token": A_TOKEN}).to_string();
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            "/api/instances/peers",
            Some(add.as_str()),
        ),
        (
            reqwest::Method::PUT,
            "/api/instances/self",
            Some(r#"{"name":"owned"}"#),
        ),
        (
            reqwest::Method::PUT,
            "/api/instances/peers/some-id",
            Some(r#"{"enabled":false}"#),
        ),
        (
            reqwest::Method::DELETE,
            "/api/instances/peers/some-id",
            None,
        ),
        (
            reqwest::Method::POST,
            "/api/instances/peers/some-id/connect",
            None,
        ),
        (
            reqwest::Method::POST,
            "/api/instances/peers/some-id/probe",
            None,
        ),
    ] {
        let (status, body) = from_another_site(&s, method, path, body).await;
        assert_eq!(status, 403, "{path}");
        assert_error_shape(&body, "CROSS_ORIGIN");
    }
    assert!(
        !s.data.path().join("instances.json").exists(),
        "nothing was written"
    );
    assert!(!s.data.path().join("auth/peer-links.json").exists());
}

#[tokio::test]
async fn a_peer_is_checked_before_anything_is_kept() {
    let s = start().await;
    let port = closed_port();
    for (body, code) in [
        (
            json!({"address": "127.0.0.1", "port": port}),
            "TOKEN_REQUIRED",
        ),
        (
            json!({"address": "127.0.0.1", "port": port, "token": "hunter2"}),
            "INVALID_TOKEN",
        ),
        (
            json!({"address": "a b; rm -rf", "port": port, "token": A_TOKEN}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"address": "0.0.0.0", "port": port, "token": A_TOKEN}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"address": "127.0.0.1", "port": 70000, "token": A_TOKEN}),
            "VALIDATION_ERROR",
        ),
    ] {
        let (st, b) = s.post_json("/api/instances/peers", &body).await;
        assert_eq!(st, 400, "{body} → {b}");
        assert_error_shape(&b, code);
        assert!(!b.to_string().contains(A_TOKEN), "{b}");
    }
    let (_, list) = s.get("/api/instances").await;
    assert_eq!(list["peers"], json!([]), "{list}");

    // Nothing listens there: kept, offline, with the reason.
    let (st, peer) = s
        .post_json(
            "/api/instances/peers",
            &json!({"address": "127.0.0.1", "port": port, "name": "studio", "token": A_TOKEN}),
        )
        .await;
    assert_eq!(st, 201, "{peer}");
    assert_eq!(peer["status"], "offline", "{peer}");
    assert_eq!(peer["name"], "studio");
    assert_eq!(peer["needsPairing"], false);
    assert!(
        peer["lastError"].as_str().is_some_and(|e| !e.is_empty()),
        "{peer}"
    );
    let id = peer["id"].as_str().unwrap().to_string();
    let (st, b) = s
        .post_json(
            "/api/instances/peers",
            &json!({"address": "127.0.0.1", "port": port, "token": A_TOKEN}),
        )
        .await;
    assert_eq!(st, 409);
    assert_error_shape(&b, "PEER_EXISTS");

    // The proxy asks only what the allow-list names, and says when it can't.
    let (st, b) = s
        .get(&format!(
            "/api/instances/peers/{id}/query?path=/api/settings"
        ))
        .await;
    assert_eq!(st, 403);
    assert_error_shape(&b, "PATH_NOT_ALLOWED");
    let (st, b) = s
        .get(&format!("/api/instances/peers/{id}/query?path=/api/apps"))
        .await;
    assert_eq!(st, 502);
    assert_error_shape(&b, "PEER_UNREACHABLE");
    let (st, b) = s
        .get("/api/instances/peers/nope/query?path=/api/apps")
        .await;
    assert_eq!(st, 404, "{b}");

    let (st, b) = s
        .send(
            reqwest::Method::PUT,
            &format!("/api/instances/peers/{id}"),
            Some(r#"{"name":"  "}"#),
        )
        .await;
    assert_eq!(st, 400, "{b}");
    let (st, b) = s
        .send(
            reqwest::Method::PUT,
            &format!("/api/instances/peers/{id}"),
            Some(r#"{"name":"mac studio","enabled":false}"#),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        (b["name"].clone(), b["enabled"].clone()),
        (json!("mac studio"), json!(false))
    );
    let (st, _) = s
        .send(
            reqwest::Method::PUT,
            &format!("/api/instances/peers/{id}"),
            Some(r#"{"owner":"me"}"#),
        )
        .await;
    assert!(st == 400 || st == 422, "unknown field: {st}");

    // The credential is held in data/auth, never in answers or instances.json.
    let (_, list) = s.get("/api/instances").await;
    assert!(!list.to_string().contains(A_TOKEN));
    let file = std::fs::read_to_string(s.data.path().join("instances.json")).unwrap();
    assert!(!file.contains(A_TOKEN), "{file}");
    let links = s.data.path().join("auth/peer-links.json");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&links).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");

    let (st, _) = s.delete(&format!("/api/instances/peers/{id}")).await;
    assert_eq!(st, 200);
    let (st, b) = s.delete(&format!("/api/instances/peers/{id}")).await;
    assert_eq!(st, 404, "{b}");
    assert!(
        !std::fs::read_to_string(&links).unwrap().contains(A_TOKEN),
        "the held credential goes with the peer"
    );
}
