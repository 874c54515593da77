//! Restart policies beyond plain exits: memory limits on the whole group, failing
//! health checks, and `up` in the foreground stopping on Ctrl-C.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use portos_e2e::{Stack, alive, bin, free_port, sh_process, wait_for};

#[test]
fn a_group_over_its_memory_limit_is_restarted_with_the_reason() {
    // The memory is held by a grandchild: the limit is on the whole process group.
    let script = "python3 -c 'import time; b = bytearray(160 * 1024 * 1024); time.sleep(1000)' & exec sleep 1000";
    let stack = Stack::new(&sh_process("hog", script, "max_memory_restart = \"100M\""));
    stack.ok(&["up", "-d"]);
    let first = stack.pid_of("hog").unwrap();
    let p = wait_for(Duration::from_secs(20), "a restart for memory", || {
        let p = stack.process("hog");
        (p["restarts"].as_u64()? >= 1).then_some(p)
    });
    assert_ne!(p["pid"].as_i64().map(|p| p as i32), Some(first));
    assert!(!alive(first));
    let log = stack.ok(&["logs", "hog", "-n", "20"]);
    assert!(
        log.contains("memory limit: RSS") && log.contains("over max_memory_restart 100.0 MiB"),
        "{log}"
    );
}

#[test]
fn failing_health_checks_restart_a_process_that_was_healthy() {
    let port = free_port();
    // Listens for a while, then closes its socket but keeps running.
    let script = format!(
        "python3 -c 'import socket, time; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); \
         s.bind((\"127.0.0.1\", {port})); s.listen(); time.sleep(1.5); s.close(); time.sleep(1000)'"
    );
    let extra = format!(
        "ports = {{ api = {port} }}\nhealth = {{ check = \"tcp\", interval = \"200ms\", failure_threshold = 2 }}"
    );
    let stack = Stack::new(&sh_process("deaf", &script, &extra));
    stack.ok(&["up", "-d"]);
    assert_eq!(stack.process("deaf")["state"], "healthy");
    wait_for(
        Duration::from_secs(10),
        "a restart for failing health",
        || (stack.process("deaf")["restarts"].as_u64()? >= 1).then_some(()),
    );
    let log = stack.ok(&["logs", "deaf", "-n", "20"]);
    assert!(
        log.contains("restarting in 0s: health check failed 2 times: tcp 127.0.0.1:"),
        "{log}"
    );
}

#[test]
fn up_in_the_foreground_streams_prefixed_logs_and_stops_on_ctrl_c() {
    let config = sh_process("talker", "echo hello from talker; exec sleep 1000", "")
        + &sh_process("quiet", "exec sleep 1001", "min_uptime = \"200ms\"");
    let stack = Stack::new(&config);
    let mut child = Command::new(bin("portos"))
        .arg("--config")
        .arg(&stack.config)
        .arg("--data-dir")
        .arg(&stack.data)
        .arg("up")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        seen.push(line.clone());
        if line.contains("all 2 healthy") {
            break;
        }
    }
    let text = seen.join("\n");
    assert!(text.contains("talker | hello from talker"), "{text}");
    assert!(text.contains("portos | quiet: healthy"), "{text}");
    let children = stack.descendants();
    assert_eq!(children.len(), 2, "{children:?}");
    assert_eq!(
        stack
            .ok(&["status", "--json"])
            .matches("\"healthy\"")
            .count(),
        2
    );
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");
    assert!(children.iter().all(|p| !alive(*p)));
    assert!(!stack.socket().exists());
}
