//! `cargo xtask bench ui`: the UI server's memory while it serves the dashboard
//! to live clients. The stack (api server, UI server, a few processes for
//! tiles) runs under our supervisor from release builds; the clients are real
//! Chromium tabs running the dashboard's script (its live socket through the
//! UI server, a process list every 2 s, the assets). Goal: under 20 MiB.
//!
//! Options: `--clients N` (10), `--duration SECS` (60).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{free_port, median, portos};

struct Options {
    clients: usize,
    secs: u64,
}

fn options(args: &[String]) -> Result<Options> {
    let [clients, secs] = super::numeric_options(args, [("--clients", 10), ("--duration", 60)])?;
    Ok(Options {
        clients: clients as usize,
        secs,
    })
}

/// Established TCP connections whose local port is `port` (IPv4 loopback).
fn connections_on(port: u16) -> usize {
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3
                && f[3] == "01"
                && f[1]
                    .rsplit_once(':')
                    .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                    == Some(port)
        })
        .count()
}

struct Chromium(Child);

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn ui(args: &[String]) -> Result<()> {
    let o = options(args)?;
    let bin = super::release_bins(&["portos-cli", "portos-api", "portos-ui"])?;
    let dir = tempfile::tempdir()?;
    let (api, ui, cdp) = (free_port()?, free_port()?, free_port()?);
    let mut config = format!(
        "[[process]]\nname = \"portos-server\"\ncommand = \"{api_bin}\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\", PORTOS_PROVIDER_CHECK_SECS = \"3600\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\" }}\n\n\
         [[process]]\nname = \"portos-ui\"\ncommand = \"{ui_bin}\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{ui}\", PORTOS_API_PORT = \"{api}\" }}\n\
         ports = {{ ui = {ui} }}\nhealth = {{ check = \"grpc\" }}\n",
        api_bin = bin.join("portos-api").display(),
        ui_bin = bin.join("portos-ui").display(),
    );
    for i in 0..4 {
        config.push_str(&format!(
            "\n[[process]]\nname = \"worker-{i}\"\ncommand = \"sh\"\nargs = [\"-c\", \"while true; do echo tick {i}; sleep 1; done\"]\n"
        ));
    }
    std::fs::write(dir.path().join("supervisor.toml"), config)?;
    portos(&bin, dir.path(), &["up", "-d"])?;
    let result = (|| -> Result<()> {
        let pid = super::pid_of(&bin, dir.path(), "portos-ui")?;
        std::thread::sleep(Duration::from_secs(1));
        let idle = super::rss_mib(pid)?;

        let chromium = ["chromium", "chromium-browser", "google-chrome"]
            .into_iter()
            .find(|c| {
                Command::new("sh")
                    .args(["-c", &format!("command -v {c}")])
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
            .context("Chromium is needed for the clients (apt install chromium)")?;
        let profile = tempfile::tempdir()?;
        let _browser = Chromium(
            Command::new(chromium)
                .args([
                    "--headless=new",
                    "--disable-gpu",
                    "--no-first-run",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                ])
                .arg(format!("--remote-debugging-port={cdp}"))
                .arg("--remote-debugging-address=127.0.0.1")
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .arg("about:blank")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting Chromium")?,
        );
        let start = Instant::now();
        while super::http_json(cdp, "GET", "/json/version").is_err() {
            if start.elapsed() > Duration::from_secs(15) {
                bail!("Chromium did not start");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // The first tab logs in with the link `portos up` prints (the session
        // cookie then serves every tab of this profile), the others open the dashboard.
        let token = std::fs::read_to_string(dir.path().join("data/auth/owner-token"))
            .context("the owner token of the bench's data dir")?;
        for i in 0..o.clients {
            let page = if i == 0 {
                format!("login?token={}", token.trim())
            } else {
                String::new()
            };
            super::http_json(
                cdp,
                "PUT",
                &format!("/json/new?http://127.0.0.1:{ui}/{page}"),
            )?;
            if i == 0 {
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        // Each tab holds one live socket through the UI server.
        let start = Instant::now();
        while connections_on(ui) < o.clients {
            if start.elapsed() > Duration::from_secs(30) {
                bail!(
                    "only {} of {} clients connected",
                    connections_on(ui),
                    o.clients
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        println!(
            "{} Chromium tabs on the dashboard ({} connections to the UI server); sampling for {} s …",
            o.clients,
            connections_on(ui),
            o.secs
        );
        let mut samples = Vec::new();
        let end = Instant::now() + Duration::from_secs(o.secs);
        while Instant::now() < end {
            samples.push(super::rss_mib(pid)?);
            std::thread::sleep(Duration::from_millis(250));
        }
        let peak = samples.iter().copied().fold(0.0, f64::max);
        let med = median(samples);
        let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let fields: Vec<&str> = cpu
            .rsplit_once(')')
            .context("stat")?
            .1
            .split_whitespace()
            .collect();
        let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
        println!();
        println!("| UI server (portos-ui, release) | RSS |");
        println!("|---|---|");
        println!("| idle, no client | {idle:.1} MiB |");
        println!(
            "| {} live dashboard tabs, median | {med:.1} MiB |",
            o.clients
        );
        println!(
            "| {} live dashboard tabs, peak | {peak:.1} MiB |",
            o.clients
        );
        println!();
        println!(
            "goal: under 20 MiB with 10 live clients: {} (CPU used in all: {:.2} s)",
            if peak < 20.0 { "met" } else { "NOT met" },
            ticks / 100.0
        );
        Ok(())
    })();
    let _ = portos(&bin, dir.path(), &["down"]);
    result
}
