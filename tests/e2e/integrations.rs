//! The integrations under the real supervisor: the api server pointed at fakes
//! of Moltbook and Moltworld on 127.0.0.1 (their contracts: bearer key, JSON
//! answers), schedules driven over gRPC from Python (a client we did not write)
//! and run by the real scheduler on the real clock, a local rate limit that
//! holds across a restart of the api server, and no key in any answer or in
//! any log line the supervisor captured.

use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portos_e2e::{LlmServer, Stack, free_port, python_grpc_with, wait_for};
use portos_test_support::{Incoming, serve};
use serde_json::{Value, json};

use crate::http::Api;

const MB_KEY: &str = "moltbook_sk_e2e_key_a1b2c3d4e5f6";
const MW_KEY: &str = "moltworld_e2e_secret_9f8e7d6c";
const JIRA_TOKEN: &str = "jira_pat_e2e_0a1b2c3d4e5f";

async fn platforms(r: Incoming) -> Response {
    match r.path.as_str() {
        "/mb/posts" if r.bearer() == Some(MB_KEY) => (
            StatusCode::CREATED,
            Json(json!({ "success": true, "post": { "id": "p-e2e" } })),
        )
            .into_response(),
        p if p.starts_with("/mb/") => (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "success": false, "error": "Invalid API key" })),
        )
            .into_response(),
        _ => Json(json!({ "ok": true, "agents": [] })).into_response(),
    }
}

fn stack(fake: std::net::SocketAddr) -> (Stack, u16) {
    let api = free_port();
    let stack = Stack::new(&format!(
        "[[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\", PORTOS_PROVIDER_CHECK_SECS = \"3600\", \
         PORTOS_MOLTBOOK_URL = \"http://{fake}/mb\", PORTOS_MOLTWORLD_URL = \"http://{fake}/mw\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n"
    ));
    stack.ok(&["up", "-d"]);
    (stack, api)
}

#[test]
fn schedules_over_grpc_run_on_time_limits_survive_a_restart_and_keys_stay_hidden() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(serve(platforms));
    let (stack, port) = stack(fake.addr);
    let target = format!("127.0.0.1:{port}");
    let mut answers = Vec::new();
    rt.block_on(async {
        let api = Api::new(port, &stack.owner_token());
        let (st, agent) = api
            .post("/api/agents/personalities", json!({ "userId": "me", "name": "Ada", "personality": { "style": "casual" } }))
            .await;
        assert_eq!(st, 201, "{agent}");
        let agent = agent["id"].as_str().unwrap().to_string();
        let (st, mw) = api
            .post("/api/agents/accounts", json!({ "agentId": agent, "platform": "moltworld", "status": "active",
                "credentials": { "apiKey": MW_KEY, "username": "ada", "agentId": "mw-e2e" } }))
            .await;
        assert_eq!(st, 201, "{mw}");
        answers.push(mw.to_string());
        let mw = mw["id"].as_str().unwrap().to_string();
        let (st, mb) = api
            .post("/api/agents/accounts", json!({ "agentId": agent, "platform": "moltbook", "status": "active",
                "credentials": { "apiKey": MB_KEY, "username": "ada_bot" } }))
            .await;
        assert_eq!(st, 201, "{mb}");
        answers.push(mb.to_string());
        let mb = mb["id"].as_str().unwrap().to_string();

        // A schedule made from Python over gRPC: a block every second.
        let created = python_grpc_with(Some(&stack.owner_token()), &[
            &target,
            "portos.integrations.v1.Schedules",
            "Create",
            &json!({ "schedule": { "agentId": agent, "accountId": mw, "actionType": "mw_build",
                "paramsJson": json!({ "x": 5, "y": 6, "type": "wood" }).to_string(),
                "timing": { "intervalMs": "1000" }, "enabled": true } })
            .to_string(),
        ]);
        let sched = &created["response"];
        assert_eq!(sched["isActive"], true, "{created}");
        let id = sched["id"].as_str().unwrap().to_string();

        // The real scheduler runs it on the real clock.
        let builds = || {
            fake.seen
                .lines("")
                .iter()
                .filter(|l| l.starts_with("POST /mw/api/world/build"))
                .count()
        };
        wait_for(Duration::from_secs(20), "two scheduled builds", || (builds() >= 2).then_some(()));
        assert!(fake.seen.lines("").iter().any(|l| l
            == r#"POST /mw/api/world/build {"x":5,"y":6,"z":0,"type":"wood","action":"place","agentId":"mw-e2e"}"#));
        let activity = python_grpc_with(Some(&stack.owner_token()), &[
            &target,
            "portos.integrations.v1.Activity",
            "List",
            &json!({ "agentId": agent }).to_string(),
        ]);
        let entries = activity["response"]["entries"].as_array().unwrap().clone();
        let completed = entries.iter().filter(|e| e["status"] == "completed").count();
        assert!(completed >= 1, "{activity}");
        assert!(entries.iter().all(|e| e["status"] != "failed"), "{activity}");

        // Off over gRPC: no more builds.
        let off = python_grpc_with(Some(&stack.owner_token()), &[
            &target,
            "portos.integrations.v1.Schedules",
            "Toggle",
            &json!({ "id": id, "enabled": false }).to_string(),
        ]);
        assert_eq!(off["response"]["isActive"], Value::Null, "false is left out of proto JSON: {off}");
        let listed = python_grpc_with(Some(&stack.owner_token()), &[&target, "portos.integrations.v1.Schedules", "List"]);
        let runs = listed["response"]["schedules"][0]["runCount"]
            .as_str()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap();
        assert!(runs >= 2, "{listed}");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let after = builds();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(builds(), after, "a disabled schedule does not run");
        let accounts = python_grpc_with(Some(&stack.owner_token()), &[&target, "portos.integrations.v1.Accounts", "List"]);
        answers.push(accounts.to_string());
        assert_eq!(accounts["response"]["accounts"][0]["apiKeyMasked"], "***7d6c");
        // JIRA over gRPC: the instance without its token.
        let (st, i) = api
            .post("/api/jira/instances", json!({ "id": "corp", "name": "Corp", "baseUrl": format!("http://{}/jira", fake.addr),
                "email": "ada@example.com", "apiToken": JIRA_TOKEN }))
            .await;
        assert_eq!(st, 200, "{i}");
        let jira = python_grpc_with(Some(&stack.owner_token()), &[&target, "portos.integrations.v1.Jira", "ListInstances"]);
        assert_eq!(jira["response"]["instances"][0]["hasApiToken"], true, "{jira}");
        answers.push(jira.to_string());

        // One post now; the second within 30 minutes is refused here, also
        // after the api server restarted.
        let post = json!({ "accountId": mb, "title": "Hi", "content": "from e2e" });
        let (st, p) = api.post("/api/agents/tools/publish-post", post.clone()).await;
        assert_eq!(st, 200, "{p}");
        stack.ok(&["restart", "portos-server"]);
        wait_for(Duration::from_secs(20), "the api server back", || {
            (stack.process("portos-server")["state"] == "healthy").then_some(())
        });
        let (st, e) = api.post("/api/agents/tools/publish-post", post).await;
        assert_eq!((st, e["code"].as_str()), (429, Some("RATE_LIMITED")), "{e}");
        assert_eq!(e["context"]["sentToPlatform"], false);
        answers.push(e.to_string());
        let posts = fake.seen.lines("").iter().filter(|l| l.starts_with("POST /mb/posts")).count();
        assert_eq!(posts, 1, "the refused post never reached Moltbook");
    });

    // No key in any answer, nor in any line the supervisor captured.
    let mut logs = String::new();
    for e in std::fs::read_dir(stack.data.join("logs"))
        .unwrap()
        .flatten()
    {
        logs.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
    }
    assert!(
        logs.contains("POST /api/agents/accounts 201"),
        "the api server's request lines are there"
    );
    for key in [MB_KEY, MW_KEY, JIRA_TOKEN] {
        assert!(!logs.contains(key), "{key} in a log");
        assert!(
            !answers.iter().any(|a| a.contains(key)),
            "{key} in an answer"
        );
    }
    stack.ok(&["down"]);
}

#[test]
fn an_agent_writes_its_own_post_with_a_real_model() {
    let llm = LlmServer::start("");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(serve(platforms));
    let (stack, port) = stack(fake.addr);
    rt.block_on(async {
        let api = Api::new(port, &stack.owner_token());
        let (st, p) = api
            .post("/api/providers", json!({ "id": "llama", "name": "Llama", "type": "api", "endpoint": llm.endpoint(), "defaultModel": "smollm2" }))
            .await;
        assert_eq!(st, 201, "{p}");
        let (_, agent) = api
            .post("/api/agents/personalities", json!({ "userId": "me", "name": "Ada", "personality": { "style": "witty", "topics": ["rust", "compilers"] },
                "aiConfig": { "providerId": "llama" } }))
            .await;
        let (_, mb) = api
            .post("/api/agents/accounts", json!({ "agentId": agent["id"], "platform": "moltbook", "status": "active",
                "credentials": { "apiKey": MB_KEY, "username": "ada_bot" } }))
            .await;
        // No title, no content: the agent's provider writes them.
        let (st, post) = api
            .post("/api/agents/tools/publish-post", json!({ "accountId": mb["id"], "submolt": "general" }))
            .await;
        assert_eq!(st, 200, "{post}");
        assert_eq!(post["aiWritten"], true, "{post}");
        let sent = fake
            .seen
            .requests()
            .into_iter()
            .find(|r| r.path == "/mb/posts")
            .expect("the post reached Moltbook");
        let title = sent.body["title"].as_str().unwrap();
        let content = sent.body["content"].as_str().unwrap();
        assert!(!title.trim().is_empty() && !content.trim().is_empty(), "{}", sent.body);
        assert_eq!(post["title"], title);
        // The writing is a run like any other, in the run history.
        let runs = api.get("/api/runs?source=agents").await;
        let run = &runs["runs"][0];
        assert_eq!((run["source"].as_str(), run["providerId"].as_str(), run["success"].as_bool()), (Some("agents"), Some("llama"), Some(true)), "{runs}");
    });
    stack.ok(&["down"]);
}
