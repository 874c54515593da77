//! The workspace's crate rules, read from `cargo metadata` so that an edge
//! that breaks one fails CI with a message naming it. ARCHITECTURE.md states
//! the same rules with the same reasons; change both together.
//!
//! Only normal dependencies count: a test may use what the code may not.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

/// Crates that hold the domain: what PortOS does, without a wire.
const DOMAIN: &[&str] = &[
    "portos-core",
    "portos-ai",
    "portos-apps",
    "portos-history",
    "portos-files",
    "portos-agents",
    "portos-auth",
    "portos-git",
    "portos-commands",
    "portos-notifications",
    "portos-health",
    "portos-brain",
    "portos-jira-instances",
    "portos-healer",
    "portos-instances",
];
/// The wire: HTTP servers, gRPC, their plumbing and our generated messages.
const WIRE: &[&str] = &[
    "axum",
    "tonic",
    "hyper",
    "hyper-util",
    "tower",
    "tower-http",
    "portos-proto",
];
/// Clients of remote services: self-contained, reusable outside PortOS.
const REMOTE_CLIENTS: &[&str] = &[
    "portos-jira",
    "portos-moltbook",
    "portos-moltworld",
    "portos-remote",
];

struct Package {
    /// Normal (not dev, not build) dependencies, by name.
    deps: Vec<String>,
    has_bin: bool,
    has_lib: bool,
}

fn workspace() -> BTreeMap<String, Package> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata answers JSON");
    let mut all = BTreeMap::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        let kinds: Vec<&str> = p["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|t| t["kind"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
        let deps = p["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str().map(str::to_string))
            .collect();
        all.insert(
            p["name"].as_str().unwrap_or_default().to_string(),
            Package {
                deps,
                has_bin: kinds.contains(&"bin"),
                has_lib: kinds.contains(&"lib"),
            },
        );
    }
    all
}

/// Every edge `from → to` that breaks a rule, with the rule's reason.
fn violations(all: &BTreeMap<String, Package>) -> Vec<String> {
    let ours = |n: &str| n.starts_with("portos-");
    let services: Vec<&str> = all
        .iter()
        .filter(|(n, p)| p.has_bin && ours(n))
        .map(|(n, _)| n.as_str())
        .collect();
    let mut bad = Vec::new();
    for (name, p) in all {
        for dep in &p.deps {
            let edge = format!("{name} → {dep}");
            if DOMAIN.contains(&name.as_str()) && WIRE.contains(&dep.as_str()) {
                bad.push(format!(
                    "{edge}: a domain crate knows no wire (axum, tonic, hyper, tower, portos-proto); \
                     the edges convert, so a domain can serve REST, gRPC and other processes alike"
                ));
            }
            if DOMAIN.contains(&name.as_str()) && services.contains(&dep.as_str()) {
                bad.push(format!(
                    "{edge}: a domain crate depends on no service crate; services are edges over the domain"
                ));
            }
            if name == "portos-supervisor"
                && ours(dep)
                && !["portos-config", "portos-proto", "portos-rt"].contains(&dep.as_str())
            {
                bad.push(format!(
                    "{edge}: the supervisor runs binaries and never links them: it depends on no service or domain crate \
                     (only portos-config, portos-proto, portos-rt), so a bug in a service cannot take it down"
                ));
            }
            if REMOTE_CLIENTS.contains(&name.as_str())
                && ours(dep)
                && !REMOTE_CLIENTS.contains(&dep.as_str())
                && !["portos-ratelimit", "portos-test-support"].contains(&dep.as_str())
            {
                bad.push(format!(
                    "{edge}: a remote client depends on no PortOS crate but the rate limiter and test support, \
                     so it stays a plain client of its service that knows nothing of PortOS's records"
                ));
            }
            if p.has_lib && !p.has_bin && ours(name) && services.contains(&dep.as_str()) {
                bad.push(format!(
                    "{edge}: no library crate depends on a binary crate; what two processes share is a library"
                ));
            }
            if name == "portos-store"
                && (WIRE.contains(&dep.as_str()) || dep == "reqwest" || ours(dep))
            {
                bad.push(format!(
                    "{edge}: portos-store knows no wire and no other PortOS crate; it is the bottom of every stack"
                ));
            }
        }
    }
    bad
}

#[test]
fn every_crate_edge_keeps_the_rules() {
    let all = workspace();
    for must in DOMAIN.iter().chain(REMOTE_CLIENTS).chain(&[
        "portos-store",
        "portos-supervisor",
        "portos-api",
    ]) {
        assert!(
            all.contains_key(*must),
            "{must} is not in the workspace: update the rules"
        );
    }
    let bad = violations(&all);
    assert!(
        bad.is_empty(),
        "crate rules broken ({}):\n  {}",
        bad.len(),
        bad.join("\n  ")
    );
}

#[test]
fn the_rules_catch_a_wire_in_the_domain() {
    let mut all = workspace();
    all.get_mut("portos-ai")
        .expect("portos-ai")
        .deps
        .push("axum".into());
    all.get_mut("portos-jira")
        .expect("portos-jira")
        .deps
        .push("portos-store".into());
    all.get_mut("portos-supervisor")
        .expect("portos-supervisor")
        .deps
        .push("portos-api".into());
    let bad = violations(&all);
    for edge in [
        "portos-ai → axum",
        "portos-jira → portos-store",
        "portos-supervisor → portos-api",
    ] {
        assert!(
            bad.iter().any(|b| b.starts_with(edge)),
            "{edge} not caught: {bad:?}"
        );
    }
}
