//! The api server in-process on port 0, over a temp copy of a data dir in the
//! original's format, driven by real clients (reqwest, tokio-tungstenite).

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use portos_api::guard::{HostPolicy, TokenPolicy};
use portos_api::{AppState, guarded, router};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

struct Server {
    base: String,
    addr: std::net::SocketAddr,
    data: tempfile::TempDir,
    state: AppState,
    http: reqwest::Client,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

async fn start() -> Server {
    start_with(TokenPolicy::default()).await
}

async fn start_with(tokens: TokenPolicy) -> Server {
    let data = tempfile::tempdir().unwrap();
    copy_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data"),
        data.path(),
    );
    let state = AppState::new(
        data.path().to_path_buf(),
        HostPolicy::new(Vec::new()),
        tokens,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = guarded(&state, router(state.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server {
        base: format!("http://{addr}"),
        addr,
        data,
        state,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    }
}

impl Server {
    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&str>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    async fn post(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, None).await
    }

    async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(&body.to_string()))
            .await
    }

    async fn ws(
        &self,
    ) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>
    {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", self.addr))
            .await
            .unwrap();
        ws
    }
}

fn assert_error_shape(body: &Value, code: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert!(body["timestamp"].as_u64().is_some(), "{body}");
}

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

async fn next_event(
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

const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

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

#[tokio::test]
async fn the_same_history_through_grpc_on_the_same_port() {
    use portos_proto::api::v1 as pb;
    let data = tempfile::tempdir().unwrap();
    copy_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data"),
        data.path(),
    );
    let state = AppState::new(
        data.path().to_path_buf(),
        HostPolicy::new(Vec::new()),
        TokenPolicy::new(Some("t0ken-for-grpc".into())),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let info = portos_rt::ServiceInfo {
        name: "portos-api",
        description: "test",
        default_host: "127.0.0.1",
        default_port: 0,
    };
    let token = portos_rt::tokio_util::sync::CancellationToken::new();
    let served = {
        let state = state.clone();
        let token = token.clone();
        tokio::spawn(portos_rt::serve(
            info,
            listener,
            token,
            move |_ctx| async move {
                let (grpc, grpc_names) = portos_api::grpc::routes(state.clone());
                let guard_state = state.clone();
                Ok(portos_rt::App {
                    rest: router(state),
                    grpc: Some(grpc),
                    grpc_names,
                    wrap: Some(Box::new(move |all| guarded(&guard_state, all))),
                    ..portos_rt::App::default()
                })
            },
        ))
    };
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let unauthenticated = pb::history_client::HistoryClient::new(channel.clone())
        .stats(pb::HistoryStatsRequest {})
        .await
        .unwrap_err();
    assert_eq!(unauthenticated.code(), tonic::Code::Unauthenticated);
    let with_token = |mut req: tonic::Request<()>| {
        req.metadata_mut()
            .insert("authorization", "Bearer t0ken-for-grpc".parse().unwrap());
        Ok(req)
    };
    let http = reqwest::Client::new();
    let rest_get = |path: &str| {
        http.get(format!("http://{addr}{path}"))
            .bearer_auth("t0ken-for-grpc")
            .send()
    };
    assert_eq!(
        http.get(format!("http://{addr}/api/history"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        http.get(format!("http://{addr}/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200,
        "probes stay open"
    );
    let mut history =
        pb::history_client::HistoryClient::with_interceptor(channel.clone(), with_token);
    let listed = history
        .list(pb::ListHistoryRequest {
            action: Some("start".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let rest: Value = rest_get("/api/history?action=start")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.total as u64, rest["total"].as_u64().unwrap());
    let ids: Vec<&str> = listed.entries.iter().map(|e| e.id.as_str()).collect();
    let rest_ids: Vec<&str> = rest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, rest_ids);
    let stats = history
        .stats(pb::HistoryStatsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((stats.total, stats.by_action["start"]), (3, 2));
    assert!((stats.success_rate - 66.666).abs() < 0.01);
    let missing = history
        .delete(pb::DeleteHistoryRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let empty = history
        .delete(pb::DeleteHistoryRequest { id: String::new() })
        .await
        .unwrap_err();
    assert_eq!(empty.code(), tonic::Code::InvalidArgument);

    // Settings: the same masked document, and a merge seen by REST.
    let mut settings =
        pb::settings_client::SettingsClient::with_interceptor(channel.clone(), with_token);
    let doc = settings
        .get(pb::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!doc.json.contains("SECRETSECRET"), "{}", doc.json);
    let rest: Value = rest_get("/api/settings")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&doc.json).unwrap(), rest);
    settings
        .update(pb::UpdateSettingsRequest {
            patch_json: r#"{"theme": "from-grpc"}"#.into(),
        })
        .await
        .unwrap();
    let rest: Value = rest_get("/api/settings")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["theme"], "from-grpc");
    for bad in ["[1, 2]", "{not json"] {
        let e = settings
            .update(pb::UpdateSettingsRequest {
                patch_json: bad.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad}: {e:?}");
    }

    // Providers: same order, no key, secret env values masked.
    let listed =
        pb::providers_client::ProvidersClient::with_interceptor(channel.clone(), with_token)
            .list(pb::ListProvidersRequest {})
            .await
            .unwrap()
            .into_inner();
    assert_eq!(listed.active_provider.as_deref(), Some("claude-code"));
    let ids: Vec<&str> = listed.providers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["claude-code", "lmstudio"]);
    assert!(!format!("{listed:?}").contains("PROVIDERSECRET"));
    assert!(listed.providers[1].has_api_key);
    assert_eq!(
        listed.providers[0].env_vars["AWS_BEARER_TOKEN_BEDROCK"],
        "***"
    );
    // The same changes as REST, through gRPC.
    let mut prov =
        pb::providers_client::ProvidersClient::with_interceptor(channel.clone(), with_token);
    let made = prov
        .create(pb::CreateProviderRequest {
            provider_json: r#"{"name": "Via gRPC", "type": "cli", "command": "sh", "apiKey": "sk-GRPCSECRET-99999999"}"#.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((made.id.as_str(), made.has_api_key), ("via-grpc", true));
    assert!(!format!("{made:?}").contains("GRPCSECRET"));
    let rest: Value = rest_get("/api/providers/via-grpc")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["name"], "Via gRPC");
    let changed = prov
        .update(pb::UpdateProviderRequest {
            id: "via-grpc".into(),
            changes_json: r#"{"enabled": false}"#.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!changed.enabled && changed.has_api_key, "{changed:?}");
    let active = prov
        .set_active(pb::ProviderRequest {
            id: "via-grpc".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(active.id, "via-grpc");
    let tested = prov
        .test(pb::ProviderRequest {
            id: "via-grpc".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(tested.success, "sh is on PATH: {tested:?}");
    let bad = prov
        .create(pb::CreateProviderRequest {
            provider_json: r#"{"name": "x"}"#.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument, "{bad:?}");
    let taken = prov
        .create(pb::CreateProviderRequest {
            provider_json: r#"{"name": "Via gRPC", "type": "cli"}"#.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(taken.code(), tonic::Code::AlreadyExists, "{taken:?}");
    let missing = prov
        .get(pb::ProviderRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    prov.delete(pb::ProviderRequest {
        id: "via-grpc".into(),
    })
    .await
    .unwrap();
    let rest: Value = rest_get("/api/providers")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        rest["activeProvider"], "claude-code",
        "deleting the active one moves it"
    );

    // Files: an upload made over REST is listed and deleted over gRPC.
    let up: Value = http
        .post(format!("http://{addr}/api/uploads"))
        .bearer_auth("t0ken-for-grpc")
        .json(&json!({ "filename": "notes.txt", "data": "aGVsbG8=" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored = up["filename"].as_str().unwrap().to_string();
    let mut files = pb::files_client::FilesClient::with_interceptor(channel.clone(), with_token);
    let listed = files
        .list(pb::ListFilesRequest {
            folder: pb::Folder::Uploads as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.files.len(), 1);
    assert_eq!(
        (listed.files[0].filename.as_str(), listed.files[0].size),
        (stored.as_str(), 5)
    );
    let e = files
        .delete(pb::DeleteFileRequest {
            folder: pb::Folder::Uploads as i32,
            filename: "../settings.json".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(data.path().join("settings.json").is_file());
    let e = files
        .list(pb::ListFilesRequest { folder: 0 })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    let gone = files
        .delete(pb::DeleteFileRequest {
            folder: pb::Folder::Uploads as i32,
            filename: stored.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(gone.size, 5);
    assert!(!data.path().join("uploads").join(&stored).exists());

    // Apps: the same list as REST; an unknown id is NotFound.
    let mut apps = pb::apps_client::AppsClient::with_interceptor(channel.clone(), with_token);
    let listed = apps
        .list(pb::ListAppsRequest {})
        .await
        .unwrap()
        .into_inner();
    let rest: Value = rest_get("/api/apps").await.unwrap().json().await.unwrap();
    let rest_ids: Vec<&str> = rest
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    let ids: Vec<&str> = listed.apps.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, rest_ids);
    assert!(!ids.is_empty());
    let e = apps
        .start(pb::AppRequest {
            id: "no-such-app".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);

    // Prompts through gRPC: save (a version each time), read, preview.
    let mut prompts =
        pb::prompts_client::PromptsClient::with_interceptor(channel.clone(), with_token);
    for t in ["Hi {{who}}", "Hello {{who}} from {{where}}"] {
        let saved = prompts
            .save_stage(pb::SaveStageRequest {
                stage: "greet".into(),
                config_json: r#"{"name": "Greet"}"#.into(),
                template: Some(t.into()),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(saved.version.is_some());
    }
    let stage = prompts
        .get_stage(pb::StageRequest {
            stage: "greet".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        stage.template.as_deref(),
        Some("Hello {{who}} from {{where}}")
    );
    let rest: Value = rest_get("/api/prompts/greet")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["name"], "Greet");
    let preview = prompts
        .preview(pb::PreviewRequest {
            stage: "greet".into(),
            data_json: r#"{"who": "Ada"}"#.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (preview.preview.as_str(), preview.missing),
        ("Hello Ada from", vec!["where".to_string()])
    );
    let versions = prompts
        .list_versions(pb::StageRequest {
            stage: "greet".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(versions.versions.len(), 2);
    let e = prompts
        .get_stage(pb::StageRequest {
            stage: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    let e = prompts
        .preview(pb::PreviewRequest {
            stage: "greet".into(),
            data_json: "[1]".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);

    // Provider status through gRPC.
    let mut prov =
        pb::providers_client::ProvidersClient::with_interceptor(channel.clone(), with_token);
    let st = prov
        .status(pb::ProviderRequest {
            id: "lmstudio".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(st.available && st.reason == "ok", "{st:?}");
    portos_ai::status::from_run(&state.ai, "lmstudio", "rate-limit", "429 Too Many Requests").await;
    let all = prov
        .statuses(pb::ProviderStatusesRequest {})
        .await
        .unwrap()
        .into_inner();
    let lm = all
        .statuses
        .iter()
        .find(|s| s.provider_id == "lmstudio")
        .unwrap();
    assert_eq!((lm.available, lm.reason.as_str()), (false, "rate-limit"));
    let back = prov
        .recover(pb::ProviderRequest {
            id: "lmstudio".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(back.available);

    // Live events as a gRPC stream: a failing REST request shows on `errors`.
    let mut events = pb::events_client::EventsClient::with_interceptor(channel.clone(), with_token);
    let bad = events
        .subscribe(pb::SubscribeRequest {
            channels: vec!["nosuch".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let mut stream = events
        .subscribe(pb::SubscribeRequest {
            channels: vec!["errors".into()],
        })
        .await
        .unwrap()
        .into_inner();
    tokio::time::sleep(Duration::from_millis(50)).await;
    rest_get("/api/history?limit=x").await.unwrap();
    // A failing gRPC call is published too.
    let e = pb::runs_client::RunsClient::with_interceptor(channel.clone(), with_token)
        .get(pb::RunRequest {
            id: "no-such-run".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    let mut kinds = Vec::new();
    let mut codes = Vec::new();
    while let Ok(Ok(Some(e))) =
        tokio::time::timeout(Duration::from_millis(500), stream.message()).await
    {
        kinds.push(e.event.clone());
        if e.event == "error:notified" {
            let data: Value = serde_json::from_str(&e.data_json).unwrap();
            codes.push(data["code"].as_str().unwrap_or_default().to_string());
            if codes.len() == 2 {
                break;
            }
        }
    }
    assert!(kinds.contains(&"error:notified".to_string()), "{kinds:?}");
    assert_eq!(
        codes,
        ["VALIDATION_ERROR", "NOT_FOUND"],
        "REST's and gRPC's errors alike"
    );
    token.cancel();
    drop(stream);
    drop(channel);
    let _ = tokio::time::timeout(Duration::from_secs(10), served).await;
}

#[tokio::test]
async fn the_openapi_document_covers_every_route() {
    let s = start().await;
    let (st, doc) = s.get("/api/openapi.json").await;
    assert_eq!(st, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/history", &["get", "delete"][..]),
        ("/api/history/stats", &["get"]),
        ("/api/history/actions", &["get"]),
        ("/api/history/{id}", &["delete"]),
        ("/api/settings", &["get", "put"]),
        ("/api/providers", &["get", "post"]),
        ("/api/providers/active", &["get", "put"]),
        ("/api/providers/{id}", &["get", "put", "delete"]),
        ("/api/providers/{id}/test", &["post"]),
        ("/api/providers/status", &["get"]),
        ("/api/providers/{id}/status", &["get"]),
        ("/api/providers/{id}/status/recover", &["post"]),
        ("/api/runs", &["get", "post", "delete"]),
        ("/api/runs/{id}", &["get", "delete"]),
        ("/api/runs/{id}/output", &["get"]),
        ("/api/runs/{id}/prompt", &["get"]),
        ("/api/runs/{id}/stop", &["post"]),
        ("/api/lmstudio/status", &["get"]),
        ("/api/lmstudio/models", &["get"]),
        ("/api/lmstudio/download", &["post"]),
        ("/api/lmstudio/load", &["post"]),
        ("/api/lmstudio/unload", &["post"]),
        ("/api/lmstudio/completion", &["post"]),
        ("/api/lmstudio/embeddings", &["post"]),
        ("/api/lmstudio/config", &["put"]),
        ("/api/lmstudio/reset-cache", &["post"]),
        ("/api/lmstudio/analyze-task", &["post"]),
        ("/api/lmstudio/classify-memory", &["post"]),
        ("/api/lmstudio/thinking-stats", &["get"]),
        ("/api/prompts", &["get", "post"]),
        ("/api/prompts/reload", &["post"]),
        ("/api/prompts/variables", &["get", "post"]),
        ("/api/prompts/variables/{key}", &["get", "put", "delete"]),
        ("/api/prompts/{stage}", &["get", "put", "delete"]),
        ("/api/prompts/{stage}/usage", &["get"]),
        ("/api/prompts/{stage}/preview", &["post"]),
        ("/api/prompts/{stage}/versions", &["get"]),
        ("/api/prompts/{stage}/versions/{version}", &["get"]),
        ("/api/logs/processes", &["get"]),
        ("/api/logs/{process}", &["get"]),
        ("/api/apps", &["get", "post"]),
        ("/api/apps/{id}", &["get", "put", "delete"]),
        ("/api/apps/{id}/archive", &["post"]),
        ("/api/apps/{id}/unarchive", &["post"]),
        ("/api/apps/{id}/task-types", &["get"]),
        ("/api/apps/{id}/task-types/{taskType}", &["put"]),
        ("/api/apps/{id}/open-editor", &["post"]),
        ("/api/apps/{id}/open-folder", &["post"]),
        ("/api/apps/{id}/update", &["post"]),
        ("/api/apps/{id}/refresh-config", &["post"]),
        ("/api/apps/{id}/start", &["post"]),
        ("/api/apps/{id}/stop", &["post"]),
        ("/api/apps/{id}/restart", &["post"]),
        ("/api/apps/{id}/status", &["get"]),
        ("/api/apps/{id}/logs", &["get"]),
        ("/api/logs/app/{id}", &["get"]),
        ("/api/uploads", &["get", "post", "delete"]),
        ("/api/uploads/{filename}", &["get", "delete"]),
        ("/api/screenshots", &["get", "post"]),
        ("/api/screenshots/{filename}", &["get", "delete"]),
        ("/api/attachments", &["get", "post"]),
        ("/api/attachments/{filename}", &["get", "delete"]),
        ("/api/browser", &["get"]),
        ("/api/browser/config", &["get", "put"]),
        ("/api/browser/navigate", &["post"]),
        ("/api/browser/screenshot", &["post"]),
        ("/api/browser/pages/{id}", &["delete"]),
        ("/api/processes/{name}/{action}", &["post"]),
        ("/api/agents/accounts", &["get", "post"]),
        ("/api/agents/schedules/{id}", &["get", "put", "delete"]),
        ("/api/agents/schedules/{id}/run", &["post"]),
        ("/api/jira/instances", &["get", "post"]),
        (
            "/api/jira/instances/{id}/tickets/{ticket}",
            &["put", "delete"],
        ),
    ] {
        let p = paths.get(path).unwrap_or_else(|| {
            panic!("{path} missing from {:?}", paths.keys().collect::<Vec<_>>())
        });
        for m in methods {
            assert!(p.get(*m).is_some(), "{m} {path}");
        }
    }
    assert_eq!(paths.len(), 114, "{:?}", paths.keys().collect::<Vec<_>>());
}

#[tokio::test]
async fn cross_origin_requests_only_from_the_ui() {
    let s = start().await;
    for (origin, allowed) in [
        ("http://localhost:5555", true),
        ("http://evil.example.com", false),
        ("http://localhost:8080", false),
    ] {
        let r = s
            .http
            .request(reqwest::Method::OPTIONS, format!("{}/api/history", s.base))
            .header("origin", origin)
            .header("access-control-request-method", "DELETE")
            .send()
            .await
            .unwrap();
        let header = r
            .headers()
            .get("access-control-allow-origin")
            .map(|h| h.to_str().unwrap().to_string());
        assert_eq!(
            header.as_deref() == Some(origin),
            allowed,
            "{origin}: {header:?}"
        );
    }
}

#[tokio::test]
async fn apps_are_created_updated_archived_and_deleted_like_the_original() {
    let s = start().await;
    let (st, body) = s.post_json("/api/apps", &json!({"name": "My Blog", "repoPath": "/src/blog", "uiPort": 3000, "processes": [{"name": "x"}], "extraField": 7})).await;
    assert_eq!(st, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(body["pm2ProcessNames"], json!(["my-blog"]));
    assert_eq!(body["startCommands"], json!(["npm run dev"]));
    assert_eq!(body["uiPort"], 3000);
    assert_eq!(body["extraField"], 7);
    assert!(
        body.get("processes").is_none(),
        "processes are not taken on create: {body}"
    );
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(s.data.path().join("apps.json")).unwrap())
            .unwrap();
    assert!(
        file["apps"]["portos-default"].is_object(),
        "the others are kept"
    );
    assert!(
        file["apps"][&id].get("id").is_none(),
        "the id is the key, not a field"
    );

    let (st, body) = s
        .post_json("/api/apps", &json!({"name": "", "uiPort": 70000}))
        .await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "VALIDATION_ERROR");
    let paths: Vec<&str> = body["context"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["name", "repoPath", "uiPort"]);

    let (st, body) = s
        .send(
            reqwest::Method::PUT,
            &format!("/api/apps/{id}"),
            Some(r#"{"description": "mine", "createdAt": "x", "id": "y"}"#),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        (body["description"].as_str(), body["id"].as_str()),
        (Some("mine"), Some(id.as_str()))
    );
    assert_ne!(body["createdAt"], "x");
    let (st, _) = s
        .send(reqwest::Method::PUT, "/api/apps/nope", Some("{}"))
        .await;
    assert_eq!(st, 404);

    let (st, body) = s.post(&format!("/api/apps/{id}/archive")).await;
    assert_eq!((st, body["archived"].as_bool()), (200, Some(true)));
    let (st, body) = s.post("/api/apps/portos-default/archive").await;
    assert_eq!(st, 403);
    assert_error_shape(&body, "PROTECTED");
    let (st, _) = s.delete("/api/apps/portos-default").await;
    assert_eq!(st, 403);
    let (st, _) = s.delete(&format!("/api/apps/{id}")).await;
    assert_eq!(st, 204);
    let (st, _) = s.get(&format!("/api/apps/{id}")).await;
    assert_eq!(st, 404);
}

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

fn git(dir: &Path, args: &[&str]) -> String {
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
struct StaticServer(std::process::Child, u16);

impl StaticServer {
    fn start(dir: &Path) -> Self {
        Self::start_on(dir, 0)
    }

    /// On `port` (0: any free one).
    fn start_on(dir: &Path, port: u16) -> Self {
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
async fn next_event_blocking(
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
async fn until_event(
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
async fn ended_run(s: &Server, id: &str) -> Value {
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
