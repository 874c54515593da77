//! The real `portos-api` binary, logging at debug level, is sent secrets every
//! way a client can send them; none of them appears in any answer or any log line.

mod binary;

use std::io::Read;

const TOKEN: &str = "tok-9f8e7d6c5b4a39281706";
const KEY_ON_DISK: &str = "sk-live-ONDISKONDISKONDISK4242";
const KEY_SENT: &str = "sk-live-SENTSENTSENTSENT7777";

#[tokio::test]
async fn secrets_never_appear_in_answers_or_logs() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("settings.json"),
        format!(r#"{{"openai": {{"apiKey": "{KEY_ON_DISK}"}}}}"#),
    )
    .unwrap();
    // The owner token, as `portos` keeps it: its own 0600 file in the data dir.
    std::fs::create_dir_all(data.path().join("auth")).unwrap();
    std::fs::write(data.path().join("auth/owner-token"), format!("{TOKEN}\n")).unwrap();
    let api = binary::start(data.path(), &[("PORTOS_LOG", "debug")], true).await;
    let (mut server, base) = (api.child, api.base);
    let ws_base = base.replacen("http://", "ws://", 1);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();

    let mut answers = String::new();
    let r = http
        .get(format!("{base}/api/settings"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "no token, no settings");
    answers += &r.text().await.unwrap();
    let r = http
        .get(format!("{base}/api/settings"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    answers += &r.text().await.unwrap();
    let r = http
        .put(format!("{base}/api/settings"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "anthropic": { "apiKey": KEY_SENT } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    answers += &r.text().await.unwrap();
    // A token in a query string, and a wrong one in a header.
    answers += &http
        .get(format!("{base}/api/history?token={TOKEN}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    answers += &http
        .get(format!("{base}/api/history"))
        .bearer_auth(KEY_SENT)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The WebSocket takes the token as a script sends it; never from a query
    // (a URL ends up in histories and logs).
    let ws_request = |token: &str| {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("{ws_base}/ws").into_client_request().unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        req
    };
    let (ws, _) = tokio_tungstenite::connect_async(ws_request(TOKEN))
        .await
        .unwrap();
    drop(ws);
    assert!(
        tokio_tungstenite::connect_async(format!("{ws_base}/ws?token={TOKEN}"))
            .await
            .is_err()
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = server.wait().unwrap();
    assert!(status.success());
    let mut logs = String::new();
    server
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    server
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    // One line per request at debug (reads answered well are debug lines,
    // the rest info), the refused ones too, with method, path and status.
    for (line, times) in [
        ("GET /api/settings 401", 1),
        ("GET /api/settings 200", 1),
        ("PUT /api/settings 200", 1),
        // A token in the query counts nowhere.
        ("GET /api/history 401", 2),
        ("GET /ws 101", 1),
        ("GET /ws 401", 1),
    ] {
        assert_eq!(
            logs.lines().filter(|l| l.contains(line)).count(),
            times,
            "{line:?} {times} time(s) in: {logs}"
        );
    }
    assert!(
        !logs.lines().any(|l| l.contains("/healthz ")),
        "probes are not logged: {logs}"
    );
    for secret in [TOKEN, KEY_ON_DISK, KEY_SENT] {
        assert!(
            !answers.contains(secret),
            "{secret} in an answer: {answers}"
        );
        assert!(!logs.contains(secret), "{secret} in the logs: {logs}");
    }
    let on_disk = std::fs::read_to_string(data.path().join("settings.json")).unwrap();
    assert!(
        on_disk.contains(KEY_SENT) && on_disk.contains(KEY_ON_DISK),
        "kept on disk, in full"
    );
}
