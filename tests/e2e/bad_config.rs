//! A bad `supervisor.toml` is refused before anything starts: exit 2, and a
//! message naming the file, the line and the key.

use portos_e2e::{Stack, sh_process};

fn refused(config: &str, line: usize, key: &str, words: &str) {
    let stack = Stack::new(config);
    let out = stack.portos(&["up", "-d"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {stderr}");
    let location = format!("{}:{line}:", stack.config.display());
    assert!(
        stderr.contains(&location),
        "names file and line {location}: {stderr}"
    );
    assert!(
        stderr.contains(&format!("key `{key}`")),
        "names key {key}: {stderr}"
    );
    assert!(stderr.contains(words), "says {words:?}: {stderr}");
    assert!(!stack.data.exists(), "nothing was started or seeded");
}

#[test]
fn unknown_key() {
    refused(
        &sh_process("a", "sleep 100", "restart_dealy = \"1s\""),
        5,
        "restart_dealy",
        "unknown field",
    );
}

#[test]
fn duplicate_name() {
    let config = sh_process("a", "sleep 100", "") + &sh_process("a", "sleep 100", "");
    refused(&config, 7, "name", "duplicate process name \"a\"");
}

#[test]
fn dependency_cycle() {
    let config = sh_process("a", "sleep 100", "depends_on = [\"b\"]")
        + &sh_process("b", "sleep 100", "depends_on = [\"a\"]");
    refused(&config, 10, "depends_on", "dependency cycle: a → b → a");
}

#[test]
fn bad_duration() {
    refused(
        &sh_process("a", "sleep 100", "min_uptime = \"soon\""),
        5,
        "min_uptime",
        "invalid duration \"soon\"",
    );
}

#[test]
fn port_clash() {
    let config = sh_process("a", "sleep 100", "ports = { api = 7100 }")
        + &sh_process("b", "sleep 100", "ports = { ui = 7100 }");
    refused(
        &config,
        10,
        "ports",
        "port clash: 7100 is used by both a.api and b.ui",
    );
}

#[test]
fn unknown_process_name_is_bad_input() {
    let stack = Stack::new(&sh_process("a", "sleep 100", ""));
    let out = stack.portos(&["up", "-d", "ghost"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no process named \"ghost\""));
}

#[test]
fn a_command_without_a_supervisor_says_so() {
    let stack = Stack::new(&sh_process("a", "sleep 100", ""));
    let out = stack.portos(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no supervisor is running"));
}
