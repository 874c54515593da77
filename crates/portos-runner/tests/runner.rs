//! The real `portos-runner` binary on a free loopback port over a temp data
//! dir, driven by a client generated from `proto/`, running small scripts as
//! agents.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pb::runner_client::RunnerClient;
use portos_proto::runner::v1 as pb;
use portos_rt::internal::{Auth, Authed};

/// The runner's process, killed and reaped when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The internal token the test hands the runner, as the supervisor would.
const TOKEN: &str = "test-internal-token-0123456789abcdef";

struct Runner {
    proc: Proc,
    client: RunnerClient<Authed>,
    port: u16,
}

async fn start(data: &Path) -> Runner {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let proc = Proc(
        Command::new(env!("CARGO_BIN_EXE_portos-runner"))
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("PORTOS_DATA_DIR", data)
            .env(portos_rt::internal::ENV, TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    loop {
        if let Ok(channel) =
            tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
                .unwrap()
                .connect()
                .await
        {
            return Runner {
                proc,
                client: RunnerClient::with_interceptor(channel, Auth::new(Some(TOKEN))),
                port,
            };
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the runner did not come up"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn sh(id: &str, script: &str) -> pb::SpawnRequest {
    pb::SpawnRequest {
        id: id.into(),
        command: "sh".into(),
        args: vec!["-c".into(), script.into()],
        ..Default::default()
    }
}

fn alive(pid: i32) -> bool {
    // A zombie is dead: only its exit status is left.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let started = Instant::now();
    while !f() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An agent's whole output from `from`, followed to its end.
async fn read_all(client: &mut RunnerClient<Authed>, id: &str, from: u64) -> Vec<u8> {
    let mut stream = client
        .output(pb::OutputRequest {
            id: id.into(),
            follow: true,
            from_offset: from,
        })
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(c) = stream.message().await.unwrap() {
        out.extend_from_slice(&c.data);
    }
    out
}

fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn output_streams_piece_by_piece_while_the_agent_runs() {
    let data = tempfile::tempdir().unwrap();
    let mut r = start(data.path()).await;
    let agent = r
        .client
        .spawn(pb::SpawnRequest {
            stdin: "hello agent\n".into(),
            task_id: "task-7".into(),
            ..sh(
                "a1",
                "read -r p; echo \"got $p\"; for i in 1 2 3; do echo line $i; sleep 0.3; done; echo oops >&2; exit 3",
            )
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(agent.state, pb::AgentState::Running as i32);
    assert!(agent.pid > 0);
    let mut stream = r
        .client
        .output(pb::OutputRequest {
            id: "a1".into(),
            follow: true,
            from_offset: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let mut text = Vec::new();
    let mut running_when_first_line = None;
    while let Some(chunk) = stream.message().await.unwrap() {
        assert_eq!(chunk.offset as usize, text.len(), "no gap, no repeat");
        text.extend_from_slice(&chunk.data);
        if running_when_first_line.is_none() && String::from_utf8_lossy(&text).contains("line 1") {
            // The process itself still runs, not only its record.
            running_when_first_line = Some(alive(agent.pid as i32));
        }
    }
    assert_eq!(
        running_when_first_line,
        Some(true),
        "the first line came before the end"
    );
    let text = String::from_utf8(text).unwrap();
    assert_eq!(
        text,
        "got hello agent\nline 1\nline 2\nline 3\n[stderr] oops\n"
    );
    let done = r
        .client
        .get(pb::AgentRequest { id: "a1".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            done.state,
            done.exit_code,
            done.reason.as_str(),
            done.task_id.as_str()
        ),
        (
            pb::AgentState::Exited as i32,
            Some(3),
            "exited with code 3",
            "task-7"
        )
    );
    assert_eq!(done.output_bytes as usize, text.len());
    let dir = data.path().join("cos/agents/a1");
    assert_eq!(
        std::fs::read_to_string(dir.join("output.txt")).unwrap(),
        text
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("metadata.json")).unwrap()).unwrap();
    assert_eq!(
        (meta["exitCode"].as_i64(), meta["success"].as_bool()),
        (Some(3), Some(false))
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data.path().join("cos/runner-state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["stats"]["spawned"], 1);
    assert_eq!(state["stats"]["failed"], 1);
    assert_eq!(state["agents"]["a1"]["taskId"], "task-7");

    // Replay from an offset, after the end.
    let tail = read_all(&mut r.client, "a1", 4).await;
    assert_eq!(String::from_utf8(tail).unwrap(), &text[4..]);
}

#[tokio::test]
async fn stop_ends_the_whole_group_a_grandchild_too() {
    let data = tempfile::tempdir().unwrap();
    let mut r = start(data.path()).await;
    let gc_file = data.path().join("gc.pid");
    // The leader and its grandchild both ignore SIGTERM: only SIGKILL ends them.
    let script = format!(
        "trap '' TERM; sh -c 'trap \"\" TERM; exec sleep 1000' & echo $! > {}; while true; do sleep 0.05; done",
        gc_file.display()
    );
    let agent = r
        .client
        .spawn(sh("a2", &script))
        .await
        .unwrap()
        .into_inner();
    wait_for("the grandchild's pid", || {
        gc_file.exists() && std::fs::read_to_string(&gc_file).is_ok_and(|s| s.ends_with('\n'))
    })
    .await;
    let gc = read_pid(&gc_file);
    assert!(alive(gc) && alive(agent.pid as i32));
    let started = Instant::now();
    let stopped = r
        .client
        .stop(pb::StopRequest {
            id: "a2".into(),
            grace_ms: 300,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "SIGTERM was ignored: the grace period ran"
    );
    assert_eq!(
        (stopped.state, stopped.reason.as_str(), stopped.signal),
        (
            pb::AgentState::Stopped as i32,
            "stopped by request",
            Some(9)
        )
    );
    wait_for("the grandchild gone", || !alive(gc)).await;
    assert!(!alive(agent.pid as i32));
    // Stopping what has ended answers its record.
    let again = r
        .client
        .stop(pb::StopRequest {
            id: "a2".into(),
            grace_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.state, pb::AgentState::Stopped as i32);
}

#[tokio::test]
async fn a_runner_killed_mid_run_ends_the_agent_when_it_comes_back() {
    let data = tempfile::tempdir().unwrap();
    let gc_file = data.path().join("gc.pid");
    let mut r = start(data.path()).await;
    let script = format!("sleep 1000 & echo $! > {}; wait", gc_file.display());
    let agent = r
        .client
        .spawn(sh("a3", &script))
        .await
        .unwrap()
        .into_inner();
    wait_for("the grandchild's pid", || {
        std::fs::read_to_string(&gc_file).is_ok_and(|s| s.ends_with('\n'))
    })
    .await;
    let gc = read_pid(&gc_file);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(r.proc.0.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    r.proc.0.wait().unwrap();
    wait_for("the leader gone with the runner", || {
        !alive(agent.pid as i32)
    })
    .await;
    assert!(alive(gc), "the grandchild outlived the runner");

    let mut back = start(data.path()).await;
    let lost = back
        .client
        .get(pb::AgentRequest { id: "a3".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lost.state, pb::AgentState::Lost as i32, "{lost:?}");
    assert!(lost.reason.contains("runner restarted"), "{}", lost.reason);
    assert!(lost.reason.contains("1 process(es)"), "{}", lost.reason);
    assert!(lost.ended_at.is_some());
    wait_for("the grandchild ended by the new runner", || !alive(gc)).await;
    let listed = back
        .client
        .list(pb::ListAgentsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.agents.len(), 1);
}

#[tokio::test]
async fn bad_requests_start_nothing() {
    let data = tempfile::tempdir().unwrap();
    let mut r = start(data.path()).await;
    for (req, code) in [
        (sh("../escape", "true"), tonic::Code::InvalidArgument),
        (sh("", "true"), tonic::Code::InvalidArgument),
        (
            pb::SpawnRequest {
                id: "x".into(),
                command: "no-such-agent-cli".into(),
                ..Default::default()
            },
            tonic::Code::InvalidArgument,
        ),
        (
            pb::SpawnRequest {
                cwd: "/no/such/dir".into(),
                ..sh("y", "true")
            },
            tonic::Code::InvalidArgument,
        ),
    ] {
        let e = r.client.spawn(req.clone()).await.unwrap_err();
        assert_eq!(e.code(), code, "{req:?}: {e:?}");
    }
    let listed = r
        .client
        .list(pb::ListAgentsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(listed.agents.is_empty(), "nothing recorded: {listed:?}");
    assert!(!data.path().join("cos/agents/..").join("escape").exists());

    r.client.spawn(sh("busy", "sleep 5")).await.unwrap();
    let e = r.client.spawn(sh("busy", "true")).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::AlreadyExists);
    for e in [
        r.client
            .get(pb::AgentRequest { id: "nope".into() })
            .await
            .unwrap_err(),
        r.client
            .output(pb::OutputRequest {
                id: "nope".into(),
                ..Default::default()
            })
            .await
            .unwrap_err(),
    ] {
        assert_eq!(e.code(), tonic::Code::NotFound);
    }
}

#[tokio::test]
async fn an_agent_in_a_pseudo_terminal_sees_a_terminal() {
    let data = tempfile::tempdir().unwrap();
    let mut r = start(data.path()).await;
    r.client
        .spawn(pb::SpawnRequest {
            pty: true,
            stdin: "from the prompt".into(),
            ..sh(
                "tty1",
                "if [ -t 0 ] && [ -t 1 ]; then echo is-a-tty; fi; read -r x; echo \"got $x\"",
            )
        })
        .await
        .unwrap();
    let text = read_all(&mut r.client, "tty1", 0).await;
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("is-a-tty"), "{text:?}");
    assert!(text.contains("got from the prompt"), "{text:?}");
    let done = r
        .client
        .get(pb::AgentRequest { id: "tty1".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (done.state, done.exit_code, done.pty),
        (pb::AgentState::Exited as i32, Some(0), true)
    );
}

#[tokio::test]
async fn a_runner_asked_to_stop_stops_its_agents_first() {
    let data = tempfile::tempdir().unwrap();
    let mut r = start(data.path()).await;
    let agent = r
        .client
        .spawn(sh("long", "sleep 1000"))
        .await
        .unwrap()
        .into_inner();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(r.proc.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = r.proc.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!alive(agent.pid as i32));
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data.path().join("cos/runner-state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["agents"]["long"]["phase"], "stopped");
    assert_eq!(state["agents"]["long"]["reason"], "the runner shut down");
}

#[tokio::test]
async fn calls_without_the_internal_token_are_refused_health_is_not() {
    let data = tempfile::tempdir().unwrap();
    let r = start(data.path()).await;
    let port = r.port;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    for auth in [Auth::new(None), Auth::new(Some("not-the-token"))] {
        let mut stranger = RunnerClient::with_interceptor(channel.clone(), auth);
        let err = stranger
            .spawn(pb::SpawnRequest {
                id: "intruder".into(),
                command: "touch".into(),
                args: vec![data.path().join("pwned").display().to_string()],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err:?}");
    }
    assert!(!data.path().join("pwned").exists(), "nothing ran");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.status, 1, "SERVING without a token");
}

#[tokio::test]
async fn an_agent_never_inherits_the_internal_token() {
    let data = tempfile::tempdir().unwrap();
    let mut r = start(data.path()).await;
    for (id, pty) in [("plain", false), ("in-a-pty", true)] {
        r.client
            .spawn(pb::SpawnRequest {
                pty,
                ..sh(id, "echo \"token=${PORTOS_INTERNAL_TOKEN:-none}\"")
            })
            .await
            .unwrap();
        let out = String::from_utf8(read_all(&mut r.client, id, 0).await).unwrap();
        assert!(out.contains("token=none"), "{id}: {out}");
        assert!(!out.contains(TOKEN), "{id}: {out}");
    }
}
