//! The runner under the real supervisor: `kill -9` of the runner while an
//! agent runs; the supervisor brings the runner back, which ends what is left
//! of the agent's process group and marks the agent lost, with the reason.

use std::time::Duration;

use portos_e2e::{Stack, alive, free_port, wait_for};
use portos_proto::runner::v1 as pb;

#[test]
fn a_runner_killed_by_signal_9_comes_back_and_leaves_no_agent_behind() {
    let port = free_port();
    let stack = Stack::new(&format!(
        "[[process]]\nname = \"portos-cos\"\ncommand = \"portos-runner\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{port}\" }}\nports = {{ api = {port} }}\n\
         health = {{ check = \"grpc\", interval = \"200ms\" }}\nmin_uptime = \"100ms\"\n"
    ));
    stack.ok(&["up", "-d"]);
    let gc_file = stack.dir.path().join("grandchild.pid");
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Spawn is for PortOS's own services: without the supervisor's internal
    // token, a client we did not write is refused and nothing runs.
    let refused = portos_e2e::python_grpc(&[
        &format!("127.0.0.1:{port}"),
        "portos.runner.v1.Runner",
        "Spawn",
        &serde_json::json!({ "id": "intruder", "command": "touch", "args": [gc_file.with_extension("pwned")] }).to_string(),
    ]);
    assert_eq!(refused["error"]["code"], "UNAUTHENTICATED", "{refused}");
    assert!(
        !gc_file.with_extension("pwned").exists(),
        "the intruder's command ran"
    );
    let token = stack.internal_token();
    let connect = || async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        pb::runner_client::RunnerClient::with_interceptor(
            channel,
            portos_rt::internal::Auth::new(Some(&token)),
        )
    };
    let agent = rt.block_on(async {
        connect()
            .await
            .spawn(pb::SpawnRequest {
                id: "run-1".into(),
                command: "sh".into(),
                args: vec![
                    "-c".into(),
                    format!("sleep 1000 & echo $! > {}; wait", gc_file.display()),
                ],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
    });
    let grandchild: i32 = wait_for(Duration::from_secs(10), "the grandchild's pid", || {
        std::fs::read_to_string(&gc_file).ok()?.trim().parse().ok()
    });
    let runner = stack.pid_of("portos-cos").unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(runner),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let back = wait_for(Duration::from_secs(20), "the runner restarted", || {
        let p = stack.process("portos-cos");
        let new_pid = p["pid"]
            .as_i64()
            .is_some_and(|pid| pid != i64::from(runner));
        (p["state"] == "healthy" && new_pid).then_some(p)
    });
    assert_eq!(back["restarts"], 1, "{back}");
    let lost = rt.block_on(async {
        connect()
            .await
            .get(pb::AgentRequest { id: "run-1".into() })
            .await
            .unwrap()
            .into_inner()
    });
    assert_eq!(lost.state, pb::AgentState::Lost as i32, "{lost:?}");
    assert!(lost.reason.contains("runner restarted"), "{}", lost.reason);
    wait_for(Duration::from_secs(5), "no agent process left", || {
        (!alive(grandchild) && !alive(agent.pid as i32)).then_some(())
    });
}
