//! `cargo xtask bench supervisor`: `portos` and PM2 on the same six idle
//! children and the same workloads, in one run.
//!
//! Figures: the supervisor's idle RSS; crash → respawn latency (median of 20
//! `kill -9`, the child stamping the time it starts); 200,000 log lines captured
//! with timestamps (time until the last is in the file, and lines lost); status
//! latency (median of 10 `portos status --json` against `pm2 jlist`); and a
//! reload of a 50-process table with one change (see `reload.rs`). Each figure
//! is the median of `--runs` runs (3 by default), ours and PM2's taking turns,
//! each run with fresh supervisors.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};

use super::{median, wait};

const CHILDREN: usize = 6;
const KILLS: usize = 20;
const LINES: usize = 200_000;
const STATUS_RUNS: usize = 10;

/// The child both supervisors run: stamp the start time (ns) into a file, then sleep.
fn idle_script(stamp: &Path) -> String {
    format!("date +%s%N > {}; exec sleep 100000", stamp.display())
}

fn flood_script() -> String {
    format!(
        "awk 'BEGIN {{ for (i = 1; i <= {LINES}; i++) printf \"%d line of the flood\\n\", i }}'; exec sleep 100000"
    )
}

#[derive(Debug, Clone, Copy)]
struct Figures {
    rss_bytes: u64,
    respawn_ms: f64,
    capture: Duration,
    lost: usize,
    status_ms: f64,
}

impl Figures {
    /// Each figure's median over runs (lines lost: the worst run).
    fn median_of(runs: &[Figures]) -> Figures {
        let of = |f: fn(&Figures) -> f64| median(runs.iter().map(f).collect());
        Figures {
            rss_bytes: of(|r| r.rss_bytes as f64) as u64,
            respawn_ms: of(|r| r.respawn_ms),
            capture: Duration::from_secs_f64(of(|r| r.capture.as_secs_f64())),
            lost: runs.iter().map(|r| r.lost).max().unwrap_or(0),
            status_ms: of(|r| r.status_ms),
        }
    }
}

pub fn supervisor(args: &[String]) -> Result<()> {
    let [runs] = super::numeric_options(args, [("--runs", 3)])?;
    let runs = runs.max(1) as usize;
    let portos_bin = super::release_bins(&["portos-cli"])?.join("portos");
    let work = tempfile::Builder::new().prefix("portos-bench").tempdir()?;
    let pm2_dir = work.path().join("pm2");
    super::npm_install(&pm2_dir, &["pm2@5"])?;
    let pm2_bin = pm2_dir.join("node_modules/.bin/pm2");

    let (mut ours, mut theirs, mut our_reloads, mut their_reloads) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 1..=runs {
        let dir = |name: &str| work.path().join(format!("{name}-{run}"));
        println!("run {run} of {runs}: measuring portos …");
        ours.push(measure_portos(&portos_bin, &dir("portos"))?);
        println!("run {run} of {runs}: measuring PM2 …");
        theirs.push(measure_pm2(&pm2_bin, &dir("pm2-run"))?);
        println!("run {run} of {runs}: a reload of 50 processes, portos then PM2 …");
        our_reloads.push(super::reload::portos(&portos_bin, &dir("portos-reload"))?);
        their_reloads.push(super::reload::pm2(&pm2_bin, &dir("pm2-reload"))?);
    }
    let (ours, theirs) = (Figures::median_of(&ours), Figures::median_of(&theirs));
    let our_reload = super::reload::Reload::median_of(&our_reloads);
    let their_reload = super::reload::Reload::median_of(&their_reloads);

    // From its package.json: any `pm2` command would start a new daemon.
    let pm2_version = super::npm_version(&pm2_dir, "pm2");
    println!();
    println!(
        "supervisor benchmark: {CHILDREN} idle `sh` children, same workloads (PM2 {pm2_version}); medians of {runs} runs"
    );
    println!("| figure | PM2 | portos | PM2 / portos |");
    println!("|---|---|---|---|");
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "| supervisor idle RSS | {:.1} MiB | {:.1} MiB | {:.1}× |",
        mib(theirs.rss_bytes),
        mib(ours.rss_bytes),
        theirs.rss_bytes as f64 / ours.rss_bytes.max(1) as f64
    );
    println!(
        "| crash → respawn, median of {KILLS} kill -9 | {:.2} ms | {:.2} ms | {:.1}× |",
        theirs.respawn_ms,
        ours.respawn_ms,
        theirs.respawn_ms / ours.respawn_ms.max(1e-3)
    );
    println!(
        "| {LINES} log lines captured | {} ms, {} lost | {} ms, {} lost | {:.1}× |",
        theirs.capture.as_millis(),
        theirs.lost,
        ours.capture.as_millis(),
        ours.lost,
        theirs.capture.as_secs_f64() / ours.capture.as_secs_f64().max(1e-6)
    );
    println!(
        "| status, median of {STATUS_RUNS} (`pm2 jlist` / `portos status --json`) | {:.1} ms | {:.1} ms | {:.1}× |",
        theirs.status_ms,
        ours.status_ms,
        theirs.status_ms / ours.status_ms.max(1e-3)
    );
    println!("{}", super::reload::row(&their_reload, &our_reload));
    Ok(())
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn read_stamp(p: &Path) -> Option<u128> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// kill -9 of the child, `KILLS` times; latency = the new child's stamp − the kill time.
fn respawn_latency(stamp: &Path, pid_of: &dyn Fn() -> Option<i32>) -> Result<f64> {
    let mut samples = Vec::new();
    for _ in 0..KILLS {
        // Past min_uptime, so every kill is an ordinary crash, not a crash loop.
        std::thread::sleep(Duration::from_millis(300));
        let pid = wait(Duration::from_secs(10), "the child's pid", &pid_of)?;
        let before = read_stamp(stamp);
        let killed_at = now_ns();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )?;
        let started = wait(Duration::from_secs(10), "the respawn", || {
            read_stamp(stamp).filter(|s| Some(*s) != before)
        })?;
        samples.push(started.saturating_sub(killed_at) as f64 / 1e6);
    }
    Ok(median(samples))
}

/// Time until the last flood line is in `log`, then lines missing.
fn capture(log: &Path, started: Instant) -> Result<(Duration, usize)> {
    let last = format!("{LINES} line of the flood");
    let took = wait(Duration::from_secs(120), "the last flood line", || {
        let text = std::fs::read(log).ok()?;
        let tail = String::from_utf8_lossy(&text[text.len().saturating_sub(200)..]).into_owned();
        tail.lines()
            .last()
            .is_some_and(|l| l.ends_with(&last))
            .then(|| started.elapsed())
    })?;
    let text = std::fs::read_to_string(log)?;
    let seen = text
        .lines()
        .filter(|l| l.ends_with(" line of the flood"))
        .count();
    Ok((took, LINES.saturating_sub(seen)))
}

/// Runs the command that starts the flood and, at the same time, waits for its
/// last line in `log`: the time is from the command's start to the last line.
fn capture_while(mut start: Command, log: &Path) -> Result<(Duration, usize)> {
    let started = Instant::now();
    let mut child = start.stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
    let result = capture(log, started);
    let status = child.wait()?;
    if !status.success() {
        bail!("{start:?} failed");
    }
    result
}

fn time_command(mut cmd: Command) -> Result<f64> {
    let start = Instant::now();
    let out = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status()?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if !out.success() {
        bail!("{cmd:?} failed");
    }
    Ok(ms)
}

/// How one supervisor is driven, for the shared measuring procedure.
struct Driver<'a> {
    /// The file holding the supervisor daemon's pid.
    pid_file: PathBuf,
    /// The stamp file of the first idle child.
    stamp: &'a Path,
    /// The first idle child's pid once it runs again.
    pid_of: &'a dyn Fn() -> Option<i32>,
    /// The command that starts the flood, and the file its lines land in.
    start_flood: Command,
    flood_log: PathBuf,
    /// The status command timed against the other's.
    status: &'a dyn Fn() -> Command,
}

/// The four figures, measured the same way for both supervisors.
fn measure(d: Driver<'_>) -> Result<Figures> {
    std::thread::sleep(Duration::from_secs(3));
    let daemon: i32 = std::fs::read_to_string(&d.pid_file)?.trim().parse()?;
    let rss_bytes = super::rss_bytes(daemon as u32)?;
    let respawn_ms = respawn_latency(d.stamp, d.pid_of)?;
    let (capture, lost) = capture_while(d.start_flood, &d.flood_log)?;
    let status_ms = median(
        (0..STATUS_RUNS)
            .map(|_| time_command((d.status)()))
            .collect::<Result<_>>()?,
    );
    Ok(Figures {
        rss_bytes,
        respawn_ms,
        capture,
        lost,
        status_ms,
    })
}

fn measure_portos(bin: &Path, dir: &Path) -> Result<Figures> {
    std::fs::create_dir_all(dir)?;
    let data = dir.join("data");
    let mut config = String::from("[logs]\nmax_size = \"1G\"\n\n");
    let stamps: Vec<PathBuf> = (0..CHILDREN)
        .map(|i| dir.join(format!("stamp-{i}")))
        .collect();
    for (i, stamp) in stamps.iter().enumerate() {
        config += &format!(
            "[[process]]\nname = \"idle{i}\"\ncommand = \"sh\"\nargs = [\"-c\", {:?}]\nmin_uptime = \"100ms\"\n\n",
            idle_script(stamp)
        );
    }
    config += &format!(
        "[[process]]\nname = \"flood\"\ncommand = \"sh\"\nargs = [\"-c\", {:?}]\n",
        flood_script()
    );
    let config_path = dir.join("supervisor.toml");
    std::fs::write(&config_path, config)?;
    let portos = |args: &[&str]| {
        let mut c = Command::new(bin);
        c.arg("--config")
            .arg(&config_path)
            .arg("--data-dir")
            .arg(&data)
            .args(args);
        c
    };
    let names: Vec<String> = (0..CHILDREN).map(|i| format!("idle{i}")).collect();
    let mut up = portos(&["up", "-d"]);
    up.args(&names);
    time_command(up)?;
    let status_json = || -> Option<serde_json::Value> {
        let out = portos(&["status", "--json"]).output().ok()?;
        serde_json::from_slice(&out.stdout).ok()
    };
    let pid_of = || -> Option<i32> {
        let v = status_json()?;
        let p = v.as_array()?.iter().find(|p| p["name"] == "idle0")?;
        (p["state"] == "healthy").then_some(p["pid"].as_i64()? as i32)
    };
    let result = measure(Driver {
        pid_file: data.join("supervisor.pid"),
        stamp: &stamps[0],
        pid_of: &pid_of,
        start_flood: portos(&["start", "flood"]),
        flood_log: data.join("logs/flood-out.log"),
        status: &|| portos(&["status", "--json"]),
    });
    let _ = portos(&["down"]).stdout(Stdio::null()).status();
    result
}

fn measure_pm2(bin: &Path, dir: &Path) -> Result<Figures> {
    let home = dir.join("home");
    std::fs::create_dir_all(&home)?;
    let stamps: Vec<PathBuf> = (0..CHILDREN)
        .map(|i| dir.join(format!("stamp-{i}")))
        .collect();
    let app = |name: &str, script: String| {
        serde_json::json!({
            "name": name,
            "script": "sh",
            "args": ["-c", script],
            "interpreter": "none",
            "autorestart": true,
            "min_uptime": 100,
            "restart_delay": 0,
            "log_date_format": "YYYY-MM-DDTHH:mm:ss.SSS[Z]",
            "out_file": dir.join(format!("{name}-out.log")),
            "error_file": dir.join(format!("{name}-error.log")),
        })
    };
    let idle: Vec<serde_json::Value> = stamps
        .iter()
        .enumerate()
        .map(|(i, s)| app(&format!("idle{i}"), idle_script(s)))
        .collect();
    let idle_file = dir.join("idle.json");
    std::fs::write(
        &idle_file,
        serde_json::to_string(&serde_json::json!({ "apps": idle }))?,
    )?;
    let flood_file = dir.join("flood.json");
    std::fs::write(
        &flood_file,
        serde_json::to_string(&serde_json::json!({ "apps": [app("flood", flood_script())] }))?,
    )?;
    let pm2 = |args: &[&str]| {
        let mut c = Command::new(bin);
        c.args(args).env("PM2_HOME", &home);
        c
    };
    time_command({
        let mut c = pm2(&["start"]);
        c.arg(&idle_file);
        c
    })?;
    let pid_of = || -> Option<i32> {
        let out = pm2(&["jlist"]).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(&text[text.find('[')?..]).ok()?;
        let p = v.as_array()?.iter().find(|p| p["name"] == "idle0")?;
        (p["pm2_env"]["status"] == "online")
            .then_some(p["pid"].as_i64()? as i32)
            .filter(|p| *p > 0)
    };
    let mut start_flood = pm2(&["start"]);
    start_flood.arg(&flood_file);
    let result = measure(Driver {
        pid_file: home.join("pm2.pid"),
        stamp: &stamps[0],
        pid_of: &pid_of,
        start_flood,
        flood_log: dir.join("flood-out.log"),
        status: &|| pm2(&["jlist"]),
    });
    let daemon = std::fs::read_to_string(home.join("pm2.pid"))
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok());
    let _ = pm2(&["kill"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    // `pm2 kill` can return before its daemon is gone: leave nothing behind.
    if let Some(pid) = daemon {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    result
}
