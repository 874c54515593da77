//! `portos doctor`: a healthy stack passes; with Chromium hidden, a port of the
//! table held by another program and the token file readable by others, it
//! fails and names the three problems with their fixes.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use portos_e2e::{Stack, bin, free_port};
use serde_json::Value;

fn doctor(stack: &Stack, env: &[(&str, &str)]) -> (i32, Vec<Value>) {
    let out = Command::new(bin("portos"))
        .arg("--config")
        .arg(&stack.config)
        .arg("--data-dir")
        .arg(&stack.data)
        .args(["doctor", "--json"])
        .env_remove("CHROME_PATH")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let checks: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (
        out.status.code().unwrap(),
        checks.as_array().unwrap().clone(),
    )
}

fn check<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {checks:?}"))
}

#[test]
fn doctor_passes_a_healthy_stack_and_names_each_problem_with_its_fix() {
    let (api, port, cdp) = (free_port(), free_port(), free_port());
    let stack = Stack::new(&format!(
        "[[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\", PORTOS_PROVIDER_CHECK_SECS = \"3600\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n\n\
         [[process]]\nname = \"portos-browser\"\ncommand = \"portos-browser\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{port}\", CDP_HOST = \"127.0.0.1\", CDP_PORT = \"{cdp}\" }}\n\
         ports = {{ cdp = {cdp}, health = {port} }}\n\
         health = {{ check = \"http\", port = \"health\", path = \"/healthz\", start_period = \"15s\" }}\n"
    ));
    stack.ok(&["up", "-d"]);
    let (code, checks) = doctor(&stack, &[]);
    let failing: Vec<&Value> = checks.iter().filter(|c| c["ok"] == false).collect();
    assert_eq!(code, 0, "{failing:?}");
    assert!(
        check(&checks, "chromium")["detail"]
            .as_str()
            .unwrap()
            .contains("hromium")
    );
    assert_eq!(check(&checks, "services")["ok"], true);

    // Three things go wrong.
    stack.ok(&["stop", "portos-server"]);
    let squatter = std::net::TcpListener::bind(("127.0.0.1", api)).unwrap();
    let token = stack.data.join("auth/owner-token");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, checks) = doctor(&stack, &[("CHROME_PATH", "/nonexistent/chromium")]);
    assert_eq!(code, 1);
    let chromium = check(&checks, "chromium");
    assert_eq!(chromium["ok"], false);
    assert!(
        chromium["detail"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/chromium"),
        "{chromium}"
    );
    assert!(
        chromium["fix"].as_str().unwrap().contains("CHROME_PATH"),
        "{chromium}"
    );
    let ports = check(&checks, "ports");
    assert_eq!(ports["ok"], false);
    let detail = ports["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!(
            "{api} (portos-server.api) by pid {}",
            std::process::id()
        )),
        "{detail}"
    );
    assert!(ports["fix"].as_str().unwrap().contains("supervisor.toml"));
    let owner = check(&checks, "owner token");
    assert_eq!(owner["ok"], false);
    assert!(
        owner["fix"].as_str().unwrap().starts_with("chmod 600 "),
        "{owner}"
    );
    drop(squatter);
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();

    // The plain form says the same to a person, with the fixes.
    let out = stack.portos(&["doctor"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("✘ services") && text.contains("fix: portos logs"),
        "{text}"
    );
}
