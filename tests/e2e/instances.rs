//! Two PortOS instances on loopback, paired with a peer credential (issue
//! 21): B issues one (`portos token --peer`), A adds B with it, and both list
//! each other online with the link mutual; A shows B's apps, health details
//! and live agents; stopping B turns it offline with the reason, starting it
//! again online. Peer calls without a valid credential are refused and leave
//! nothing behind; the query proxy keeps to its allow-list; no credential
//! appears in an answer or a log line.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use portos_e2e::{Stack, free_port, read};
use portos_proto::instances::v1 as pb;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::http::{Api, Ws};

pub(crate) struct One {
    pub stack: Stack,
    pub api: u16,
}

/// A runner and an api server on free ports, peers polled every 2 s.
pub(crate) fn one() -> One {
    one_with_ui(None)
}

/// [`one`], with the UI server on `ui` when given.
pub(crate) fn one_with_ui(ui: Option<u16>) -> One {
    let (api, runner) = (free_port(), free_port());
    let ui_process = ui_process(ui, api);
    let stack = Stack::new(&format!(
        "[[process]]\nname = \"portos-cos\"\ncommand = \"portos-runner\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{runner}\" }}\nports = {{ api = {runner} }}\n\
         health = {{ check = \"grpc\", interval = \"200ms\" }}\n\n\
         [[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\", PORTOS_PROVIDER_CHECK_SECS = \"3600\", PORTOS_INSTANCES_POLL_SECS = \"2\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n{ui_process}"
    ));
    stack.ok(&["up", "-d"]);
    One { stack, api }
}

/// The UI server on `ui` in front of the api server on `api`, as a process
/// of a table (nothing when `ui` is `None`).
pub(crate) fn ui_process(ui: Option<u16>, api: u16) -> String {
    ui.map_or(String::new(), |ui| {
        format!(
            "\n[[process]]\nname = \"portos-ui\"\ncommand = \"portos-ui\"\n\
             env = {{ HOST = \"127.0.0.1\", PORT = \"{ui}\", PORTOS_API_PORT = \"{api}\" }}\n\
             ports = {{ ui = {ui} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n"
        )
    })
}

/// A script that plays an agent on `stack`'s machine: two lines, `pause`
/// seconds apart.
pub(crate) fn agent_script(stack: &Stack, pause: u32) -> std::path::PathBuf {
    let agent = stack.dir.path().join("agent.sh");
    std::fs::write(
        &agent,
        format!("#!/bin/sh\necho 'peer agent: line one'\nsleep {pause}\necho 'peer agent: line two'\nsleep {pause}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    agent
}

async fn until(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<Value>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} within {secs} s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn only_peer(api: &Api) -> Value {
    let all = api.get("/api/instances").await;
    let peers = all["peers"].as_array().cloned().unwrap_or_default();
    assert_eq!(peers.len(), 1, "{all}");
    peers[0].clone()
}

fn mutual(p: &Value) -> bool {
    let d = p["directions"].as_array().cloned().unwrap_or_default();
    p["status"] == "online" && d.contains(&json!("outbound")) && d.contains(&json!("inbound"))
}

/// The next event named `name` on `ws` whose data passes `f`.
async fn event(ws: &mut Ws, name: &str, secs: u64, f: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {name} within {secs} s"))
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["event"] == name && f(&v["data"]) {
                return v["data"].clone();
            }
        }
    }
}

/// A peer call to `port` with `token` (none: no credential at all).
async fn announce(port: u16, token: Option<&str>) -> tonic::Code {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut req = tonic::Request::new(pb::AnnounceRequest {
        instance_id: "7f1a7a52-3e3b-4c0f-9a57-111111111111".into(),
        name: "intruder".into(),
        port: 1,
        token: format!("portos-peer-{}", "0".repeat(64)),
    });
    if let Some(t) = token {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    match pb::peer_client::PeerClient::new(channel)
        .announce(req)
        .await
    {
        Ok(_) => tonic::Code::Ok,
        Err(s) => s.code(),
    }
}

#[test]
fn two_instances_pair_see_each_other_and_refuse_strangers() {
    let (a, b) = (one(), one());
    let agent = agent_script(&b.stack, 1);
    let app_dir = b.stack.dir.path().join("site");
    std::fs::create_dir_all(&app_dir).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (api_a, api_b) = (
            Api::new(a.api, &a.stack.owner_token()),
            Api::new(b.api, &b.stack.owner_token()),
        );
        let (st, app) = api_b
            .post("/api/apps", json!({ "name": "Site", "repoPath": app_dir.display().to_string(), "uiPort": 4321 }))
            .await;
        assert_eq!(st, 201, "{app}");
        let b_self = api_b.get("/api/instances/self").await;

        let revoked = b.stack.ok(&["token", "--peer", "old"]).trim().to_string();
        b.stack.ok(&["token", "--revoke", "old"]);
        // A adds B with the credential B issued.
        let token = b.stack.ok(&["token", "--peer", "laptop"]).trim().to_string();
        assert!(token.starts_with("portos-peer-"), "{token}");
        let mut ws = api_a.ws().await;
        ws.send(Message::Text(r#"{"event":"instances:subscribe"}"#.into()))
            .await
            .unwrap();
        let (st, wrong) = api_a
            .post("/api/instances/peers", json!({ "address": "127.0.0.1", "port": b.api, "token": revoked }))
            .await;
        assert_eq!((st, wrong["code"].clone()), (422, json!("PEER_REFUSED")), "{wrong}");
        assert_eq!(api_a.get("/api/instances").await["peers"], json!([]));
        let (st, added) = api_a
            .post(
                "/api/instances/peers",
                json!({ "address": "127.0.0.1", "port": b.api, "name": "studio", "token": token }),
            )
            .await;
        assert_eq!(st, 201, "{added}");
        assert_eq!(added["status"], "online", "probed at once: {added}");
        assert_eq!(added["needsPairing"], false);
        assert_eq!(added["instanceId"], b_self["instanceId"]);
        assert!(!added.to_string().contains(&token[12..]), "no credential in answers: {added}");
        let peer_id = added["id"].as_str().unwrap().to_string();

        // Both sides online and mutual within a poll.
        let on_a = until("A sees B online and mutual", 10, async || {
            let p = only_peer(&api_a).await;
            mutual(&p).then_some(p)
        })
        .await;
        let on_b = until("B sees A online and mutual", 10, async || {
            let p = only_peer(&api_b).await;
            mutual(&p).then_some(p)
        })
        .await;
        assert_eq!(on_b["instanceId"], api_a.get("/api/instances/self").await["instanceId"]);
        assert_eq!(on_b["port"], a.api, "{on_b}");
        // B's health details and apps, as A keeps them.
        let health = &on_a["lastHealth"];
        assert!(health["system"]["memory"]["usagePercent"].is_number(), "{health}");
        assert_eq!(health["instanceId"], b_self["instanceId"]);
        let site = on_a["lastApps"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["name"] == "Site"))
            .unwrap_or_else(|| panic!("B's app on A: {on_a}"));
        assert_eq!(site["uiPort"], 4321, "{on_a}");
        assert_eq!(site.as_object().unwrap().len(), 7, "the display fields only");

        // The query proxy: an allow-listed read route answers, others do not.
        let h = api_a
            .get(&format!("/api/instances/peers/{peer_id}/query?path=/api/system/health"))
            .await;
        assert_eq!(h["instanceId"], b_self["instanceId"], "{h}");
        for bad in ["/api/providers", "/api/settings", "/api/apps/../providers"] {
            let (st, e) = api_a
                .call(
                    reqwest::Method::GET,
                    &format!("/api/instances/peers/{peer_id}/query?path={bad}"),
                    None,
                )
                .await;
            assert_eq!((st, e["code"].clone()), (403, json!("PATH_NOT_ALLOWED")), "{bad}: {e}");
        }

        // An agent on B's runner: its start and output reach A's socket.
        let (st, p) = api_b
            .post(
                "/api/providers",
                json!({ "id": "script", "name": "script", "type": "cli", "command": agent.display().to_string() }),
            )
            .await;
        assert_eq!(st, 201, "{p}");
        let (st, run) = api_b
            .post("/api/runs", json!({ "providerId": "script", "prompt": "hello" }))
            .await;
        assert_eq!(st, 202, "{run}");
        let spawned = event(&mut ws, "instances:peer:agent:spawned", 20, |d| d["peerId"] == peer_id.as_str()).await;
        assert_eq!(spawned["agent"]["state"], "running", "{spawned}");
        let line = event(&mut ws, "instances:peer:agent:output", 20, |d| {
            d["line"].as_str().is_some_and(|l| l.contains("line one"))
        })
        .await;
        assert_eq!(line["agentId"], spawned["agent"]["id"], "{line}");
        event(&mut ws, "instances:peer:agent:completed", 20, |d| d["peerId"] == peer_id.as_str()).await;

        // B stops: offline with the reason at the next poll; back: online.
        b.stack.ok(&["stop", "portos-server"]);
        let off = until("A sees B offline", 10, async || {
            let p = only_peer(&api_a).await;
            (p["status"] == "offline").then_some(p)
        })
        .await;
        assert!(off["lastError"].as_str().is_some_and(|e| !e.is_empty()), "{off}");
        assert!(off["lastHealth"].is_object(), "what it last said is kept: {off}");
        b.stack.ok(&["start", "portos-server"]);
        until("A sees B online again", 15, async || {
            let p = only_peer(&api_a).await;
            (p["status"] == "online").then_some(p)
        })
        .await;

        // Removing B revokes B's way back: B's calls to A are refused now.
        let (st, _) = api_a
            .call(reqwest::Method::DELETE, &format!("/api/instances/peers/{peer_id}"), None)
            .await;
        assert_eq!(st, 200);
        let on_b = until("B sees A refuse it", 10, async || {
            let p = only_peer(&api_b).await;
            (p["status"] == "offline").then_some(p)
        })
        .await;
        assert!(on_b["lastError"].as_str().unwrap().contains("refused"), "{on_b}");

        // Strangers: no credential, a made-up one, the owner's own.
        assert_eq!(announce(b.api, None).await, tonic::Code::Unauthenticated);
        assert_eq!(
            announce(b.api, Some(&format!("portos-peer-{}", "1".repeat(64)))).await,
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            announce(b.api, Some(&b.stack.owner_token())).await,
            tonic::Code::Unauthenticated,
            "the owner token is not a peer credential"
        );
        // A revoked credential.
        assert_eq!(announce(b.api, Some(&revoked)).await, tonic::Code::Unauthenticated);
        let after = api_b.get("/api/instances").await["peers"].clone();
        assert_eq!(after.as_array().unwrap().len(), 1, "nothing stored: {after}");
        assert!(!after.to_string().contains("intruder"), "{after}");

        // The refusals are logged with the caller's address; no credential in any log.
        let logs: String = std::fs::read_dir(b.stack.data.join("logs"))
            .unwrap()
            .flatten()
            .map(|e| read(&e.path()))
            .collect();
        assert!(
            logs.contains("peer call refused") && logs.contains("127.0.0.1"),
            "refusals logged with the caller's address"
        );
        for l in [a.stack.data.join("logs"), b.stack.data.join("logs")] {
            for e in std::fs::read_dir(l).unwrap().flatten() {
                let text = read(&e.path());
                assert!(!text.contains(&token[12..]), "a credential in {}", e.path().display());
                assert!(!text.contains(&revoked[12..]), "a credential in {}", e.path().display());
            }
        }
        let stored = read(&a.stack.data.join("instances.json")) + &read(&b.stack.data.join("instances.json"));
        assert!(!stored.contains("portos-peer-"), "no credential in instances.json");
    });
}
