//! The AI agent processes running on this machine (Claude Code, Codex,
//! Gemini CLI, Aider, Cursor, Copilot), found in `/proc`. Ending one is
//! limited to those processes, run by this user: the original would
//! `kill -9` any pid it was given.

use portos_core::Refuse;
use serde_json::{Value, json};

use crate::AiError;

/// What marks an agent in a command line, and its name.
const PATTERNS: [(&str, &str); 6] = [
    ("claude", "Claude"),
    ("codex", "Codex"),
    ("gemini", "Gemini"),
    ("aider", "Aider"),
    ("cursor", "Cursor"),
    ("copilot", "Copilot"),
];

/// One agent process in the original's shape.
fn describe(p: &procfs::process::Process, boot_ms: u64, tps: u64, mem_total: u64) -> Option<Value> {
    let cmd = p.cmdline().ok()?.join(" ");
    let lower = cmd.to_lowercase();
    let (ty, name) = PATTERNS.iter().find(|(pat, _)| lower.contains(pat))?;
    let stat = p.stat().ok()?;
    let start_ms = boot_ms + stat.starttime * 1000 / tps.max(1);
    let runtime = portos_core::time::now_ms().saturating_sub(start_ms);
    let cpu_secs = (stat.utime + stat.stime) as f64 / tps.max(1) as f64;
    let cpu = if runtime > 0 {
        cpu_secs * 100_000.0 / runtime as f64
    } else {
        0.0
    };
    let rss = stat.rss * procfs::page_size();
    let memory = if mem_total > 0 {
        rss as f64 * 100.0 / mem_total as f64
    } else {
        0.0
    };
    Some(json!({
            "pid": p.pid, "ppid": stat.ppid, "cpu": (cpu * 10.0).round() / 10.0,
            "memory": (memory * 10.0).round() / 10.0, "runtime": runtime,
            "runtimeFormatted": humantime::format_duration(std::time::Duration::from_secs(runtime / 1000)).to_string(),
            "command": cmd, "startTime": start_ms, "agentName": name, "agentType": ty,
    }))
}

/// What the descriptions need: boot time, clock ticks, total memory, this user.
struct Host {
    boot_ms: u64,
    tps: u64,
    mem_total: u64,
    uid: u32,
}

impl Host {
    fn now() -> Self {
        use procfs::Current;
        Self {
            boot_ms: procfs::boot_time_secs().unwrap_or(0) * 1000,
            tps: procfs::ticks_per_second(),
            mem_total: procfs::Meminfo::current().map(|m| m.mem_total).unwrap_or(0),
            uid: nix::unistd::getuid().as_raw(),
        }
    }

    /// `p` as an agent process of this user (not this server), if it is one.
    fn agent(&self, p: &procfs::process::Process) -> Option<Value> {
        if p.pid == std::process::id() as i32 || !p.uid().is_ok_and(|u| u == self.uid) {
            return None;
        }
        describe(p, self.boot_ms, self.tps, self.mem_total)
    }
}

/// Every agent process of this user, newest first.
pub fn scan() -> Vec<Value> {
    let host = Host::now();
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    let mut out: Vec<Value> = all.flatten().filter_map(|p| host.agent(&p)).collect();
    out.sort_by_key(|v| std::cmp::Reverse(v["startTime"].as_u64().unwrap_or(0)));
    out
}

/// Process `pid`, if it is an agent process of this user.
pub fn find(pid: i32) -> Result<Value, AiError> {
    procfs::process::Process::new(pid)
        .ok()
        .and_then(|p| Host::now().agent(&p))
        .ok_or_else(|| AiError::not_found(format!("no AI agent process {pid} of this user")))
}

pub fn pid_of(s: &str) -> Result<i32, AiError> {
    s.parse::<i32>()
        .ok()
        .filter(|p| *p > 1)
        .ok_or_else(|| AiError::validation(format!("pid must be a process number, not {s:?}")))
}

/// Ends agent process `pid` of this user — SIGTERM, then SIGKILL after 3 s —
/// and answers what it was; any other process is left alone (not found).
pub async fn end(pid: i32) -> Result<Value, AiError> {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let found = tokio::task::spawn_blocking(move || find(pid))
        .await
        .map_err(|e| AiError::internal(e.to_string()))??;
    kill(Pid::from_raw(pid), Signal::SIGTERM)
        .map_err(|e| AiError::internal(format!("cannot stop {pid}: {e}")))?;
    for _ in 0..30 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if kill(Pid::from_raw(pid), None).is_err()
            || procfs::process::Process::new(pid)
                .and_then(|p| p.stat())
                .is_ok_and(|s| s.state == 'Z')
        {
            break;
        }
    }
    if kill(Pid::from_raw(pid), None).is_ok() {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    Ok(found)
}
