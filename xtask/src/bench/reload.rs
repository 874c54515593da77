//! Part of `cargo xtask bench supervisor`: applying a changed table of 50
//! processes where one process's environment changed. `portos reload` against
//! `pm2 reload <ecosystem> --update-env` on the same 50 idle children: time
//! until the changed process runs again on its new environment (median of
//! `ROUNDS`), and how many of the other 49 kept their pid.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::{median, wait};

const PROCESSES: usize = 50;
const CHANGED: usize = 25;
const ROUNDS: usize = 5;

/// One supervisor's figures.
pub struct Reload {
    pub median_ms: f64,
    /// Of the 49 unchanged processes, how many kept their pid (worst round).
    pub kept: usize,
}

impl Reload {
    /// The median time over runs; pids kept: the worst run.
    pub fn median_of(runs: &[Reload]) -> Reload {
        Reload {
            median_ms: super::median(runs.iter().map(|r| r.median_ms).collect()),
            kept: runs.iter().map(|r| r.kept).min().unwrap_or(0),
        }
    }
}

fn script() -> &'static str {
    "exec sleep 100000"
}

/// Runs `rounds` changes: each writes the table with a new value for the
/// changed process, runs `apply`, and waits until `pids` shows it running with a
/// new pid.
fn rounds(
    write: &dyn Fn(usize) -> Result<()>,
    apply: &dyn Fn() -> Result<()>,
    pids: &dyn Fn() -> Option<Vec<Option<i32>>>,
) -> Result<Reload> {
    let mut times = Vec::new();
    let mut kept = PROCESSES - 1;
    for round in 1..=ROUNDS {
        let before = wait(Duration::from_secs(60), "every process running", || {
            pids().filter(|p| p.len() == PROCESSES && p.iter().all(Option::is_some))
        })?;
        write(round)?;
        let start = Instant::now();
        apply()?;
        let after = wait(Duration::from_secs(120), "the changed process back", || {
            pids().filter(|p| {
                p.len() == PROCESSES && p[CHANGED].is_some() && p[CHANGED] != before[CHANGED]
            })
        })?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
        let same = (0..PROCESSES)
            .filter(|i| *i != CHANGED && before[*i] == after[*i])
            .count();
        kept = kept.min(same);
    }
    Ok(Reload {
        median_ms: median(times),
        kept,
    })
}

pub fn portos(bin: &Path, dir: &Path) -> Result<Reload> {
    std::fs::create_dir_all(dir)?;
    let config = dir.join("supervisor.toml");
    let data = dir.join("data");
    let write = |round: usize| -> Result<()> {
        let mut text = String::new();
        for i in 0..PROCESSES {
            let env = if i == CHANGED {
                format!("env = {{ ROUND = \"{round}\" }}\n")
            } else {
                String::new()
            };
            text += &format!(
                "[[process]]\nname = \"p{i}\"\ncommand = \"sh\"\nargs = [\"-c\", {:?}]\nmin_uptime = \"100ms\"\n{env}\n",
                script()
            );
        }
        Ok(std::fs::write(&config, text)?)
    };
    let portos = |args: &[&str]| {
        let mut c = Command::new(bin);
        c.arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    write(0)?;
    if !portos(&["up", "-d"]).status()?.success() {
        bail!("portos up failed");
    }
    let pids = || -> Option<Vec<Option<i32>>> {
        let out = portos(&["status", "--json"])
            .stdout(Stdio::piped())
            .output()
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        Some(
            v.as_array()?
                .iter()
                .map(|p| {
                    (p["state"] == "healthy")
                        .then(|| p["pid"].as_i64().map(|p| p as i32))
                        .flatten()
                })
                .collect(),
        )
    };
    let apply = || -> Result<()> {
        if !portos(&["reload"]).status()?.success() {
            bail!("portos reload failed");
        }
        Ok(())
    };
    let result = rounds(&write, &apply, &pids);
    let _ = portos(&["down"]).status();
    result
}

pub fn pm2(bin: &Path, dir: &Path) -> Result<Reload> {
    let home = dir.join("home");
    std::fs::create_dir_all(&home)?;
    let file = dir.join("ecosystem.json");
    let write = |round: usize| -> Result<()> {
        let apps: Vec<serde_json::Value> = (0..PROCESSES)
            .map(|i| {
                let mut app = serde_json::json!({
                    "name": format!("p{i}"), "script": "sh", "args": ["-c", script()],
                    "interpreter": "none", "min_uptime": 100, "restart_delay": 0,
                });
                if i == CHANGED {
                    app["env"] = serde_json::json!({ "ROUND": round.to_string() });
                }
                app
            })
            .collect();
        Ok(std::fs::write(
            &file,
            serde_json::to_string(&serde_json::json!({ "apps": apps }))?,
        )?)
    };
    let pm2 = |args: &[&str]| {
        let mut c = Command::new(bin);
        c.args(args)
            .env("PM2_HOME", &home)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    write(0)?;
    if !pm2(&["start"]).arg(&file).status()?.success() {
        bail!("pm2 start failed");
    }
    let pids = || -> Option<Vec<Option<i32>>> {
        let out = pm2(&["jlist"]).stdout(Stdio::piped()).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(&text[text.find('[')?..]).ok()?;
        let mut list: Vec<(usize, Option<i32>)> = v
            .as_array()?
            .iter()
            .filter_map(|p| {
                let i: usize = p["name"].as_str()?.strip_prefix('p')?.parse().ok()?;
                let pid = (p["pm2_env"]["status"] == "online")
                    .then(|| p["pid"].as_i64().map(|p| p as i32))
                    .flatten()
                    .filter(|p| *p > 0);
                Some((i, pid))
            })
            .collect();
        list.sort_by_key(|(i, _)| *i);
        Some(list.into_iter().map(|(_, p)| p).collect())
    };
    let apply = || -> Result<()> {
        if !pm2(&["reload"])
            .arg(&file)
            .arg("--update-env")
            .status()?
            .success()
        {
            bail!("pm2 reload failed");
        }
        Ok(())
    };
    let result = rounds(&write, &apply, &pids);
    let daemon = std::fs::read_to_string(home.join("pm2.pid"))
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok());
    let _ = pm2(&["kill"]).status();
    if let Some(pid) = daemon {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    result
}

/// The figures' table row.
pub fn row(theirs: &Reload, ours: &Reload) -> String {
    format!(
        "| apply a {PROCESSES}-process table with one changed env, median of {ROUNDS} (`pm2 reload --update-env` / `portos reload`) | {:.0} ms, {}/{} others kept their pid | {:.0} ms, {}/{} kept | {:.1}× |",
        theirs.median_ms,
        theirs.kept,
        PROCESSES - 1,
        ours.median_ms,
        ours.kept,
        PROCESSES - 1,
        theirs.median_ms / ours.median_ms.max(1e-3)
    )
}
