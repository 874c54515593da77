//! Log capture under a flood, and reading logs back with `portos logs`.

use std::time::Duration;

use portos_e2e::{Stack, sh_process, wait_for};

const LINES: usize = 200_000;

fn is_stamp(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z'
        && s.chars().filter(char::is_ascii_digit).count() == 17
}

#[test]
fn two_hundred_thousand_lines_all_captured_in_order_stamped_whole() {
    // Lines long enough that pipe reads end mid-line all the time.
    let pad = "x".repeat(97);
    let script = format!(
        "awk 'BEGIN {{ for (i = 1; i <= {LINES}; i++) printf \"%d {pad}\\n\", i }}'; exec sleep 1000"
    );
    // One file: no rotation in the middle of the count.
    let stack = Stack::new(&format!(
        "[logs]\nmax_size = \"1G\"\n{}",
        sh_process("flood", &script, "")
    ));
    stack.ok(&["up", "-d"]);
    let path = stack.data.join("logs/flood-out.log");
    let text = wait_for(
        Duration::from_secs(60),
        "every line in the log file",
        || {
            let t = portos_e2e::read(&path);
            (t.lines().count() >= LINES).then_some(t)
        },
    );
    let mut n = 0;
    for line in text.lines() {
        n += 1;
        let (stamp, rest) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("line {n} has no stamp: {line:?}"));
        assert!(is_stamp(stamp), "line {n}: bad stamp {stamp:?}");
        let (num, payload) = rest
            .split_once(' ')
            .unwrap_or_else(|| panic!("line {n} split: {rest:?}"));
        assert_eq!(
            num.parse::<usize>().ok(),
            Some(n),
            "line {n} out of order: {line:?}"
        );
        assert_eq!(payload, pad, "line {n} split or joined");
    }
    assert_eq!(n, LINES);

    // `portos logs -n` serves the tail from memory, in order.
    let out = stack.ok(&["logs", "flood", "-n", "3"]);
    // `flood | <stamp> <number> <pad>`
    let nums: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .collect();
    assert_eq!(nums, ["199998", "199999", "200000"], "{out}");
}

#[test]
fn stderr_and_stdout_go_to_their_own_files() {
    let stack = Stack::new(&sh_process(
        "both",
        "echo to-out; echo to-err >&2; exec sleep 1000",
        "",
    ));
    stack.ok(&["up", "-d"]);
    let out = wait_for(Duration::from_secs(5), "out log", || {
        let t = portos_e2e::read(&stack.data.join("logs/both-out.log"));
        (!t.is_empty()).then_some(t)
    });
    let err = wait_for(Duration::from_secs(5), "error log", || {
        let t = portos_e2e::read(&stack.data.join("logs/both-error.log"));
        (!t.is_empty()).then_some(t)
    });
    assert!(
        out.ends_with(": to-out\n") && !out.contains("to-err"),
        "{out}"
    );
    assert!(
        err.ends_with(": to-err\n") && !err.contains("to-out"),
        "{err}"
    );
}
