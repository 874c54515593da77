//! The live table: `portos reload` applies an edited `supervisor.toml` to the
//! running supervisor, touching only what changed; a bad table changes nothing.

use std::time::Duration;

use portos_e2e::{Stack, alive, sh_process, wait_for};

fn table(b_env: &str, extra: &str) -> String {
    sh_process("a", "exec sleep 1000", "min_uptime = \"100ms\"")
        + &sh_process(
            "b",
            "echo B=$B; exec sleep 1001",
            &format!("min_uptime = \"100ms\"\nenv = {{ B = \"{b_env}\" }}"),
        )
        + &sh_process("c", "exec sleep 1002", "min_uptime = \"100ms\"")
        + extra
}

#[test]
fn reload_restarts_only_what_changed_and_refuses_a_bad_table_whole() {
    let stack = Stack::new(&table("one", ""));
    stack.ok(&["up", "-d"]);
    let pids = |names: &[&str]| -> Vec<i32> {
        names
            .iter()
            .map(|n| stack.pid_of(n).expect("running"))
            .collect()
    };
    let [a, b, c] = pids(&["a", "b", "c"])[..] else {
        unreachable!()
    };

    // One process's env changed, one process added: only those two move.
    std::fs::write(
        &stack.config,
        table("two", &sh_process("d", "exec sleep 1003", "")),
    )
    .unwrap();
    let out = stack.ok(&["reload"]);
    assert!(out.contains("restarted: b"), "{out}");
    assert!(out.contains("started: d"), "{out}");
    assert!(out.contains("unchanged: a, c"), "{out}");
    let b2 = wait_for(Duration::from_secs(10), "b on its new env", || {
        let p = stack.process("b");
        (p["state"] == "healthy" && p["pid"].as_i64()? as i32 != b).then_some(p["pid"].clone())
    });
    assert!(!alive(b), "the old b is gone");
    assert_eq!(stack.pid_of("a"), Some(a), "a keeps its pid");
    assert_eq!(stack.pid_of("c"), Some(c), "c keeps its pid");
    wait_for(Duration::from_secs(10), "d healthy", || {
        (stack.process("d")["state"] == "healthy").then_some(())
    });
    let log = stack.ok(&["logs", "b", "-n", "20"]);
    assert!(
        log.contains("B=two") && log.contains("configuration changed"),
        "{log}"
    );
    // Every process is listed in its group, ours being `portos`.
    assert!(stack.status().iter().all(|p| p["group"] == "portos"));

    // A bad table (an unknown key) is refused with its line, and nothing changes.
    std::fs::write(
        &stack.config,
        table(
            "three",
            "[[process]]\nname = \"e\"\ncommand = \"sh\"\nbogus = 1\n",
        ),
    )
    .unwrap();
    let bad = stack.portos(&["reload"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("supervisor.toml:") && err.contains("bogus"),
        "{err}"
    );
    assert_eq!(stack.pid_of("b"), b2.as_i64().map(|p| p as i32));
    assert_eq!(stack.pid_of("a"), Some(a));
    assert!(stack.status().iter().all(|p| p["name"] != "e"));

    // A process taken out of the table is stopped and leaves it.
    std::fs::write(&stack.config, table("two", "")).unwrap();
    let out = stack.ok(&["reload"]);
    assert!(out.contains("stopped and removed: d"), "{out}");
    assert!(stack.status().iter().all(|p| p["name"] != "d"));
    assert_eq!(stack.pid_of("c"), Some(c));
}
