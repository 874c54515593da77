//! `cargo xtask bench api [--duration SECS] [--connections N] [--runs N]`:
//! `portos-api` and the original's Express routes over the same data dir, under
//! the same load, in one run.
//!
//! The peer is `xtask/bench/express-api.mjs`: the original server's middleware
//! and its two routes, with the provider service of `portos-ai-toolkit` (the
//! original's own module, installed from npm). The original server as a whole
//! is not published on npm. Load comes from wrk (Debian's package, installed
//! when missing). Two placements, each with fresh servers: the same CPU budget
//! (each server pinned to one core, wrk to the others; when there are two cores
//! or more) and the whole machine (nothing pinned, as on a dev machine).
//!
//! Figures per route: requests per second, p99 latency and the server's CPU
//! time per request (all its threads; the figure that does not depend on how
//! hard one core of wrk can push), each the median of `--runs` runs after a
//! warm-up; the RSS of each server right after the load and once idle for a few seconds. Before
//! measuring, both answers are checked to hold the same providers and entries.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::median;

/// The routes measured: a name for the table, the path and query.
const ROUTES: [(&str, &str); 2] = [
    ("GET /api/providers", "/api/providers"),
    (
        "history query (action filter, page of 20)",
        "/api/history?action=restart&limit=20&offset=5",
    ),
];
/// The peer's npm packages: the original's Express major, its cors, the toolkit.
const PEER_PACKAGES: [&str; 3] = ["express@4", "cors@2", "portos-ai-toolkit@0.8"];
/// How long both servers idle after the load before their RSS is read again.
const SETTLE: Duration = Duration::from_secs(3);
/// `history.json` entries: the original keeps at most 500.
const HISTORY_ENTRIES: usize = 500;

struct Options {
    duration: u64,
    connections: u32,
    runs: usize,
}

fn options(args: &[String]) -> Result<Options> {
    let [duration, connections, runs] = super::numeric_options(
        args,
        [("--duration", 10), ("--connections", 50), ("--runs", 3)],
    )?;
    Ok(Options {
        duration,
        connections: connections as u32,
        runs: runs as usize,
    })
}

/// One route's figures for one server.
#[derive(Debug, Clone, Copy)]
struct Load {
    rps: f64,
    p99_ms: f64,
    /// The server's CPU time (all its threads) per request answered.
    cpu_us: f64,
}

pub fn api(args: &[String]) -> Result<()> {
    let opts = options(args)?;
    ensure_wrk()?;
    let api_bin = super::release_bins(&["portos-api"])?.join("portos-api");
    let work = tempfile::Builder::new()
        .prefix("portos-bench-api")
        .tempdir()?;
    let node = work.path().join("node");
    super::npm_install(&node, &PEER_PACKAGES)?;
    let harness = node.join("express-api.mjs");
    std::fs::write(&harness, include_str!("../../bench/express-api.mjs"))?;

    let data = work.path().join("data");
    std::fs::create_dir_all(&data)?;
    std::fs::copy(
        node.join("node_modules/portos-ai-toolkit/src/defaults/providers.sample.json"),
        data.join("providers.json"),
    )
    .context("the toolkit's sample providers")?;
    std::fs::write(
        data.join("history.json"),
        serde_json::to_vec_pretty(&history())?,
    )?;

    let versions = format!(
        "Express {}, portos-ai-toolkit {}, Node.js {}",
        super::npm_version(&node, "express"),
        super::npm_version(&node, "portos-ai-toolkit"),
        node_version()
    );
    // The api server wants the owner's credential; wrk sends it from a script
    // file, so the token is on no command line. Express ignores the header.
    let token = super::owner_token(&data)?;
    let auth_script = data.join("wrk-auth.lua");
    std::fs::write(
        &auth_script,
        format!("wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"),
    )?;
    let mut tables = Vec::new();
    for place in Placement::all() {
        println!("{} …", place.describe());
        let ours = Server::start(
            "portos-api",
            place.server(&api_bin),
            Some(&token),
            |c, port| {
                c.env("HOST", "127.0.0.1")
                    .env("PORT", port.to_string())
                    .env("PORTOS_DATA_DIR", &data);
            },
        )?;
        let theirs = Server::start(
            "Express",
            place.server(Path::new("node")),
            None,
            |c, port| {
                c.arg(&harness).arg(&data).arg(port.to_string());
            },
        )?;
        for (_, path) in ROUTES {
            same_answers(
                path,
                &super::http_json_as(ours.port, "GET", path, Some(&token))?,
                &super::http_json(theirs.port, "GET", path)?,
            )?;
        }
        let mut rows = Vec::new();
        for (name, path) in ROUTES {
            let mut figures = Vec::new();
            for server in [&ours, &theirs] {
                println!("  loading {} with {name} …", server.name);
                figures.push(measure(&place, &opts, server, path, &auth_script)?);
            }
            rows.push((name, figures[0], figures[1]));
        }
        // Right after the last load, then once both have been idle a moment
        // (Node.js collects, ours hands free pages back after a burst).
        let loaded = [ours.rss_mib(), theirs.rss_mib()];
        std::thread::sleep(SETTLE);
        let idle = [ours.rss_mib(), theirs.rss_mib()];
        tables.push((place, rows, loaded, idle));
    }

    println!();
    println!(
        "api benchmark: wrk, {} connections, {} s × {} runs per route (medians of req/s and of p99); {versions}",
        opts.connections, opts.duration, opts.runs,
    );
    for (place, rows, loaded, idle) in tables {
        println!();
        println!("{}:", place.describe());
        println!(
            "| route | Express req/s | portos req/s | ratio | Express p99 | portos p99 | Express CPU/req | portos CPU/req | ratio |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for (name, ours, theirs) in rows {
            println!(
                "| {name} | {:.0} | {:.0} | {:.1}× | {:.2} ms | {:.2} ms | {:.0} µs | {:.1} µs | {:.1}× |",
                theirs.rps,
                ours.rps,
                ours.rps / theirs.rps.max(1e-9),
                theirs.p99_ms,
                ours.p99_ms,
                theirs.cpu_us,
                ours.cpu_us,
                theirs.cpu_us / ours.cpu_us.max(1e-9),
            );
        }
        println!(
            "| RSS right after the load | {:.1} MiB | {:.1} MiB | | | | | | |",
            loaded[1], loaded[0]
        );
        println!(
            "| RSS {} s after the load | {:.1} MiB | {:.1} MiB | | | | | | |",
            SETTLE.as_secs(),
            idle[1],
            idle[0]
        );
    }
    Ok(())
}

/// 500 entries of five actions, one in ten failed, in the original's shape.
fn history() -> Value {
    let actions = ["start", "stop", "restart", "ai-run", "command"];
    let entries: Vec<Value> = (0..HISTORY_ENTRIES)
        .map(|i| {
            let ok = i % 10 != 0;
            json!({
                "id": format!("00000000-0000-4000-8000-{i:012}"),
                "action": actions[i % actions.len()],
                "target": format!("app-{}", i % 7),
                "targetName": format!("App number {}", i % 7),
                "details": { "processes": [format!("app-{}-server", i % 7)], "attempt": i % 3 },
                "success": ok,
                "error": if ok { Value::Null } else { json!("process exited with code 1") },
                "timestamp": format!("2026-11-{:02}T{:02}:{:02}:00.000Z", 1 + i / 24 % 28, i % 24, i % 60),
            })
        })
        .collect();
    json!({ "entries": entries })
}

/// Where the servers and wrk run. Each mode starts its own servers, since a
/// server sizes its thread pool from the cores it may use when it starts.
#[derive(Debug, Clone, Copy)]
enum Placement {
    /// The same CPU budget for both servers: the last core; wrk on the others.
    Pinned { cores: usize },
    /// The whole machine, shared with wrk, as on a dev machine.
    Shared,
}

impl Placement {
    /// Pinned (when there are two cores or more and taskset), then shared.
    fn all() -> Vec<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let taskset = Command::new("taskset")
            .arg("-V")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let mut modes = Vec::new();
        if cores >= 2 && taskset {
            modes.push(Self::Pinned { cores });
        }
        modes.push(Self::Shared);
        modes
    }

    fn wrap(&self, cpus: impl FnOnce(usize) -> String, program: &Path) -> Command {
        match *self {
            Self::Shared => Command::new(program),
            Self::Pinned { cores } => {
                let mut c = Command::new("taskset");
                c.args(["-c", &cpus(cores)]).arg(program);
                c
            }
        }
    }

    fn server(&self, program: &Path) -> Command {
        self.wrap(|cores| (cores - 1).to_string(), program)
    }

    fn load(&self) -> Command {
        self.wrap(|cores| format!("0-{}", cores - 2), Path::new("wrk"))
    }

    fn describe(&self) -> String {
        match *self {
            Self::Pinned { cores } => format!(
                "same CPU budget: each server pinned to core {}, wrk to cores 0-{}",
                cores - 1,
                cores - 2
            ),
            Self::Shared => "whole machine: servers and wrk unpinned".into(),
        }
    }
}

/// A server under test on a free loopback port; killed when dropped.
struct Server {
    name: &'static str,
    port: u16,
    child: Child,
}

impl Server {
    /// Starts a server; ready once `GET /api/providers` answers 200 (with
    /// `bearer`, which Express ignores).
    fn start(
        name: &'static str,
        mut cmd: Command,
        bearer: Option<&str>,
        args: impl FnOnce(&mut Command, u16),
    ) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        args(&mut cmd, port);
        // Both log as they do by default (ours a line per request), to nowhere.
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let server = Self { name, port, child };
        let start = Instant::now();
        while super::http_json_as(port, "GET", "/api/providers", bearer).is_err() {
            if start.elapsed() > Duration::from_secs(30) {
                bail!("{name} did not answer on port {port} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// CPU time the server has used so far (user + system, all threads).
    fn cpu_seconds(&self) -> Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // After the command name in parentheses: fields 14 and 15 are utime, stime.
        let rest = stat.rsplit_once(')').context("/proc stat")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = fields
            .get(11..13)
            .context("/proc stat fields")?
            .iter()
            .map(|f| f.parse::<f64>().unwrap_or(0.0))
            .sum();
        let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)?.unwrap_or(100) as f64;
        Ok(ticks / hz)
    }

    fn rss_mib(&self) -> f64 {
        super::rss_mib(self.child.id()).unwrap_or(0.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Both servers must answer the same providers (ids, no key) and the same
/// page of entries, or the comparison would be of different work.
fn same_answers(path: &str, ours: &Value, theirs: &Value) -> Result<()> {
    let ids = |v: &Value, list: &str| -> Vec<String> {
        v[list]
            .as_array()
            .map(|a| a.iter().map(|p| p["id"].to_string()).collect())
            .unwrap_or_default()
    };
    let list = if path.starts_with("/api/providers") {
        if ours["activeProvider"] != theirs["activeProvider"] {
            bail!("{path}: the active provider differs");
        }
        "providers"
    } else {
        if ours["total"] != theirs["total"] {
            bail!("{path}: total {} vs {}", ours["total"], theirs["total"]);
        }
        "entries"
    };
    let (a, b) = (ids(ours, list), ids(theirs, list));
    if a.is_empty() || a != b {
        bail!("{path}: the servers answer different {list}: {a:?} vs {b:?}");
    }
    if ours.to_string().contains("\"apiKey\"") {
        bail!("{path}: our answer carries an apiKey");
    }
    Ok(())
}

/// A warm-up, then `runs` wrk runs; the medians.
fn measure(
    pin: &Placement,
    o: &Options,
    server: &Server,
    path: &str,
    script: &Path,
) -> Result<Load> {
    let url = format!("http://127.0.0.1:{}{path}", server.port);
    wrk(pin, o.connections, 2, &url, script)?;
    let runs: Vec<Load> = (0..o.runs)
        .map(|_| {
            let before = server.cpu_seconds()?;
            let (rps, p99_ms, requests) = wrk(pin, o.connections, o.duration, &url, script)?;
            let cpu = server.cpu_seconds()? - before;
            Ok(Load {
                rps,
                p99_ms,
                cpu_us: cpu * 1e6 / requests.max(1) as f64,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Load {
        rps: median(runs.iter().map(|r| r.rps).collect()),
        p99_ms: median(runs.iter().map(|r| r.p99_ms).collect()),
        cpu_us: median(runs.iter().map(|r| r.cpu_us).collect()),
    })
}

/// One wrk run: requests per second, p99 in ms, requests answered.
fn wrk(
    pin: &Placement,
    connections: u32,
    secs: u64,
    url: &str,
    script: &Path,
) -> Result<(f64, f64, u64)> {
    let out = pin
        .load()
        .args(["-t1", "--latency"])
        .arg("-s")
        .arg(script)
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"))
        .arg(url)
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    if let Some(line) = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
    {
        bail!("{url}: {}", line.trim());
    }
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .context("wrk printed no Requests/sec")?;
    let p99_ms = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .and_then(|v| duration_ms(v.trim()))
        .context("wrk printed no 99% latency")?;
    // "  123456 requests in 5.00s, 551.23MB read"
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .context("wrk printed no request count")?;
    Ok((rps, p99_ms, requests))
}

/// wrk's `812.00us`, `1.23ms`, `2.00s` in milliseconds.
fn duration_ms(v: &str) -> Option<f64> {
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e3)
    } else {
        return None;
    };
    Some(num.parse::<f64>().ok()? * scale)
}

/// wrk from Debian's package when it is not on the PATH.
fn ensure_wrk() -> Result<()> {
    let present = || {
        Command::new("wrk")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if present() {
        return Ok(());
    }
    println!("installing wrk with apt-get …");
    let sudo = !nix::unistd::Uid::effective().is_root();
    let mut cmd = Command::new(if sudo { "sudo" } else { "apt-get" });
    if sudo {
        cmd.arg("apt-get");
    }
    let status = cmd
        .args(["install", "-y", "-qq", "wrk"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    if !status.success() || !present() {
        bail!("wrk is needed: install it (apt-get install wrk)");
    }
    Ok(())
}

fn node_version() -> String {
    Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
