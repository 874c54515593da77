//! `cargo xtask bench <name>`: our binaries side by side with what they
//! replace, measured in one run on this machine. Not tests: figures to read.
//!
//! - `supervisor`: `portos` against PM2 (see `supervisor.rs`).
//! - `api`: the api server against the original's Express routes (see `api.rs`).
//! - `ui`: the UI server's memory serving the dashboard to live Chromium tabs (see `ui.rs`).
//! - `shell`: the web shell's keystroke latency and throughput against a PTY driven directly (see `shell.rs`).

mod api;
mod reload;
mod shell;
mod supervisor;
mod ui;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

pub use api::api;
pub use shell::shell;
pub use supervisor::supervisor;
pub use ui::ui;

/// Options `--name N`, each with its default, in the order given: a value
/// that is not a positive whole number, or a name not known, is an error naming it.
fn numeric_options<const K: usize>(args: &[String], known: [(&str, u64); K]) -> Result<[u64; K]> {
    let mut values = known.map(|(_, default)| default);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let Some(i) = known.iter().position(|(name, _)| name == flag) else {
            let names: Vec<&str> = known.iter().map(|(n, _)| *n).collect();
            bail!("unknown option {flag:?}; known: {}", names.join(", "));
        };
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        values[i] = value
            .parse()
            .ok()
            .filter(|v| *v > 0)
            .with_context(|| format!("{flag}: {value:?} is not a positive whole number"))?;
    }
    Ok(values)
}

/// A free loopback port.
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `portos ARGS` on the stack of `dir` (`supervisor.toml`, `data/`); its stdout.
fn portos(bin: &Path, dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(bin.join("portos"))
        .arg("--config")
        .arg(dir.join("supervisor.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()?;
    if !out.status.success() {
        bail!("portos {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The pid of the supervised process `name`, from `portos status --json`.
fn pid_of(bin: &Path, dir: &Path, name: &str) -> Result<u32> {
    let status: serde_json::Value =
        serde_json::from_str(&portos(bin, dir, &["status", "--json"])?)?;
    status
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == name))
        .and_then(|p| p["pid"].as_u64())
        .map(|p| p as u32)
        .with_context(|| format!("the pid of {name}"))
}

/// Builds the release binaries of `packages` and returns the folder holding them.
fn release_bins(packages: &[&str]) -> Result<PathBuf> {
    let mut args = vec!["build", "--release"];
    for p in packages {
        args.extend(["-p", p]);
    }
    crate::cargo(&args)?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target"));
    Ok(target.join("release"))
}

/// `npm install PACKAGES` into `dir`: the peers we measure against come from
/// the npm registry at bench time, never from the repository.
fn npm_install(dir: &Path, packages: &[&str]) -> Result<()> {
    println!(
        "installing {} from npm into {} …",
        packages.join(" "),
        dir.display()
    );
    let status = Command::new("npm")
        .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
        .arg(dir)
        .args(packages)
        .status()
        .context("running npm (is Node.js installed?)")?;
    if !status.success() {
        bail!("npm install {} failed", packages.join(" "));
    }
    Ok(())
}

/// The version an npm package in `dir` was installed at, from its package.json.
fn npm_version(dir: &Path, package: &str) -> String {
    std::fs::read_to_string(dir.join("node_modules").join(package).join("package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// A fresh owner token written where `portos` keeps it (`<data>/auth/owner-token`).
fn owner_token(data: &Path) -> Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .context("reading /dev/urandom")?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::create_dir_all(data.join("auth"))?;
    std::fs::write(data.join("auth/owner-token"), format!("{token}\n"))?;
    Ok(token)
}

/// Polls `f` (every 0.5 ms) until it answers, or fails after `timeout` naming `what`.
fn wait<T>(
    timeout: std::time::Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> Result<T> {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            anyhow::bail!("timed out waiting for {what}");
        }
        std::thread::sleep(std::time::Duration::from_micros(500));
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

/// One request over loopback with a plain HTTP/1.1 exchange; the body as JSON.
fn http_json(port: u16, method: &str, path: &str) -> Result<serde_json::Value> {
    http_json_as(port, method, path, None)
}

/// [`http_json`] with a bearer token.
fn http_json_as(
    port: u16,
    method: &str,
    path: &str,
    bearer: Option<&str>,
) -> Result<serde_json::Value> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // Read to the end, or to Content-Length: some servers (Chromium's DevTools
    // endpoint) keep the connection open despite `Connection: close`.
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&raw);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            });
            if length.is_some_and(|len| body.len() >= len) {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").context("no HTTP header")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!(
            "{method} {path}: {}",
            head.lines().next().unwrap_or_default()
        );
    }
    // Chunked or not: the JSON is between the first `{`/`[` and the last `}`/`]`.
    let start = body.find(['{', '[']).context("no JSON")?;
    let end = body.rfind(['}', ']']).context("no JSON")?;
    Ok(serde_json::from_str(&body[start..=end])?)
}

/// The resident memory of a process, in bytes (`VmRSS`).
fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("VmRSS")?;
    Ok(kb * 1024)
}

/// The same in MiB.
fn rss_mib(pid: u32) -> Result<f64> {
    Ok(rss_bytes(pid)? as f64 / (1024.0 * 1024.0))
}
