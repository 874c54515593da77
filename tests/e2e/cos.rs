//! The chief of staff through the real binaries. The coding agent is a
//! script we control: it reads its briefing on stdin, prints progress,
//! appends `done <task>` to `notes.txt` in the folder it was started in and
//! ends with the briefing's Task Summary — or fails (`FAIL` in the task),
//! takes its time (`SLOW <s>`), or takes 20 s the first time only
//! (`SLOW_ONCE`). A task added over REST becomes an agent spawned through
//! the runner, its output on the `cos` channel, the file edited, the task
//! `completed` in TASKS.md, a learning record and the day's report; an api
//! server restart mid-agent records it completed once; a failing agent is
//! retried to the cap, then blocked with the reason; a hand edit of TASKS.md
//! is picked up; lanes cap the agents the runner runs; `kill -9` of the
//! runner mid-agent leaves it lost and its task pending once; a worktree
//! task leaves its edit on its own branch.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use portos_e2e::{Stack, free_port};
use portos_proto::runner::v1 as pb;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::http::{Api, Ws};

const AGENT: &str = r#"#!/bin/sh
brief=$(cat)
dir=$(dirname "$0")
id=$(printf '%s\n' "$brief" | sed -n 's/^- Task: \([^ ]*\) .*/\1/p' | head -1)
mkdir -p "$dir/briefings"
printf '%s' "$brief" > "$dir/briefings/$id.$$.txt"
echo "agent: read the briefing of $id"
case "$brief" in *FAIL*) echo "agent: cannot do this" >&2; exit 1;; esac
case "$brief" in *SLOW_ONCE*) if [ ! -e "$dir/slow-once-$id" ]; then touch "$dir/slow-once-$id"; sleep 20; fi;; esac
slow=$(printf '%s\n' "$brief" | sed -n 's/.*SLOW \([0-9][0-9]*\).*/\1/p' | head -1)
echo "agent: editing notes.txt"
if [ -n "$slow" ]; then sleep "$slow"; fi
echo "done $id" >> notes.txt
echo "agent: finished"
printf '## Task Summary\n- **Status**: completed\n- **Changes Made**: notes.txt\n'
"#;

pub(crate) struct CosStack {
    pub stack: Stack,
    pub api: u16,
    pub runner: u16,
    pub repo: PathBuf,
}

/// The runner and the api server, an app `demo` (a git repository) and the
/// agent script as the active provider. `ui`: the UI server's port, if wanted.
pub(crate) fn cos_stack(ui: Option<u16>) -> CosStack {
    let (api, runner) = (free_port(), free_port());
    let ui_process = crate::instances::ui_process(ui, api);
    let stack = Stack::new(&format!(
        "[[process]]\nname = \"portos-cos\"\ncommand = \"portos-runner\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{runner}\" }}\nports = {{ api = {runner} }}\n\
         health = {{ check = \"grpc\", interval = \"200ms\" }}\nmin_uptime = \"200ms\"\n\n\
         [[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\", PORTOS_PROVIDER_CHECK_SECS = \"3600\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\nmin_uptime = \"200ms\"\n{ui_process}"
    ));
    let repo = stack.dir.path().join("demo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("notes.txt"), "notes\n").unwrap();
    portos_test_support::git(&repo, &["init", "-q", "-b", "main"]);
    portos_test_support::git(&repo, &["add", "."]);
    portos_test_support::git(&repo, &["commit", "-q", "-m", "notes"]);
    std::fs::create_dir_all(&stack.data).unwrap();
    std::fs::write(
        stack.data.join("apps.json"),
        json!({"apps": {"demo": {"id": "demo", "name": "Demo", "repoPath": repo, "type": "other"}}}).to_string(),
    )
    .unwrap();
    let agent = stack.dir.path().join("agent.sh");
    std::fs::write(&agent, AGENT).unwrap();
    std::fs::set_permissions(&agent, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    stack.ok(&["up", "-d"]);
    CosStack {
        stack,
        api,
        runner,
        repo,
    }
}

impl CosStack {
    pub(crate) fn client(&self) -> Api {
        Api::new(self.api, &self.stack.owner_token())
    }

    /// The agent script as the active provider, fast evaluation and retries, the CoS started.
    pub(crate) async fn ready(&self, api: &Api, config: Value) {
        let agent = self.stack.dir.path().join("agent.sh");
        let (st, body) = api
            .post("/api/providers", json!({"id": "script-agent", "name": "Script agent", "type": "cli", "command": agent}))
            .await;
        assert_eq!(st, 201, "{body}");
        let (st, body) = api
            .put("/api/providers/active", json!({"id": "script-agent"}))
            .await;
        assert_eq!(st, 200, "{body}");
        let mut cfg = json!({"evaluationIntervalMs": 1000, "retryBackoffMs": 500});
        for (k, v) in config.as_object().unwrap() {
            cfg[k] = v.clone();
        }
        let (st, body) = api.put("/api/cos/config", cfg).await;
        assert_eq!(st, 200, "{body}");
        let (st, body) = api.post("/api/cos/start", json!({})).await;
        assert_eq!(st, 200, "{body}");
    }

    pub(crate) fn tasks_md(&self) -> String {
        std::fs::read_to_string(self.stack.data.join("TASKS.md")).unwrap_or_default()
    }
}

pub(crate) async fn add(api: &Api, body: Value) -> String {
    let (st, t) = api.post("/api/cos/tasks", body).await;
    assert_eq!(st, 201, "{t}");
    t["id"].as_str().unwrap().to_string()
}

pub(crate) async fn until(
    what: &str,
    secs: u64,
    mut f: impl AsyncFnMut() -> Option<Value>,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} within {secs} s");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// The task as the api answers it.
pub(crate) async fn task(api: &Api, id: &str) -> Value {
    let all = api.get("/api/cos/tasks").await;
    for q in ["user", "cos"] {
        if let Some(t) = all[q]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
        {
            return t.clone();
        }
    }
    panic!("no task {id} in {all}");
}

/// The agents of a task.
async fn agents_of(api: &Api, task: &str) -> Vec<Value> {
    api.get("/api/cos/agents")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["taskId"] == task)
        .cloned()
        .collect()
}

async fn subscribe(api: &Api) -> Ws {
    let mut ws = api.ws().await;
    ws.send(Message::Text(r#"{"event":"cos:subscribe"}"#.into()))
        .await
        .unwrap();
    ws
}

/// The next event of the socket whose name is `event` and which `f` accepts.
async fn event(ws: &mut Ws, event: &str, secs: u64, f: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, ws.next())
            .await
            .unwrap_or_else(|_| panic!("{event} within {secs} s"))
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["event"] == event && f(&v["data"]) {
                return v["data"].clone();
            }
        }
    }
}

fn git_out(repo: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_task_runs_through_the_runner_to_completed_and_survives_an_api_restart() {
    let s = cos_stack(None);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let api = s.client();
        s.ready(&api, json!({"maxRetries": 2})).await;
        let mut ws = subscribe(&api).await;
        let id = add(&api, json!({"description": "Add a greeting to notes.txt (SLOW 4)", "app": "demo", "context": "Be brief."})).await;
        // Its output arrives while it runs, as deltas.
        let out = event(&mut ws, "cos:agent:output", 20, |d| d["line"].as_str().is_some_and(|l| l.contains("agent: editing notes.txt"))).await;
        let agent = out["agentId"].as_str().unwrap().to_string();
        let running = task(&api, &id).await;
        assert_eq!(running["status"], "in_progress", "{running}");
        let health = api.get("/api/system/health/details").await;
        assert_eq!(health["cos"]["running"], true, "{health}");
        assert_eq!(health["cos"]["activeAgents"], 1, "{health}");
        let stats = api.get(&format!("/api/cos/agents/{agent}/stats")).await;
        assert_eq!(stats["active"], true, "{stats}");
        let pid = stats["pid"].as_u64().unwrap() as i32;
        assert!(portos_e2e::alive(pid), "the runner's agent process {pid}");
        assert!(stats["memoryBytes"].as_u64().unwrap() > 0, "{stats}");
        // The api server restarts while the agent works.
        s.stack.ok(&["restart", "portos-server"]);
        let api = s.client();
        let done = until("the task completed", 40, async || {
            let t = task(&api, &id).await;
            (t["status"] == "completed").then_some(t)
        })
        .await;
        assert!(s.tasks_md().contains(&format!("- [x] #{id} | MEDIUM | Add a greeting")), "{}", s.tasks_md());
        assert_eq!(done["metadata"]["context"], "Be brief.");
        let notes = std::fs::read_to_string(s.repo.join("notes.txt")).unwrap();
        assert_eq!(notes.matches(&format!("done {id}")).count(), 1, "{notes}");
        // Recorded once, as what it was.
        let a = api.get(&format!("/api/cos/agents/{agent}")).await;
        assert_eq!(a["status"], "completed", "{a}");
        let stats = api.get(&format!("/api/cos/agents/{agent}/stats")).await;
        assert_eq!(stats, json!({"agentId": agent, "active": false, "pid": null}));
        assert_eq!(a["result"]["success"], true, "{a}");
        assert!(a["output"].as_array().unwrap().iter().any(|l| l["line"] == "agent: finished"), "{a}");
        assert_eq!(agents_of(&api, &id).await.len(), 1);
        let learning = api.get("/api/cos/learning").await;
        let records: Vec<&Value> = learning["records"].as_array().unwrap().iter().filter(|r| r["agentId"] == agent.as_str()).collect();
        assert_eq!(records.len(), 1, "{learning}");
        assert_eq!(records[0]["outcome"], "succeeded");
        assert_eq!(records[0]["providerId"], "script-agent");
        let report = api.get("/api/cos/reports/today").await;
        let listed: Vec<&Value> = report["agents"].as_array().unwrap().iter().filter(|r| r["id"] == agent.as_str()).collect();
        assert_eq!(listed.len(), 1, "{report}");
        assert!(report["summary"]["tasksCompleted"].as_u64().unwrap() >= 1);
        // The briefing named the task, the app's folder and its context.
        let brief = std::fs::read_dir(s.stack.dir.path().join("briefings")).unwrap().flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with(&id)).map(|e| std::fs::read_to_string(e.path()).unwrap()).unwrap();
        assert!(brief.contains("Add a greeting to notes.txt") && brief.contains(&s.repo.display().to_string()) && brief.contains("Be brief."), "{brief}");

        // The same over gRPC (portos.cos.v1), from a client we did not write.
        let addr = format!("127.0.0.1:{}", s.api);
        let owner = s.stack.owner_token();
        let listed = portos_e2e::python_grpc_with(Some(&owner), &[&addr, "portos.cos.v1.ChiefOfStaff", "ListTasks", r#"{"taskType":"user"}"#]);
        let mine = listed["response"]["tasks"].as_array().unwrap().iter().find(|t| t["id"] == id.as_str()).cloned().unwrap();
        assert_eq!(mine["status"], "completed", "{listed}");
        let meta: Value = serde_json::from_str(mine["metadataJson"].as_str().unwrap()).unwrap();
        assert_eq!(meta["app"], "demo");
        let got = portos_e2e::python_grpc_with(Some(&owner), &[&addr, "portos.cos.v1.ChiefOfStaff", "GetAgent", &json!({"id": agent}).to_string()]);
        assert_eq!(got["response"]["status"], "completed", "{got}");
        let bad = portos_e2e::python_grpc_with(Some(&owner), &[&addr, "portos.cos.v1.ChiefOfStaff", "AddTask", r#"{"taskJson":"{\"priority\":\"HIGH\"}"}"#]);
        assert_eq!(bad["error"]["code"], "INVALID_ARGUMENT", "{bad}");
        let anon = portos_e2e::python_grpc(&[&addr, "portos.cos.v1.ChiefOfStaff", "ListTasks"]);
        assert_eq!(anon["error"]["code"], "UNAUTHENTICATED", "{anon}");

        // A failing agent: retried to the cap (2), then blocked with the reason.
        let mut ws = subscribe(&api).await;
        let bad = add(&api, json!({"description": "FAIL on purpose", "app": "demo"})).await;
        let blocked = until("the failing task blocked", 40, async || {
            let t = task(&api, &bad).await;
            (t["status"] == "blocked").then_some(t)
        })
        .await;
        let reason = blocked["metadata"]["blockedReason"].as_str().unwrap();
        assert!(reason.starts_with("failed 2 times"), "{blocked}");
        let attempts = agents_of(&api, &bad).await;
        assert_eq!(attempts.len(), 2, "{attempts:?}");
        assert!(attempts.iter().all(|a| a["result"]["success"] == false));
        let book: Value = serde_json::from_str(&std::fs::read_to_string(s.stack.data.join("cos/task-book.json")).unwrap()).unwrap();
        assert_eq!(book[&bad]["failureCount"], 2, "{book}");
        assert!(!s.tasks_md().contains("FailureCount"), "bookkeeping stays out of the Markdown");

        // A task written into TASKS.md by hand is seen and run.
        let before = s.tasks_md();
        let line = "- [ ] #task-byhand | HIGH | Written by hand\n  - App: demo\n";
        let hand = if before.contains("## Pending\n") {
            before.replacen("## Pending\n", &format!("## Pending\n{line}"), 1)
        } else {
            format!("{before}\n## Pending\n{line}")
        };
        let t0 = Instant::now();
        std::fs::write(s.stack.data.join("TASKS.md"), hand).unwrap();
        let seen = event(&mut ws, "cos:tasks:user:added", 5, |d| d["tasks"][0]["id"] == "task-byhand").await;
        assert!(t0.elapsed() < Duration::from_secs(2), "a hand edit picked up within 2 s, took {:?}", t0.elapsed());
        assert_eq!(seen["tasks"][0]["description"], "Written by hand");
        until("the hand-written task completed", 30, async || {
            let t = task(&api, "task-byhand").await;
            (t["status"] == "completed").then_some(t)
        })
        .await;
        // One that cannot start (no such app) is blocked with the reason, not retried for ever.
        let nowhere = add(&api, json!({"description": "somewhere else"})).await;
        let (st, body) = api.put(&format!("/api/cos/tasks/{nowhere}"), json!({"app": "nope"})).await;
        assert_eq!(st, 400, "the app is checked: {body}");
        let t = until("the task without a folder blocked", 20, async || {
            let t = task(&api, &nowhere).await;
            (t["status"] == "blocked").then_some(t)
        })
        .await;
        assert!(t["metadata"]["blockedReason"].as_str().unwrap().contains("could not start: no registered app"), "{t}");
    });
}

/// The runner's running agents now.
async fn running_in_runner(port: u16, token: &str) -> usize {
    let Ok(channel) = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
    else {
        return 0;
    };
    let mut c = pb::runner_client::RunnerClient::with_interceptor(
        channel,
        portos_rt::internal::Auth::new(Some(token)),
    );
    match c.list(pb::ListAgentsRequest {}).await {
        Ok(r) => r
            .into_inner()
            .agents
            .iter()
            .filter(|a| a.state == pb::AgentState::Running as i32)
            .count(),
        Err(_) => 0,
    }
}

#[test]
fn lanes_cap_the_agents_a_lost_runner_requeues_once_and_worktrees_keep_the_checkout() {
    let s = cos_stack(None);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let api = s.client();
        s.ready(&api, json!({"maxConcurrentAgents": 3, "maxConcurrentAgentsPerProject": 3, "lanes": {"critical": 1, "standard": 2, "background": 3}})).await;
        let token = s.stack.internal_token();
        // Three MEDIUM tasks, a lane of 2: never more than 2 at once.
        let ids = [
            add(&api, json!({"description": "first (SLOW 2)", "app": "demo"})).await,
            add(&api, json!({"description": "second (SLOW 2)", "app": "demo"})).await,
            add(&api, json!({"description": "third (SLOW 2)", "app": "demo"})).await,
        ];
        let (mut most, mut samples) = (0, 0);
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let n = running_in_runner(s.runner, &token).await;
            most = most.max(n);
            samples += 1;
            let all = api.get("/api/cos/tasks").await;
            let done = all["user"]["tasks"].as_array().unwrap().iter().filter(|t| ids.contains(&t["id"].as_str().unwrap().to_string()) && t["status"] == "completed").count();
            if done == 3 {
                break;
            }
            assert!(Instant::now() < deadline, "three tasks done within 40 s: {all}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(most, 2, "at most 2 agents at once, and 2 at some point ({samples} samples)");

        // kill -9 of the runner mid-agent: the agent lost, its task pending once.
        let lost_task = add(&api, json!({"description": "outlive the runner (SLOW_ONCE)", "app": "demo"})).await;
        let first = until("its agent running", 20, async || {
            agents_of(&api, &lost_task).await.into_iter().find(|a| a["status"] == "running")
        })
        .await;
        until("the agent in the runner", 10, async || {
            (running_in_runner(s.runner, &token).await > 0).then_some(json!(true))
        })
        .await;
        let runner = s.stack.pid_of("portos-cos").unwrap();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(runner), nix::sys::signal::Signal::SIGKILL).unwrap();
        let agent_id = first["id"].as_str().unwrap().to_string();
        let lost = until("the agent lost", 30, async || {
            let a = api.get(&format!("/api/cos/agents/{agent_id}")).await;
            (a["status"] != "running").then_some(a)
        })
        .await;
        assert_eq!(lost["status"], "lost", "{lost}");
        assert_eq!(lost["result"]["lost"], true);
        // Back to pending once, then run again when the runner is back.
        until("the task completed on its second agent", 40, async || {
            let t = task(&api, &lost_task).await;
            (t["status"] == "completed").then_some(t)
        })
        .await;
        let book: Value = serde_json::from_str(&std::fs::read_to_string(s.stack.data.join("cos/task-book.json")).unwrap()).unwrap();
        assert!(book.get(&lost_task).is_none(), "completed tasks leave the book: {book}");
        let history: Vec<Value> = agents_of(&api, &lost_task).await;
        assert_eq!(history.iter().filter(|a| a["status"] == "lost").count(), 1, "{history:?}");
        assert_eq!(history.len(), 2, "{history:?}");
        let learning = api.get("/api/cos/learning").await;
        let lost_records = learning["records"].as_array().unwrap().iter().filter(|r| r["taskId"] == lost_task.as_str() && r["outcome"] == "lost").count();
        assert_eq!(lost_records, 1, "{learning}");

        // A worktree task: the edit on its own branch, the owner's checkout untouched.
        let wt = add(&api, json!({"description": "edit in a worktree", "app": "demo", "useWorktree": true})).await;
        let done = until("the worktree task completed", 30, async || {
            let t = task(&api, &wt).await;
            (t["status"] == "completed").then_some(t)
        })
        .await;
        let branch = done["metadata"]["branch"].as_str().unwrap().to_string();
        assert!(branch.starts_with(&format!("cos/{wt}/")), "{done}");
        assert!(git_out(&s.repo, &["show", &format!("{branch}:notes.txt")]).contains(&format!("done {wt}")));
        assert!(!std::fs::read_to_string(s.repo.join("notes.txt")).unwrap().contains(&format!("done {wt}")));
        assert_eq!(git_out(&s.repo, &["branch", "--show-current"]).trim(), "main");
        assert!(git_out(&s.repo, &["worktree", "list"]).lines().count() == 1, "the worktree folder is removed");

        // The runtime limit: an agent past it is stopped and its attempt failed.
        let (st, b) = api.put("/api/cos/config", json!({"agentTimeoutMs": 1500, "maxRetries": 1})).await;
        assert_eq!(st, 200, "{b}");
        let slow = add(&api, json!({"description": "never ends (SLOW 60)", "app": "demo"})).await;
        let t0 = Instant::now();
        let blocked = until("the overrunning task blocked", 30, async || {
            let t = task(&api, &slow).await;
            (t["status"] == "blocked").then_some(t)
        })
        .await;
        assert!(t0.elapsed() < Duration::from_secs(20), "stopped at its limit, not at its end");
        assert!(blocked["metadata"]["blockedReason"].as_str().unwrap().contains("timed out"), "{blocked}");
        until("nothing left in the runner", 10, async || {
            (running_in_runner(s.runner, &token).await == 0).then_some(json!(true))
        })
        .await;
    });
}
