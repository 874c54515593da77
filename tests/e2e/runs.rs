//! AI runs end to end: the api server and the runner under the real
//! supervisor, a real OpenAI-compatible server (llama.cpp serving a small
//! model) for API providers, small scripts for CLI providers.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use portos_e2e::{LlmServer, Stack, connections_to, free_port, wait_for};

use crate::http::{Api, Ws};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// The runner and the api server, the api server pointed at the runner.
fn stack() -> (Stack, u16) {
    let (api, runner) = (free_port(), free_port());
    let stack = Stack::new(&format!(
        "[[process]]\nname = \"portos-cos\"\ncommand = \"portos-runner\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{runner}\" }}\nports = {{ api = {runner} }}\n\
         health = {{ check = \"grpc\", interval = \"200ms\" }}\n\n\
         [[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\", PORTOS_RUNNER_URL = \"http://127.0.0.1:{runner}\", PORTOS_PROVIDER_CHECK_SECS = \"3600\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n"
    ));
    stack.ok(&["up", "-d"]);
    (stack, api)
}

trait RunsApi {
    async fn run(&self, provider: &str, prompt: &str) -> String;
}

impl RunsApi for Api {
    async fn run(&self, provider: &str, prompt: &str) -> String {
        let (st, body) = self
            .post(
                "/api/runs",
                json!({ "providerId": provider, "prompt": prompt }),
            )
            .await;
        assert_eq!(st, 202, "{body}");
        body["runId"].as_str().unwrap().to_string()
    }
}

/// The next event from the live socket.
async fn next(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(120), ws.next())
            .await
            .expect("an event within two minutes")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

/// The data events of run `id` until its completion, and the final metadata.
async fn until_complete(ws: &mut Ws, id: &str) -> (Vec<String>, Value) {
    let mut data = Vec::new();
    loop {
        let e = next(ws).await;
        if e["event"] == format!("run:{id}:data") {
            data.push(e["data"].as_str().expect("a string piece").to_string());
        } else if e["event"] == format!("run:{id}:complete") {
            return (data, e["data"].clone());
        }
    }
}

#[test]
fn api_runs_stream_stop_report_and_fall_back() {
    let llm = LlmServer::start("test-key-0123456789");
    let (stack, port) = stack();
    let closed = free_port();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let api = Api::new(port, &stack.owner_token());
        for p in [
            json!({ "id": "llama", "name": "Llama", "type": "api", "endpoint": llm.endpoint(), "apiKey": llm.api_key, "defaultModel": "smollm2" }),
            json!({ "id": "llama-badkey", "name": "Llama, wrong key", "type": "api", "endpoint": llm.endpoint(), "apiKey": "wrong-key-000000000" }),
            json!({ "id": "dead", "name": "Dead", "type": "api", "endpoint": format!("http://127.0.0.1:{closed}/v1"), "fallbackProvider": "llama" }),
        ] {
            let (st, body) = api.post("/api/providers", p).await;
            assert_eq!(st, 201, "{body}");
        }
        let mut ws = api.ws().await;
        ws.send(Message::Text(r#"{"event":"errors:subscribe"}"#.into())).await.unwrap();

        // Streamed: pieces arrive before the end, and add up to the output.
        let id = api.run("llama", "Count from 1 to 30, one number per line.").await;
        let (pieces, done) = until_complete(&mut ws, &id).await;
        assert!(pieces.len() >= 2, "streamed in pieces: {pieces:?}");
        assert_eq!(done["success"], true, "{done}");
        assert_eq!(done["providerId"], "llama");
        let run = api.get(&format!("/api/runs/{id}")).await;
        assert_eq!((run["isActive"].as_bool(), run["exitCode"].as_i64()), (Some(false), Some(0)));
        assert_eq!(api.text(&format!("/api/runs/{id}/output")).await, pieces.concat());
        assert_eq!(run["outputSize"].as_u64(), Some(pieces.concat().len() as u64));

        // A wrong key: a clear provider error, on the errors channel too.
        let id = api.run("llama-badkey", "Say hi.").await;
        let mut notified = None;
        let done = loop {
            let e = next(&mut ws).await;
            if e["event"] == "error:notified" {
                notified = Some(e["data"].clone());
            }
            if e["event"] == format!("run:{id}:complete") {
                break e["data"].clone();
            }
        };
        assert_eq!(
            (done["success"].as_bool(), done["errorCategory"].as_str(), done["error"].as_str()),
            (Some(false), Some("auth-error"), Some("Authentication failed (401)")),
            "{done}"
        );
        let notified = match notified {
            Some(n) => n,
            None => loop {
                let e = next(&mut ws).await;
                if e["event"] == "error:notified" {
                    break e["data"].clone();
                }
            },
        };
        assert_eq!(notified["code"], "AI_PROVIDER_EXECUTION_FAILED", "{notified}");
        assert_eq!(notified["context"]["runId"], id.as_str());
        assert!(!notified.to_string().contains("wrong-key"), "no key in the event");

        // A dead provider falls back to the next, and says so.
        let id = api.run("dead", "Say hello.").await;
        let (_, done) = until_complete(&mut ws, &id).await;
        assert_eq!(done["success"], true, "{done}");
        assert_eq!(
            (done["providerId"].as_str(), done["originalProviderId"].as_str(), done["usedFallback"].as_bool()),
            (Some("llama"), Some("dead"), Some(true))
        );
        assert_eq!(done["fallbackHops"][0]["providerId"], "dead");
        assert_eq!(done["fallbackHops"][0]["errorCategory"], "network-error");

        // Stopped mid-stream: the connection to the model server is closed.
        let api_pid = stack.pid_of("portos-server").unwrap();
        let id = api
            .run("llama", "Write a very long story about a dragon and a knight, at least 1500 words, with many chapters.")
            .await;
        loop {
            let e = next(&mut ws).await;
            if e["event"] == format!("run:{id}:data") {
                break;
            }
        }
        assert_eq!(connections_to(api_pid, llm.port), 1, "the stream is open");
        let (st, body) = api.post(&format!("/api/runs/{id}/stop"), json!({})).await;
        assert_eq!((st, body["success"].as_bool()), (200, Some(true)), "{body}");
        let run = api.get(&format!("/api/runs/{id}")).await;
        assert_eq!(
            (run["success"].as_bool(), run["stopped"].as_bool(), run["isActive"].as_bool()),
            (Some(false), Some(true), Some(false)),
            "{run}"
        );
        wait_for(Duration::from_secs(5), "the model server's connection closed", || {
            (connections_to(api_pid, llm.port) == 0).then_some(())
        });
        let (st, _) = api.post(&format!("/api/runs/{id}/stop"), json!({})).await;
        assert_eq!(st, 404, "not active any more");

        let usage: Value =
            serde_json::from_str(&std::fs::read_to_string(stack.data.join("usage.json")).unwrap())
                .unwrap();
        assert_eq!(usage["byProvider"]["llama"]["sessions"], 2, "{usage}");
        // Sessions count where a run was asked (the fallback's on `dead`),
        // messages where it was answered (the fallback's on `llama`).
        assert_eq!(usage["byProvider"]["dead"]["sessions"], 1, "{usage}");
        assert_eq!(usage["byProvider"]["llama"]["messages"], 2, "{usage}");
        assert_eq!(usage["totalMessages"], 2, "{usage}");
        let listed = api.get("/api/runs").await;
        assert_eq!(listed["total"], 4);
    });
}

#[test]
fn cli_runs_go_through_the_runner_and_outlive_an_api_restart() {
    let (stack, port) = stack();
    let script = stack.dir.path().join("agent.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nread -r prompt\necho \"prompt: $prompt\"\nfor i in 1 2 3 4 5 6 7 8; do echo \"step $i\"; sleep 0.25; done\n",
    )
    .unwrap();
    let long = stack.dir.path().join("long.sh");
    std::fs::write(&long, "#!/bin/sh\necho started\nexec sleep 1000\n").unwrap();
    for f in [&script, &long] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let api = Api::new(port, &stack.owner_token());
        for (id, cmd) in [("script-agent", &script), ("long-agent", &long)] {
            let (st, body) = api
                .post(
                    "/api/providers",
                    json!({ "id": id, "name": id, "type": "cli", "command": cmd }),
                )
                .await;
            assert_eq!(st, 201, "{body}");
        }
        let mut ws = api.ws().await;
        let id = api.run("script-agent", "fix the bug").await;
        let first = loop {
            let e = next(&mut ws).await;
            if e["event"] == format!("run:{id}:data") {
                break e["data"].as_str().unwrap().to_string();
            }
        };
        assert!(first.starts_with("prompt: fix the bug"), "{first:?}");
        let runner_pid = stack.pid_of("portos-cos").unwrap();

        // The api server restarts in the middle of the run.
        stack.ok(&["restart", "portos-server"]);
        let api_back = wait_for(Duration::from_secs(20), "the api server back", || {
            let p = stack.process("portos-server");
            (p["state"] == "healthy").then_some(p)
        });
        assert_eq!(api_back["restarts"], 1);
        let run = loop {
            let run = api.get(&format!("/api/runs/{id}")).await;
            if !run["endTime"].is_null() {
                break run;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(run["success"], true, "{run}");
        let output = api.text(&format!("/api/runs/{id}/output")).await;
        let expected: String = std::iter::once("prompt: fix the bug\n".to_string())
            .chain((1..=8).map(|i| format!("step {i}\n")))
            .collect();
        assert_eq!(output, expected, "every line, once, in order");
        assert_eq!(
            stack.pid_of("portos-cos"),
            Some(runner_pid),
            "the runner never restarted"
        );

        // The same operations through gRPC, with a client generated from proto/.
        use portos_proto::api::v1 as pb;
        let channel = tonic::transport::Endpoint::from_shared(api.base.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut grpc = pb::runs_client::RunsClient::with_interceptor(
            channel,
            portos_rt::internal::Auth::new(Some(&stack.owner_token())),
        );
        let made = grpc
            .create(pb::CreateRunRequest {
                provider_id: "script-agent".into(),
                prompt: "via grpc".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(made.active, "{made:?}");
        let mut out = grpc
            .output(pb::RunOutputRequest {
                id: made.id.clone(),
                follow: true,
                from_offset: 0,
            })
            .await
            .unwrap()
            .into_inner();
        let mut streamed = String::new();
        let mut pieces = 0;
        while let Some(c) = out.message().await.unwrap() {
            streamed.push_str(&c.text);
            pieces += 1;
        }
        assert!(pieces >= 2, "followed in pieces: {pieces}");
        assert!(
            streamed.starts_with("prompt: via grpc\nstep 1\n"),
            "{streamed:?}"
        );
        assert!(streamed.ends_with("step 8\n"), "{streamed:?}");
        let got = grpc
            .get(pb::RunRequest {
                id: made.id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!((got.success, got.active), (Some(true), false));
        let listed = grpc
            .list(pb::ListRunsRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.total, 2);
        assert_eq!(listed.runs[0].id, made.id, "newest first");
        let e = grpc
            .stop(pb::RunRequest {
                id: made.id.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::NotFound);
        for (id, code) in [
            ("../x", tonic::Code::InvalidArgument),
            ("nope", tonic::Code::NotFound),
        ] {
            let e = grpc
                .get(pb::RunRequest { id: id.into() })
                .await
                .unwrap_err();
            assert_eq!(e.code(), code, "{id}");
        }
        grpc.delete(pb::RunRequest {
            id: made.id.clone(),
        })
        .await
        .unwrap();
        let (gone, _) = api
            .call(
                reqwest::Method::GET,
                &format!("/api/runs/{}", made.id),
                None,
            )
            .await;
        assert_eq!(gone, 404);

        // A CLI run can be stopped: its process is gone.
        let mut ws = api.ws().await;
        let id = api.run("long-agent", "wait").await;
        loop {
            let e = next(&mut ws).await;
            if e["event"] == format!("run:{id}:data") {
                break;
            }
        }
        let (st, _) = api.post(&format!("/api/runs/{id}/stop"), json!({})).await;
        assert_eq!(st, 200);
        let run = api.get(&format!("/api/runs/{id}")).await;
        assert_eq!(
            (run["stopped"].as_bool(), run["success"].as_bool()),
            (Some(true), Some(false)),
            "{run}"
        );
        let sleeping = || {
            stack
                .descendants()
                .into_iter()
                .filter(|p| {
                    std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                        .is_ok_and(|c| c.starts_with("sleep"))
                })
                .collect::<Vec<_>>()
        };
        assert!(
            sleeping().is_empty(),
            "no agent process left: {:?}",
            sleeping()
        );
    });
}

#[test]
fn lm_studio_routes_talk_to_an_openai_compatible_server() {
    let llm = LlmServer::start("");
    let (stack, port) = stack();
    let closed = free_port();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let api = Api::new(port, &stack.owner_token());
        let put = |body: Value| api.put("/api/lmstudio/config", body);
        let base = format!("http://127.0.0.1:{}", llm.port);
        let (st, body) = put(json!({ "baseUrl": base })).await;
        assert_eq!(
            (st, body["config"]["baseUrl"].as_str()),
            (200, Some(base.as_str())),
            "{body}"
        );
        let settings: Value = serde_json::from_str(
            &std::fs::read_to_string(stack.data.join("settings.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            settings["lmStudio"]["baseUrl"],
            base.as_str(),
            "kept across restarts"
        );

        let status = api.get("/api/lmstudio/status").await;
        assert_eq!(
            (
                status["available"].as_bool(),
                status["loadedModels"].as_u64()
            ),
            (Some(true), Some(1)),
            "{status}"
        );
        assert!(
            status["recommendedThinkingModel"]
                .as_str()
                .unwrap()
                .ends_with(".gguf"),
            "{status}"
        );
        let models = api.get("/api/lmstudio/models").await;
        assert_eq!(models["count"], 1, "{models}");
        assert!(
            models["models"][0].get("ownedBy").is_some(),
            "the /v1 form: {models}"
        );

        let (st, done) = api
            .post(
                "/api/lmstudio/completion",
                json!({ "prompt": "Say hello.", "maxTokens": 16 }),
            )
            .await;
        assert_eq!(st, 200);
        assert_eq!(done["success"], true, "{done}");
        assert!(!done["content"].as_str().unwrap().is_empty(), "{done}");
        assert!(
            done["usage"]["completion_tokens"].as_u64().unwrap() > 0,
            "{done}"
        );

        // Task analysis by the local model: its judgement when it gives JSON,
        // the keyword estimate (with its raw reply) when it does not.
        let (st, a) = api
            .post(
                "/api/lmstudio/analyze-task",
                json!({ "description": "Rename a variable" }),
            )
            .await;
        assert_eq!(st, 200, "{a}");
        let c = a["complexity"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&c), "{a}");
        assert!(
            a["localAnalysis"] == true || a["rawResponse"].is_string(),
            "{a}"
        );
        assert_eq!(
            api.get("/api/lmstudio/thinking-stats").await["localAnalyses"],
            1
        );

        // LM Studio's own model management is not in a plain OpenAI server: a clear failure.
        let (st, load) = api
            .post("/api/lmstudio/load", json!({ "modelId": "other" }))
            .await;
        assert_eq!((st, load["success"].as_bool()), (200, Some(false)));
        assert!(
            load["error"]
                .as_str()
                .unwrap()
                .starts_with("LM Studio API error: 404"),
            "{load}"
        );
        let (st, _) = api.post("/api/lmstudio/load", json!({})).await;
        assert_eq!(st, 400);

        // Pointed at nothing: unavailable, with the reason, and models is a 503.
        let (st, _) = put(json!({ "baseUrl": format!("http://127.0.0.1:{closed}") })).await;
        assert_eq!(st, 200);
        let status = api.get("/api/lmstudio/status").await;
        assert_eq!(status["available"], false, "{status}");
        assert!(
            status["lastError"]
                .as_str()
                .unwrap()
                .contains("not reachable"),
            "{status}"
        );
        let (st, _) = api
            .call(reqwest::Method::GET, "/api/lmstudio/models", None)
            .await;
        assert_eq!(st, 503);
        let (st, _) = put(json!({ "baseUrl": "file:///etc" })).await;
        assert_eq!(st, 400);
    });
}
