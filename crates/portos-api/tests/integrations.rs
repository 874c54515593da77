//! The integrations over REST, in-process, with Moltbook, Moltworld and JIRA
//! faked on 127.0.0.1 after their contracts: accounts (link, register, test,
//! claim), schedules (validation, run, activity), tool routes with the local
//! rate limits, JIRA instances and tickets — and no key or token in any answer
//! or any log line of the api server.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portos_api::guard::{Access, HostPolicy};
use portos_api::{AppState, guarded, router};
use portos_moltbook::Moltbook;
use portos_moltworld::Moltworld;
use portos_ratelimit::{Limiter, SystemClock};
use portos_test_support::{Fake, Incoming, serve};
use serde_json::{Value, json};

#[path = "api/conformance.rs"]
mod conformance;

const MB_KEY: &str = "moltbook_sk_linked_0123456789abcdef";
const MB_NEW_KEY: &str = "moltbook_sk_registered_fedcba9876";
const MB_SUSPENDED: &str = "moltbook_sk_suspended_5555555555";
const MW_KEY: &str = "mw_key_very_secret_424242";
const JIRA_PAT: &str = "NzY1NDMyMTA5ODc2OnNlY3JldHBhdA";

/// Everything the api server logs, from every test in this binary.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || Writer(sink.clone()))
            .init();
        buf
    })
}

struct Writer(Arc<Mutex<Vec<u8>>>);
impl Write for Writer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn platform(r: Incoming) -> Response {
    let p = r.path.as_str();
    let ok = |v: Value| Json(v).into_response();
    match (r.method.as_str(), p) {
        // Moltbook (base /mb).
        ("POST", "/mb/agents/register") => (
            StatusCode::CREATED,
            Json(json!({ "agent": { "api_key": MB_NEW_KEY, "claim_url": "https://www.moltbook.com/claim/abc", "name": r.body["name"] } })),
        )
            .into_response(),
        (_, p) if p.starts_with("/mb/") => match r.bearer() {
            Some(MB_KEY) | Some(MB_NEW_KEY) => match p {
                "/mb/agents/me" => ok(json!({ "agent": { "name": "ada_bot", "is_claimed": true, "karma": 12 } })),
                "/mb/posts" => (StatusCode::CREATED, Json(json!({ "success": true, "post": { "id": "p-1" } }))).into_response(),
                _ => ok(json!({ "success": true, "posts": [] })),
            },
            Some(MB_SUSPENDED) => (
                StatusCode::FORBIDDEN,
                Json(json!({ "success": false, "error": "Your account is suspended" })),
            )
                .into_response(),
            _ => (StatusCode::UNAUTHORIZED, Json(json!({ "success": false, "error": "Invalid API key" }))).into_response(),
        },
        // Moltworld (base /mw).
        ("POST", "/mw/api/agents/register") => ok(json!({ "agentId": "mw-agent-9", "apiKey": MW_KEY })),
        ("GET", "/mw/api/agents/balance") => ok(json!({ "balance": { "sim": 7 } })),
        (_, p) if p.starts_with("/mw/") => ok(json!({ "ok": true, "agents": [] })),
        // JIRA (base /jira).
        (_, p) if p.starts_with("/jira/") => {
            if r.bearer() != Some(JIRA_PAT) {
                return (StatusCode::UNAUTHORIZED, Json(json!({ "errorMessages": ["You are not authenticated."], "errors": {} }))).into_response();
            }
            match (r.method.as_str(), p) {
                ("GET", "/jira/rest/api/2/myself") => ok(json!({ "displayName": "Ada", "emailAddress": "ada@example.com" })),
                ("POST", "/jira/rest/api/2/issue") => (StatusCode::CREATED, Json(json!({ "id": "1", "key": "PORT-9" }))).into_response(),
                ("GET", "/jira/rest/api/2/issue/PORT-9/transitions") => ok(json!({ "transitions": [{ "id": "31", "name": "Done", "to": { "name": "Done" } }] })),
                _ => (StatusCode::NOT_FOUND, Json(json!({ "errorMessages": ["Issue Does Not Exist"], "errors": {} }))).into_response(),
            }
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

struct Server {
    base: String,
    http: reqwest::Client,
    fake: Fake,
    data: tempfile::TempDir,
    /// Every answer's body, to search for secrets at the end.
    bodies: Mutex<Vec<String>>,
}

async fn start() -> Server {
    logs();
    let data = tempfile::tempdir().unwrap();
    let fake = serve(platform).await;
    let clock = Arc::new(SystemClock);
    let limits = data.path().join("agents/rate-limits");
    let platforms = portos_agents::Platforms {
        moltbook: Moltbook::new(
            &format!("http://{}/mb", fake.addr),
            Arc::new(Limiter::new(
                portos_moltbook::limits(),
                limits.join("moltbook.json"),
                clock.clone(),
            )),
            Duration::from_secs(5),
        )
        .unwrap(),
        moltworld: Moltworld::new(
            &format!("http://{}/mw", fake.addr),
            Arc::new(portos_moltworld::limiter(
                limits.join("moltworld.json"),
                clock,
            )),
            Duration::from_secs(5),
        )
        .unwrap(),
    };
    let owner = portos_auth::Owner::new(data.path());
    let token = owner.ensure_token().unwrap();
    let state = AppState::with_platforms(
        PathBuf::from(data.path()),
        HostPolicy::new(Vec::new()),
        Access::new(Some(Arc::new(owner)), None),
        platforms,
    );
    tokio::spawn(
        state
            .agents
            .clone()
            .run(tokio_util::sync::CancellationToken::new()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = guarded(&state, router(state.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server {
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .no_proxy()
            .default_headers(
                [(
                    reqwest::header::AUTHORIZATION,
                    format!("Bearer {token}").parse().unwrap(),
                )]
                .into_iter()
                .collect(),
            )
            .build()
            .unwrap(),
        fake,
        data,
        bodies: Mutex::new(Vec::new()),
    }
}

impl Server {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        self.bodies.lock().unwrap().push(text.clone());
        let body = serde_json::from_str(&text).ok();
        conformance::document().check(method, path, status, body.as_ref());
        (status, body.unwrap_or(Value::Null))
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }
    fn assert_no_secret_left(&self) {
        let bodies = self.bodies.lock().unwrap().join("\n");
        let logs = String::from_utf8_lossy(&logs().lock().unwrap()).to_string();
        assert!(!logs.is_empty(), "the api server logged nothing at all");
        for secret in [MB_KEY, MB_NEW_KEY, MB_SUSPENDED, MW_KEY, JIRA_PAT] {
            assert!(!bodies.contains(secret), "{secret} in an answer");
            assert!(!logs.contains(secret), "{secret} in a log line");
        }
    }
}

async fn agent(s: &Server) -> String {
    let (st, a) = s
        .post(
            "/api/agents/personalities",
            json!({ "userId": "me", "name": "Ada", "personality": { "style": "witty", "topics": ["rust"] }, "avatar": { "emoji": "🦀", "color": "#ff8800" } }),
        )
        .await;
    assert_eq!(st, 201, "{a}");
    a["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn accounts_schedules_and_tools_keep_keys_to_themselves() {
    let s = start().await;
    let agent = agent(&s).await;

    // Link existing credentials: the key comes back as ***+last 4.
    let (st, linked) = s
        .post(
            "/api/agents/accounts",
            json!({ "agentId": agent, "platform": "moltbook", "status": "active",
            "credentials": { "apiKey": MB_KEY, "username": "ada_bot" } }),
        )
        .await;
    assert_eq!(st, 201, "{linked}");
    assert_eq!(linked["credentials"]["apiKey"], "***cdef");
    let mb = linked["id"].as_str().unwrap().to_string();
    // Stored as the original stores it, so an existing data dir keeps working.
    let file = std::fs::read_to_string(s.data.path().join("agents/accounts.json")).unwrap();
    assert!(file.contains(MB_KEY));

    // Bad input names the field; an unknown agent is 404 AGENT_NOT_FOUND.
    let (st, e) = s
        .post("/api/agents/accounts", json!({ "agentId": agent, "platform": "myspace", "credentials": { "apiKey": "x", "username": "y" } }))
        .await;
    assert_eq!(
        (st, e["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "{e}"
    );
    assert!(e["error"].as_str().unwrap().contains("myspace"));
    let (st, e) = s
        .post("/api/agents/accounts", json!({ "agentId": "nobody", "platform": "moltbook", "credentials": { "apiKey": "x", "username": "y" } }))
        .await;
    assert_eq!((st, e["code"].as_str()), (404, Some("AGENT_NOT_FOUND")));

    // Register on Moltbook: pending, with the claim URL; then claim it.
    let (st, reg) = s
        .post("/api/agents/accounts", json!({ "agentId": agent, "platform": "moltbook", "name": "Ada Bot!", "description": "hi" }))
        .await;
    assert_eq!(st, 201, "{reg}");
    assert_eq!(reg["status"], "pending");
    assert_eq!(reg["claimUrl"], "https://www.moltbook.com/claim/abc");
    assert_eq!(reg["credentials"]["apiKey"], "***9876");
    assert!(s.fake.seen.lines("").contains(
        &r#"POST /mb/agents/register {"name":"ada_bot","description":"hi"}"#.to_string()
    ));
    let reg_id = reg["id"].as_str().unwrap();
    let (st, claimed) = s
        .post(&format!("/api/agents/accounts/{reg_id}/claim"), json!({}))
        .await;
    assert_eq!((st, claimed["status"].as_str()), (200, Some("active")));
    let (st, e) = s
        .post(&format!("/api/agents/accounts/{reg_id}/claim"), json!({}))
        .await;
    assert_eq!((st, e["code"].as_str()), (400, Some("INVALID_STATE")));

    // Register on Moltworld: active, with its agent id.
    let (st, mw) = s
        .post(
            "/api/agents/accounts",
            json!({ "agentId": agent, "platform": "moltworld", "name": "Ada" }),
        )
        .await;
    assert_eq!(st, 201, "{mw}");
    assert_eq!(
        (mw["status"].as_str(), mw["credentials"]["agentId"].as_str()),
        (Some("active"), Some("mw-agent-9"))
    );
    let mw_id = mw["id"].as_str().unwrap().to_string();
    let (_, t) = s
        .post(&format!("/api/agents/accounts/{mw_id}/test"), json!({}))
        .await;
    assert_eq!(t["message"], "Connected to Moltworld; SIM balance 7", "{t}");

    // Test: Moltbook says who the key is.
    let (st, t) = s
        .post(&format!("/api/agents/accounts/{mb}/test"), json!({}))
        .await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(
        (t["success"].as_bool(), t["platformStatus"].as_str()),
        (Some(true), Some("active"))
    );

    // A suspended account is found out and marked.
    let (_, bad) = s
        .post(
            "/api/agents/accounts",
            json!({ "agentId": agent, "platform": "moltbook", "status": "active",
            "credentials": { "apiKey": MB_SUSPENDED, "username": "ada_bad" } }),
        )
        .await;
    let bad_id = bad["id"].as_str().unwrap();
    let (st, e) = s
        .post(&format!("/api/agents/accounts/{bad_id}/test"), json!({}))
        .await;
    assert_eq!(
        (st, e["code"].as_str()),
        (403, Some("ACCOUNT_SUSPENDED")),
        "{e}"
    );
    let (_, now) = s.get(&format!("/api/agents/accounts/{bad_id}")).await;
    assert_eq!(now["status"], "suspended");
    // ...and rings the bell once, without the key.
    let mut notes = Value::Null;
    for _ in 0..100 {
        notes = s.get("/api/notifications").await.1;
        if notes.as_array().is_some_and(|n| !n.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(notes[0]["title"], "moltbook suspended ada_bad", "{notes}");
    assert_eq!(notes[0]["metadata"]["accountId"], bad_id);
    assert!(!notes.to_string().contains(MB_SUSPENDED), "{notes}");

    // Listing shows every key masked.
    let (_, all) = s
        .get(&format!("/api/agents/accounts?agentId={agent}"))
        .await;
    assert_eq!(all.as_array().unwrap().len(), 4);
    assert!(all.as_array().unwrap().iter().all(|a| {
        a["credentials"]["apiKey"]
            .as_str()
            .unwrap()
            .starts_with("***")
    }));

    // Schedules: refused with the reason, created active, run, recorded.
    let (st, e) = s
        .post("/api/agents/schedules", json!({ "agentId": agent, "accountId": mw_id,
            "action": { "type": "mw_think" }, "schedule": { "type": "cron", "cron": "0 25 * * *" } }))
        .await;
    assert_eq!((st, e["code"].as_str()), (400, Some("VALIDATION_ERROR")));
    assert!(
        e["error"].as_str().unwrap().contains("schedule.cron"),
        "{e}"
    );
    let (st, e) = s
        .post("/api/agents/schedules", json!({ "agentId": agent, "accountId": mw_id,
            "action": { "type": "post" }, "schedule": { "type": "interval", "intervalMs": 60000 } }))
        .await;
    assert_eq!(st, 400, "a Moltbook action on a Moltworld account: {e}");
    let (st, sched) = s
        .post(
            "/api/agents/schedules",
            json!({ "agentId": agent, "accountId": mw_id,
            "action": { "type": "mw_think", "params": { "thought": "hello world" } },
            "schedule": { "type": "cron", "cron": "0 9 * * *" }, "missedRuns": "runOnce" }),
        )
        .await;
    assert_eq!(st, 201, "{sched}");
    assert_eq!(sched["isActive"], true);
    assert!(
        sched["nextRun"]
            .as_str()
            .unwrap()
            .ends_with("T09:00:00.000Z"),
        "{sched}"
    );
    let sid = sched["id"].as_str().unwrap();
    let (st, run) = s
        .post(&format!("/api/agents/schedules/{sid}/run"), json!({}))
        .await;
    assert_eq!((st, run["run"].as_str()), (200, Some("started")), "{run}");
    let mut done = Value::Null;
    for _ in 0..50 {
        let (_, a) = s.get(&format!("/api/agents/activity/agent/{agent}")).await;
        if a[0]["status"] == "completed" {
            done = a[0].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(done["result"]["thought"], "hello world", "{done}");
    // A change of action must still fit the account's platform.
    let (st, e) = s
        .call(
            "PUT",
            &format!("/api/agents/schedules/{sid}"),
            Some(json!({ "action": { "type": "post" } })),
        )
        .await;
    assert_eq!(
        (st, e["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "{e}"
    );
    let (_, stats) = s.get("/api/agents/schedules/stats").await;
    assert_eq!(
        (stats["total"].as_u64(), stats["totalRuns"].as_u64()),
        (Some(1), Some(1))
    );
    let (st, off) = s
        .post(
            &format!("/api/agents/schedules/{sid}/toggle"),
            json!({ "enabled": false }),
        )
        .await;
    assert_eq!((st, off["isActive"].as_bool()), (200, Some(false)));
    let (st, e) = s
        .post(&format!("/api/agents/schedules/{sid}/run"), json!({}))
        .await;
    assert_eq!((st, e["code"].as_str()), (409, Some("SCHEDULE_DISABLED")));

    // Tools: the second post inside 30 minutes is refused here, not sent.
    let post = json!({ "accountId": mb, "agentId": agent, "title": "Hello", "content": "First!" });
    let (st, p) = s.post("/api/agents/tools/publish-post", post.clone()).await;
    assert_eq!(st, 200, "{p}");
    let (st, e) = s.post("/api/agents/tools/publish-post", post).await;
    assert_eq!((st, e["code"].as_str()), (429, Some("RATE_LIMITED")), "{e}");
    assert_eq!(e["context"]["limit"], "cooldown");
    assert_eq!(e["context"]["sentToPlatform"], false);
    assert!(e["context"]["waitMs"].as_u64().unwrap() > 29 * 60 * 1000);
    let posts = s
        .fake
        .seen
        .lines("")
        .iter()
        .filter(|l| l.starts_with("POST /mb/posts"))
        .count();
    assert_eq!(posts, 1);
    let (_, limits) = s
        .get(&format!("/api/agents/tools/rate-limits?accountId={mb}"))
        .await;
    let p = limits
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["action"] == "post")
        .unwrap()
        .clone();
    assert_eq!(
        (p["todayCount"].as_u64(), p["canAct"].as_bool()),
        (Some(1), Some(false))
    );

    // Deleting the agent takes its accounts and schedules along (the original orphaned them).
    let (st, gone) = s
        .call(
            "DELETE",
            &format!("/api/agents/personalities/{agent}"),
            None,
        )
        .await;
    assert_eq!(st, 200, "{gone}");
    assert_eq!(gone["removed"], json!({ "accounts": 4, "schedules": 1 }));
    let (_, left) = s.get("/api/agents/accounts").await;
    assert_eq!(left, json!([]));
    let (_, left) = s.get("/api/agents/schedules").await;
    assert_eq!(left, json!([]));

    s.assert_no_secret_left();
}

#[tokio::test]
async fn jira_instances_and_tickets_without_the_token() {
    let s = start().await;
    let base = format!("http://{}/jira", s.fake.addr);
    let (st, e) = s
        .post(
            "/api/jira/instances",
            json!({ "id": "office", "name": "Work" }),
        )
        .await;
    assert_eq!((st, e["code"].as_str()), (400, Some("INVALID_INPUT")));
    let (st, i) = s
        .post("/api/jira/instances", json!({ "id": "office", "name": "Work", "baseUrl": base, "email": "ada@example.com", "apiToken": JIRA_PAT,
            "customFields": { "storyPoints": "customfield_10200" } }))
        .await;
    assert_eq!(st, 200, "{i}");
    assert_eq!(i["hasApiToken"], true);
    let stamp = i["tokenUpdatedAt"].clone();
    // An update without the token keeps it (and its stamp), and the custom fields.
    let (_, i) = s
        .post("/api/jira/instances", json!({ "id": "office", "name": "Work JIRA", "baseUrl": base, "email": "ada@example.com" }))
        .await;
    assert_eq!(
        (i["name"].as_str(), &i["tokenUpdatedAt"]),
        (Some("Work JIRA"), &stamp)
    );
    assert_eq!(i["customFields"]["storyPoints"], "customfield_10200");
    let (_, list) = s.get("/api/jira/instances").await;
    assert_eq!(list["instances"]["office"]["hasApiToken"], true);

    let (_, t) = s.post("/api/jira/instances/office/test", json!({})).await;
    assert_eq!(
        (t["success"].as_bool(), t["user"].as_str()),
        (Some(true), Some("Ada")),
        "{t}"
    );
    let (st, c) = s
        .post(
            "/api/jira/instances/office/tickets",
            json!({ "projectKey": "PORT", "summary": "Ship", "storyPoints": 2 }),
        )
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["ticketId"], "PORT-9");
    assert_eq!(c["url"], format!("{base}/browse/PORT-9"));
    let sent = s
        .fake
        .seen
        .requests()
        .into_iter()
        .find(|r| r.path == "/jira/rest/api/2/issue")
        .unwrap();
    assert_eq!(sent.body["fields"]["customfield_10200"], 2.0);
    let (_, tr) = s
        .get("/api/jira/instances/office/tickets/PORT-9/transitions")
        .await;
    assert_eq!(tr, json!([{ "id": "31", "name": "Done", "to": "Done" }]));
    let (st, e) = s
        .post(
            "/api/jira/instances/office/tickets/PORT-9/transition",
            json!({}),
        )
        .await;
    assert_eq!((st, e["code"].as_str()), (400, Some("INVALID_INPUT")));
    let (st, e) = s
        .get("/api/jira/instances/office/tickets/NOPE-1/transitions")
        .await;
    assert_eq!((st, e["code"].as_str()), (404, Some("JIRA_ERROR")), "{e}");
    let (st, e) = s.get("/api/jira/instances/ghost/projects").await;
    assert_eq!((st, e["code"].as_str()), (404, Some("NOT_FOUND")));

    // A wrong token: JIRA's 401 comes through as 401.
    s.post("/api/jira/instances", json!({ "id": "old", "name": "Old", "baseUrl": base, "email": "a@b.c", "apiToken": "stale-token-000" }))
        .await;
    let (st, e) = s.get("/api/jira/instances/old/projects").await;
    assert_eq!((st, e["code"].as_str()), (401, Some("UNAUTHORIZED")), "{e}");

    // An old file's `allowSelfSigned` is not honoured: TLS checks stay on,
    // and the answer says what to do instead.
    let path = s.data.path().join("jira.json");
    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    file["instances"]["office"]["allowSelfSigned"] = json!(true);
    std::fs::write(&path, file.to_string()).unwrap();
    let (st, e) = s.get("/api/jira/instances/office/projects").await;
    assert_eq!((st, e["code"].as_str()), (400, Some("JIRA_CONFIG")), "{e}");
    assert!(e["error"].as_str().unwrap().contains("caCert"), "{e}");
    // A CA that is no certificate is refused when saved, not at the first call.
    let (st, e) = s
        .post("/api/jira/instances", json!({ "id": "office", "name": "Work", "baseUrl": base, "email": "ada@example.com", "caCert": "not a certificate" }))
        .await;
    assert_eq!((st, e["code"].as_str()), (400, Some("JIRA_CONFIG")), "{e}");

    s.assert_no_secret_left();
}

#[tokio::test]
async fn agent_processes_are_listed_and_only_they_can_be_ended() {
    let s = start().await;
    // An "agent": its command line names claude.
    use std::os::unix::process::CommandExt;
    let mut child = std::process::Command::new("sleep")
        .arg0("claude-code-fake")
        .arg("1000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i64;
    let mut found = Value::Null;
    for _ in 0..50 {
        let (_, list) = s.get("/api/agents").await;
        if let Some(p) = list.as_array().unwrap().iter().find(|p| p["pid"] == pid) {
            found = p.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        (found["agentType"].as_str(), found["agentName"].as_str()),
        (Some("claude"), Some("Claude")),
        "{found}"
    );
    assert!(
        found["command"]
            .as_str()
            .unwrap()
            .contains("claude-code-fake")
    );
    let (st, one) = s.get(&format!("/api/agents/{pid}")).await;
    assert_eq!((st, one["pid"].as_i64()), (200, Some(pid)));

    // Not an agent (this test process): left alone, 404; not a pid: 400.
    let me = std::process::id();
    let (st, e) = s.call("DELETE", &format!("/api/agents/{me}"), None).await;
    assert_eq!((st, e["code"].as_str()), (404, Some("NOT_FOUND")), "{e}");
    let (st, e) = s.call("DELETE", "/api/agents/..%2F1", None).await;
    assert_eq!(
        (st, e["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "{e}"
    );

    let (st, r) = s.call("DELETE", &format!("/api/agents/{pid}"), None).await;
    assert_eq!((st, r["success"].as_bool()), (200, Some(true)), "{r}");
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(15),
        "ended by SIGTERM"
    );
}
