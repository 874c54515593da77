//! schemathesis (a fuzzer we did not write) over `/api/openapi.json` of a
//! live stack — the runner, the api server and the autofixer — with the
//! owner's credential: every operation, its examples, coverage cases,
//! random ones and stateful sequences where links exist, a fixed seed and a
//! few examples each (the long run, many examples and a new seed, is
//! `cargo xtask fuzz`).
//! Goal: no answer 500 or 5xx, no panic in any log, every process still
//! healthy. The whole run is in a network namespace of its own with only
//! loopback, so whatever a generated request points at (a peer, a JIRA
//! server, a provider's endpoint) goes nowhere. Left out: operations that
//! stop or restart the stack itself, and those that run commands or agents
//! on this machine (apps, git, commands, runs, providers, the autofixer's
//! fix, the chief of staff's start, the brain's capture and clones) or need
//! an upstream this stack lacks (browser host, LM Studio, an AI provider for the brain's digest and review).

use portos_e2e::{Stack, bin, free_port};

const EXCLUDE: &str = r"^/api/(processes|apps|git|commands|runs|providers|ports/allocate|autofixer/fix|cos/(start|evaluate)|brain/(capture|links|digest/run|review/run)|browser|lmstudio|agents/schedules/\{id\}/run)";

/// What schemathesis checks of every answer: no 5xx, a status the operation
/// documents, the content type it documents, and a body that fits the schema
/// documented for that status.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";

#[test]
fn schemathesis_finds_no_server_error_and_no_panic() {
    let fuzzer = std::env::var("PORTOS_SCHEMATHESIS")
        .expect("PORTOS_SCHEMATHESIS: the schemathesis binary (`cargo xtask test` installs it)");
    let (api, runner, fixer) = (free_port(), free_port(), free_port());
    let stack = Stack::new(&format!(
        "[[process]]\nname = \"portos-cos\"\ncommand = \"portos-runner\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{runner}\" }}\nports = {{ api = {runner} }}\n\
         health = {{ check = \"grpc\", interval = \"200ms\" }}\n\n\
         [[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\", PORTOS_PROVIDER_CHECK_SECS = \"3600\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n\n\
         [[process]]\nname = \"portos-autofixer\"\ncommand = \"portos-autofixer\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{fixer}\" }}\nports = {{ api = {fixer} }}\n\
         health = {{ check = \"grpc\", interval = \"200ms\" }}\n"
    ));
    let dir = stack.dir.path();
    // `cargo xtask fuzz` asks for more, with a new seed.
    let examples = std::env::var("PORTOS_FUZZ_EXAMPLES").unwrap_or_else(|_| "8".into());
    let seed = std::env::var("PORTOS_FUZZ_SEED").unwrap_or_else(|_| "20261204".into());
    let checks = std::env::var("PORTOS_FUZZ_CHECKS").unwrap_or_else(|_| CHECKS.into());
    // The credential reaches schemathesis through its config's environment, never a command line.
    std::fs::write(
        dir.join("st.toml"),
        "headers = { Authorization = \"Bearer ${PORTOS_OWNER_TOKEN}\" }\n",
    )
    .unwrap();
    let portos = format!(
        "'{}' --config '{}' --data-dir '{}'",
        bin("portos").display(),
        stack.config.display(),
        stack.data.display()
    );
    let script = format!(
        "set -e\nip link set lo up\n{portos} up -d >/dev/null\n\
         export PORTOS_OWNER_TOKEN=\"$(cat '{data}/auth/owner-token')\"\nset +e\n\
         '{fuzzer}' --config-file '{dir}/st.toml' run 'http://127.0.0.1:{api}/api/openapi.json' \
           --checks {checks} --max-examples {examples} --seed {seed} --no-color \
           --exclude-path-regex '{EXCLUDE}' > '{dir}/fuzz.txt' 2>&1\n\
         rc=$?\n{portos} status --json > '{dir}/status.json'\n{portos} down >/dev/null 2>&1\nexit $rc\n",
        data = stack.data.display(),
        dir = dir.display(),
    );
    let out = std::process::Command::new("unshare")
        // A user namespace too, so no privilege is needed for the network one.
        .args(["--map-root-user", "--net", "sh", "-c", &script])
        // Its cache of failures is kept where it runs: the temp dir, not the repository.
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("unshare");
    let report = std::fs::read_to_string(dir.join("fuzz.txt")).unwrap_or_default();
    println!("{report}");
    assert!(
        out.status.success(),
        "schemathesis found server errors:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("passed"), "{report}");
    let tested: u32 = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Tested: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(tested >= 150, "operations tested: {tested}\n{report}");
    // With the credential: only the few operations that refuse the owner are all 401/403.
    let refused: u32 = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("⚠️ Authentication failed: "))
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    assert!(
        refused <= 3,
        "{refused} operations refused the owner's credential\n{report}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("status.json")).unwrap()).unwrap();
    for p in status.as_array().unwrap() {
        assert_eq!(p["state"], "healthy", "still healthy after the run: {p}");
    }
    for log in std::fs::read_dir(stack.data.join("logs"))
        .unwrap()
        .flatten()
    {
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        assert!(
            !text.contains("panicked"),
            "a panic in {}",
            log.path().display()
        );
    }
}
