//! The supervisor's core promises, on real processes.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use portos_e2e::{Stack, alive, free_port, sh_process, wait_for, zombies_of};
use portos_proto::supervisor::v1 as pb;

fn kill9(pid: i32) {
    kill(Pid::from_raw(pid), Signal::SIGKILL).expect("kill -9");
}

fn healthy_pid(stack: &Stack, name: &str, not: Option<i32>) -> i32 {
    wait_for(
        Duration::from_secs(20),
        &format!("{name} healthy with a new pid"),
        || {
            let p = stack.process(name);
            let pid = p["pid"].as_i64()? as i32;
            (p["state"] == "healthy" && Some(pid) != not).then_some(pid)
        },
    )
}

#[test]
fn kill_9_of_a_child_brings_the_same_name_back_healthy() {
    let port = free_port();
    let config = format!(
        "[[process]]\nname = \"api\"\ncommand = \"portos-api\"\nenv = {{ HOST = \"127.0.0.1\", PORT = \"{port}\" }}\n\
         ports = {{ api = {port} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n"
    );
    let stack = Stack::new(&config);
    stack.ok(&["up", "-d"]);
    let first = healthy_pid(&stack, "api", None);
    kill9(first);
    let second = healthy_pid(&stack, "api", Some(first));
    assert_ne!(first, second);
    let p = stack.process("api");
    assert_eq!(p["restarts"], 1);
    assert_eq!(p["last_exit_signal"], 9);
    assert!(!alive(first));
}

#[test]
fn a_process_that_exits_at_once_ends_errored_with_growing_delays() {
    let config = sh_process(
        "flaky",
        "echo starting; exit 3",
        "max_restarts = 3\nmin_uptime = \"1s\"\nbackoff = \"50ms\"\nbackoff_max = \"10s\"",
    );
    let stack = Stack::new(&config);
    // Watch the events over the control socket with a gRPC client before anything starts.
    let out = stack.portos(&["up", "-d"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "up -d reports the errored process"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("flaky is errored"));
    let p = stack.process("flaky");
    assert_eq!(p["state"], "errored");
    assert_eq!(p["restarts"], 3);
    assert_eq!(p["last_exit_code"], 3);
    let reason = p["reason"].as_str().unwrap();
    assert!(
        reason.contains("crash loop") && reason.contains("exited with code 3"),
        "{reason}"
    );
    // The delays, as the supervisor wrote them into the process's log.
    let log = portos_e2e::read(&stack.data.join("logs/flaky-error.log"));
    let delays: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once("[portos] restarting in ")?.1.split(':').next())
        .collect();
    assert_eq!(delays, ["50ms", "100ms", "200ms"], "{log}");
    // … and as `portos logs` shows them.
    let shown = stack.ok(&["logs", "flaky", "-n", "50"]);
    assert!(
        shown.contains("[portos] restarting in 200ms: exited with code 3"),
        "{shown}"
    );
    assert!(shown.contains("[portos] errored: crash loop"), "{shown}");
    assert_eq!(
        portos_e2e::read(&stack.data.join("logs/flaky-out.log"))
            .matches("starting")
            .count(),
        4
    );
}

#[test]
fn events_stream_reports_exits_and_restarts() {
    let stack = Stack::new(&sh_process(
        "a",
        "exec sleep 1000",
        "restart_delay = \"100ms\"\nmin_uptime = \"50ms\"",
    ));
    stack.ok(&["up", "-d"]);
    let pid = stack.pid_of("a").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let kinds = rt.block_on(async {
        let channel = portos_proto::unix::connect(&stack.socket()).await.unwrap();
        let mut client = pb::supervisor_client::SupervisorClient::new(channel);
        let mut events = client
            .events(pb::EventsRequest { snapshot: true })
            .await
            .unwrap()
            .into_inner();
        let first = events.message().await.unwrap().unwrap();
        assert_eq!(
            (first.process.as_str(), first.state),
            ("a", pb::State::Healthy as i32)
        );
        kill9(pid);
        let mut kinds = Vec::new();
        while kinds.last() != Some(&pb::EventKind::Healthy) {
            let e = tokio::time::timeout(Duration::from_secs(5), events.message())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if e.kind == pb::EventKind::Exited as i32 {
                assert_eq!(e.exit_signal, Some(9));
            }
            if e.kind == pb::EventKind::Restarting as i32 {
                assert_eq!(e.delay_ms, 100);
                assert_eq!(e.reason, "killed by SIGKILL");
            }
            kinds.push(pb::EventKind::try_from(e.kind).unwrap());
        }
        let missing = client
            .get_process(pb::GetProcessRequest {
                name: "nope".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(missing.code(), tonic::Code::NotFound);
        kinds
    });
    use pb::EventKind::*;
    assert_eq!(kinds, [Exited, Restarting, Started, Healthy]);
}

#[test]
fn down_leaves_no_process_and_no_zombie() {
    // A child that forks a grandchild, and one whose orphaned grandchild exits early.
    let config = sh_process("tree", "sleep 1000 & exec sleep 1001", "")
        + &sh_process(
            "orphans",
            "(sleep 0.2 &); (sleep 0.3 &); exec sleep 1002",
            "",
        )
        + &sh_process(
            "stubborn",
            "trap '' TERM; sleep 1000 & while :; do sleep 1; done",
            "kill_timeout = \"300ms\"",
        );
    let stack = Stack::new(&config);
    stack.ok(&["up", "-d"]);
    let daemon = stack.daemon_pid().expect("daemon pid");
    wait_for(Duration::from_secs(5), "all children up", || {
        (stack.descendants().len() >= 6).then_some(())
    });
    // Orphaned grandchildren are re-parented to the supervisor and reaped.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        zombies_of(daemon),
        Vec::<i32>::new(),
        "no zombies while running"
    );
    let out = stack.ok(&["down"]);
    assert!(out.contains("stopped"), "{out}");
    assert_eq!(
        stack.descendants(),
        Vec::<i32>::new(),
        "nothing of the stack is left"
    );
    assert!(!alive(daemon), "the supervisor is gone");
    assert!(!stack.socket().exists());
}

#[test]
fn kill_9_of_the_supervisor_takes_every_child_within_a_second() {
    let config = sh_process("a", "exec sleep 1000", "")
        + &sh_process("b", "exec sleep 1001", "")
        + &sh_process("c", "exec sleep 1002", "");
    let stack = Stack::new(&config);
    stack.ok(&["up", "-d"]);
    let children = stack.descendants();
    assert_eq!(children.len(), 3, "{children:?}");
    kill9(stack.daemon_pid().unwrap());
    let killed = Instant::now();
    wait_for(Duration::from_secs(1), "every child gone", || {
        children.iter().all(|p| !alive(*p)).then_some(())
    });
    assert!(killed.elapsed() < Duration::from_secs(1));
}

#[test]
fn restart_of_one_leaves_the_others_alone() {
    let config = sh_process("a", "exec sleep 1000", "")
        + &sh_process("b", "exec sleep 1001", "")
        + &sh_process("c", "exec sleep 1002", "");
    let stack = Stack::new(&config);
    stack.ok(&["up", "-d"]);
    let before: Vec<Option<i32>> = ["a", "b", "c"].iter().map(|n| stack.pid_of(n)).collect();
    let out = stack.ok(&["restart", "b"]);
    assert!(out.contains("b") && out.contains("healthy"), "{out}");
    let after: Vec<Option<i32>> = ["a", "b", "c"].iter().map(|n| stack.pid_of(n)).collect();
    assert_eq!(before[0], after[0]);
    assert_eq!(before[2], after[2]);
    assert_ne!(before[1], after[1]);
    assert!(!alive(before[1].unwrap()));
    assert_eq!(stack.process("b")["restarts"], 1);
    // Stop and start by name, and a name that does not exist.
    stack.ok(&["stop", "c"]);
    assert_eq!(stack.process("c")["state"], "stopped");
    assert!(!alive(before[2].unwrap()));
    stack.ok(&["start", "c"]);
    assert_eq!(stack.process("c")["state"], "healthy");
    let out = stack.portos(&["restart", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no process named \"nope\""));
}

#[test]
fn dependents_start_after_their_dependency_is_healthy() {
    let port = free_port();
    let config = format!(
        "{}{}",
        sh_process(
            "late",
            &format!(
                "sleep 0.5; exec {}",
                portos_e2e::bin("portos-api").display()
            ),
            &format!(
                "env = {{ HOST = \"127.0.0.1\", PORT = \"{port}\" }}\nports = {{ api = {port} }}\nhealth = {{ check = \"tcp\" }}"
            )
        ),
        sh_process("dependent", "exec sleep 1000", "depends_on = [\"late\"]"),
    );
    let stack = Stack::new(&config);
    stack.ok(&["up", "-d"]);
    let st = stack.status();
    let started = |n: &str| {
        st.iter().find(|p| p["name"] == n).unwrap()["started_at_ms"]
            .as_u64()
            .unwrap()
    };
    assert!(
        started("dependent") >= started("late") + 400,
        "dependent waited for late to be healthy"
    );
}

#[test]
fn starting_a_dependent_starts_what_it_depends_on() {
    let config = sh_process("base", "exec sleep 1000", "min_uptime = \"100ms\"")
        + &sh_process(
            "top",
            "exec sleep 1001",
            "min_uptime = \"100ms\"\ndepends_on = [\"base\"]",
        );
    let stack = Stack::new(&config);
    stack.ok(&["up", "-d"]);
    stack.ok(&["stop", "all"]);
    assert_eq!(stack.process("base")["state"], "stopped");
    let out = stack.ok(&["start", "top"]);
    assert!(out.contains("1 healthy"), "{out}");
    assert_eq!(stack.process("base")["state"], "healthy");
    assert_eq!(stack.process("top")["state"], "healthy");
}
