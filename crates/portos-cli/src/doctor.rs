//! `portos doctor`: what is wrong with this setup, one line per check, each
//! problem with its fix. Reads the table, the data dir, `/proc` and the
//! supervisor's socket; changes nothing. Exit 0 when all is well, 1 otherwise.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use owo_colors::{OwoColorize, Stream};
use portos_config::Config;
use portos_proto::supervisor::v1 as pb;
use serde_json::json;

use crate::{Failure, Outcome, client, render};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    /// Worth knowing, not wrong.
    Note,
    Problem,
}

#[derive(Debug)]
struct Check {
    name: &'static str,
    verdict: Verdict,
    detail: String,
    fix: Option<String>,
}

fn ok(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        verdict: Verdict::Ok,
        detail: detail.into(),
        fix: None,
    }
}

fn problem(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        name,
        verdict: Verdict::Problem,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

/// A bare command as the supervisor finds it (beside `portos`, then on `PATH`).
fn find_program(name: &str) -> Option<PathBuf> {
    let bin = portos_supervisor::program::bin_dir();
    portos_supervisor::program::find(name, Path::new("/"), bin.as_deref()).ok()
}

fn version_of(program: &Path) -> Option<String> {
    let out = std::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.lines().next()?.trim().to_string()).filter(|v| !v.is_empty())
}

fn binaries(config: &Config) -> Vec<Check> {
    let bin = portos_supervisor::program::bin_dir();
    let missing: Vec<String> = config
        .processes
        .iter()
        .filter(|p| portos_supervisor::program::find(&p.command, &p.cwd, bin.as_deref()).is_err())
        .map(|p| format!("{} ({})", p.command, p.name))
        .collect();
    vec![if missing.is_empty() {
        ok(
            "programs",
            format!(
                "every command of the table found ({})",
                config.processes.len()
            ),
        )
    } else {
        problem(
            "programs",
            format!(
                "not found (beside portos, on PATH, or as written): {}",
                missing.join(", ")
            ),
            "build them: cargo build --release, and run the portos beside them",
        )
    }]
}

/// Chromium as the browser host finds it: `chromePath` of
/// `browser-config.json`, `CHROME_PATH`, the usual names on `PATH`.
fn chromium(config: &Config, data_dir: &Path) -> Check {
    if !config
        .processes
        .iter()
        .any(|p| p.command == "portos-browser")
    {
        return Check {
            name: "chromium",
            verdict: Verdict::Note,
            detail: "no browser host in the table".into(),
            fix: None,
        };
    }
    let configured = std::fs::read_to_string(data_dir.join("browser-config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["chromePath"].as_str().map(PathBuf::from))
        .filter(|p| !p.as_os_str().is_empty());
    let given = configured
        .map(|p| ("chromePath of browser-config.json", p))
        .or_else(|| std::env::var_os("CHROME_PATH").map(|p| ("CHROME_PATH", PathBuf::from(p))));
    let found = match given {
        Some((from, p)) if !portos_supervisor::program::is_executable(&p) => {
            return problem(
                "chromium",
                format!("{from} is {}, which is not a program", p.display()),
                format!("point {from} at Chromium, or remove it to find Chromium on PATH"),
            );
        }
        Some((_, p)) => Some(p),
        None => [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ]
        .iter()
        .find_map(|n| find_program(n)),
    };
    match found {
        Some(p) => ok(
            "chromium",
            format!(
                "{} ({})",
                p.display(),
                version_of(&p).unwrap_or_else(|| "version unknown".into())
            ),
        ),
        None => problem(
            "chromium",
            "no Chromium on PATH",
            "install it (Debian/Ubuntu: sudo apt install chromium) or set CHROME_PATH",
        ),
    }
}

fn node() -> Check {
    match find_program("node") {
        Some(p) => ok(
            "node.js",
            version_of(&p).unwrap_or_else(|| p.display().to_string()),
        ),
        None => problem(
            "node.js",
            "Node.js not found: apps' PM2 ecosystem files cannot be read",
            "install Node.js (https://nodejs.org or your package manager)",
        ),
    }
}

/// Every port of the table: free, or held by a process of ours.
fn ports(config: &Config, ours: &[pb::Process]) -> Check {
    let listeners = portos_sockets::listening();
    let mut held = Vec::new();
    for p in &config.processes {
        for (label, port) in &p.ports {
            let Some(l) = listeners.iter().find(|l| l.port == *port) else {
                continue;
            };
            let by_us = ours
                .iter()
                .any(|o| o.pid != 0 && l.pgid == Some(o.pid as i32));
            if !by_us {
                held.push(format!("{port} ({}.{label}) by {}", p.name, l.holder()));
            }
        }
    }
    if held.is_empty() {
        ok("ports", "every port of the table is free or ours")
    } else {
        problem(
            "ports",
            format!("held by another program: {}", held.join("; ")),
            "stop that program, or give the process another port in supervisor.toml",
        )
    }
}

fn data_dir_checks(data_dir: &Path, auth_off: bool) -> Vec<Check> {
    let mut out = Vec::new();
    match std::fs::metadata(data_dir) {
        Err(_) => out.push(problem(
            "data dir",
            format!("{} does not exist", data_dir.display()),
            "portos up creates and seeds it",
        )),
        Ok(m) if m.permissions().mode() & 0o002 != 0 => out.push(problem(
            "data dir",
            format!("{} is writable by every user", data_dir.display()),
            format!("chmod o-w {}", data_dir.display()),
        )),
        Ok(_) => out.push(ok("data dir", data_dir.display().to_string())),
    }
    let token = data_dir.join("auth/owner-token");
    out.push(match std::fs::metadata(&token) {
        Err(_) if auth_off => Check {
            name: "owner token",
            verdict: Verdict::Note,
            detail: "PORTOS_AUTH=off: anyone who reaches this machine can use PortOS".into(),
            fix: None,
        },
        Err(_) => problem(
            "owner token",
            "no owner token yet",
            "portos token (or portos up) makes one",
        ),
        Ok(m) if m.permissions().mode() & 0o077 != 0 => problem(
            "owner token",
            format!(
                "{} can be read by others (mode {:o})",
                token.display(),
                m.permissions().mode() & 0o777
            ),
            format!("chmod 600 {}", token.display()),
        ),
        Ok(_) => ok("owner token", "set, readable by you only"),
    });
    out
}

/// `portos doctor [--json]`.
pub async fn doctor(config_path: &Path, data_dir: &Path, as_json: bool) -> Outcome {
    let mut checks = Vec::new();
    let config = match Config::load(config_path) {
        Ok(c) => {
            checks.push(ok("config", format!("{} is valid", c.path.display())));
            Some(c)
        }
        Err(e) => {
            checks.push(problem(
                "config",
                e.to_string(),
                "fix the named line of the file",
            ));
            None
        }
    };
    let ours = match client::try_connect(data_dir).await {
        Some(mut c) => match c.list_processes(pb::ListProcessesRequest {}).await {
            Ok(r) => {
                let ps = r.into_inner().processes;
                checks.push(ok("supervisor", format!("running, {} processes", ps.len())));
                let sick: Vec<String> = ps
                    .iter()
                    .filter(|p| p.state != pb::State::Healthy as i32)
                    .map(|p| {
                        format!("{} is {} {}", p.name, render::state_name(p.state), p.reason)
                            .trim()
                            .to_string()
                    })
                    .collect();
                checks.push(if sick.is_empty() {
                    ok("services", "every process healthy")
                } else {
                    problem(
                        "services",
                        sick.join("; "),
                        "portos logs <name> says why; portos restart <name>",
                    )
                });
                ps
            }
            Err(s) => {
                checks.push(problem(
                    "supervisor",
                    s.message().to_string(),
                    "portos down, then portos up -d",
                ));
                Vec::new()
            }
        },
        None => {
            checks.push(problem(
                "supervisor",
                format!("not running for {}", data_dir.display()),
                "portos up -d",
            ));
            Vec::new()
        }
    };
    if let Some(c) = &config {
        checks.extend(binaries(c));
        checks.push(chromium(c, data_dir));
        checks.push(ports(c, &ours));
    }
    checks.push(node());
    checks.extend(data_dir_checks(
        data_dir,
        crate::owner::auth_off(config.as_ref()),
    ));
    checks.push(match config.as_ref().and_then(|c| c.tls.as_ref()) {
        Some(portos_config::Tls::Files { cert, .. }) => {
            ok("https", format!("served with {}", cert.display()))
        }
        Some(portos_config::Tls::Tailscale) => match crate::tailscale::dns_name() {
            Ok(name) => ok("https", format!("Tailscale's certificate for {name}")),
            Err(e) => problem(
                "https",
                e.message,
                "start Tailscale (tailscale up) and enable HTTPS for the tailnet",
            ),
        },
        None => Check {
            name: "https",
            verdict: Verdict::Note,
            detail: "not configured ([tls] in supervisor.toml): a phone reaches PortOS over http"
                .into(),
            fix: None,
        },
    });

    let failed = checks
        .iter()
        .filter(|c| c.verdict == Verdict::Problem)
        .count();
    if as_json {
        let list: Vec<serde_json::Value> = checks
            .iter()
            .map(|c| {
                json!({
                    "check": c.name,
                    "ok": c.verdict != Verdict::Problem,
                    "note": c.verdict == Verdict::Note,
                    "detail": c.detail,
                    "fix": c.fix,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
    } else {
        for c in &checks {
            let mark = match c.verdict {
                Verdict::Ok => "✔"
                    .if_supports_color(Stream::Stdout, |t| t.green())
                    .to_string(),
                Verdict::Note => "•".to_string(),
                Verdict::Problem => "✘"
                    .if_supports_color(Stream::Stdout, |t| t.red())
                    .to_string(),
            };
            println!("{mark} {:<12} {}", c.name, c.detail);
            if let Some(f) = &c.fix {
                println!("  {:<12} fix: {f}", "");
            }
        }
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(Failure::state(format!(
            "{failed} problem{} found",
            if failed == 1 { "" } else { "s" }
        )))
    }
}
