//! The real `portos-api` binary at its default log level: a line for every
//! write, refusal and socket, none for a read answered well (a dashboard's
//! polling would be most of the log), all of them at debug level.

mod binary;

use std::io::Read;

const TOKEN: &str = "tok-requestlog-0123456789";

async fn lines(level: Option<&str>) -> String {
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data.path().join("auth")).unwrap();
    std::fs::write(data.path().join("auth/owner-token"), format!("{TOKEN}\n")).unwrap();
    let envs: Vec<(&str, &str)> = level.map(|l| ("PORTOS_LOG", l)).into_iter().collect();
    let api = binary::start(data.path(), &envs, true).await;
    let (mut server, base) = (api.child, api.base);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..5 {
        let r = http
            .get(format!("{base}/api/history"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = http
        .get(format!("{base}/api/history"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .put(format!("{base}/api/settings"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "theme": "dark" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{base}/api/nothing-here"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(server.wait().unwrap().success());
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
    logs
}

fn count(logs: &str, line: &str) -> usize {
    logs.lines().filter(|l| l.contains(line)).count()
}

#[tokio::test]
async fn writes_refusals_and_failures_are_logged_and_good_reads_only_at_debug() {
    let logs = lines(None).await;
    assert_eq!(count(&logs, "GET /api/history 200"), 0, "{logs}");
    assert_eq!(count(&logs, "GET /api/history 401"), 1, "{logs}");
    assert_eq!(count(&logs, "PUT /api/settings 200"), 1, "{logs}");
    assert_eq!(count(&logs, "GET /api/nothing-here 404"), 1, "{logs}");

    let logs = lines(Some("debug")).await;
    assert_eq!(count(&logs, "GET /api/history 200"), 5, "{logs}");
    assert_eq!(count(&logs, "GET /api/history 401"), 1, "{logs}");
}
