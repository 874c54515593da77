//! Two stacks on one machine, every port moved and no address given by hand:
//! each api server reaches its own runner and its own browser host, as the
//! supervisor's table says (issue 21: the second stack used to reach the
//! first one's, on the default ports).

use std::time::{Duration, Instant};

use portos_e2e::{Stack, free_port};
use serde_json::{Value, json};

use crate::http::Api;

struct One {
    stack: Stack,
    api: u16,
    health: u16,
}

/// The runner, the browser host and the api server on free ports; the api
/// server is told nothing about where the others are.
fn one() -> One {
    let (api, runner, health, cdp) = (free_port(), free_port(), free_port(), free_port());
    let stack = Stack::new(&format!(
        "[[process]]\nname = \"portos-cos\"\ncommand = \"portos-runner\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{runner}\" }}\nports = {{ api = {runner} }}\n\
         health = {{ check = \"grpc\", interval = \"200ms\" }}\n\n\
         [[process]]\nname = \"portos-browser\"\ncommand = \"portos-browser\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{health}\", CDP_HOST = \"127.0.0.1\", CDP_PORT = \"{cdp}\" }}\n\
         ports = {{ cdp = {cdp}, health = {health} }}\n\
         health = {{ check = \"http\", port = \"health\", path = \"/healthz\", start_period = \"15s\" }}\n\n\
         [[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\", PORTOS_PROVIDER_CHECK_SECS = \"3600\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n"
    ));
    stack.ok(&["up", "-d"]);
    One { stack, api, health }
}

/// A CLI run of `echo` through the stack's runner: its metadata at the end.
async fn run(api: &Api) -> Value {
    let (st, body) = api
        .post(
            "/api/runs",
            json!({ "providerId": "echo", "prompt": "hello" }),
        )
        .await;
    assert_eq!(st, 202, "{body}");
    let id = body["runId"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = api.get(&format!("/api/runs/{id}")).await;
        if m["isActive"] == false && !m["endTime"].is_null() {
            return m;
        }
        assert!(Instant::now() < deadline, "run {id} did not end: {m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn browser_health(api: &Api) -> Value {
    // The host launches Chromium at its start; give it the time it may need.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let h = api.get("/api/browser/health").await;
        if h["connected"] == true || Instant::now() > deadline {
            return h;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn two_stacks_each_reach_their_own_runner_and_browser_host() {
    let (a, b) = (one(), one());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let apis = [
            Api::new(a.api, &a.stack.owner_token()),
            Api::new(b.api, &b.stack.owner_token()),
        ];
        for api in &apis {
            let (st, body) = api
                .post(
                    "/api/providers",
                    json!({ "id": "echo", "name": "echo", "type": "cli", "command": "/bin/echo" }),
                )
                .await;
            assert_eq!(st, 201, "{body}");
        }
        for (api, one) in apis.iter().zip([&a, &b]) {
            let m = run(api).await;
            assert_eq!(m["success"], true, "{m}");
            // `echo` ran on this stack's runner: it prints the arguments it was given.
            let out = api
                .text(&format!("/api/runs/{}/output", m["id"].as_str().unwrap()))
                .await;
            assert!(out.contains("-p"), "{out}");
            let h = browser_health(api).await;
            assert_eq!(h["connected"], true, "{h}");
            assert_eq!(h["healthPort"], one.health, "its own host: {h}");
        }
        // A's runner and browser host stop: B does not notice, A says so.
        a.stack.ok(&["stop", "portos-cos"]);
        a.stack.ok(&["stop", "portos-browser"]);
        let m = run(&apis[1]).await;
        assert_eq!(m["success"], true, "B's run on B's runner: {m}");
        assert_eq!(browser_health(&apis[1]).await["connected"], true);
        let (st, body) = apis[0]
            .post(
                "/api/runs",
                json!({ "providerId": "echo", "prompt": "hello" }),
            )
            .await;
        let failed = if st == 202 {
            run_end(&apis[0], &body).await
        } else {
            body
        };
        assert!(
            failed.to_string().contains("runner"),
            "A's run cannot reach A's runner: {failed}"
        );
        let h = apis[0].get("/api/browser/health").await;
        assert_eq!(
            (h["connected"].clone(), h["healthPort"].clone()),
            (json!(false), json!(a.health)),
            "{h}"
        );
    });
}

async fn run_end(api: &Api, started: &Value) -> Value {
    let id = started["runId"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = api.get(&format!("/api/runs/{id}")).await;
        if !m["endTime"].is_null() {
            return m;
        }
        assert!(Instant::now() < deadline, "{m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
