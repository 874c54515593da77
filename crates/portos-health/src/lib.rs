//! The machine's health, in the shapes of the original's `/api/system/health`
//! and `/api/system/health/details`: memory and load from `/proc`, the
//! supervised processes and the apps from `portos-apps`, and the warnings
//! and overall verdict the original derives from them.
//!
//! Owns: the readings and the verdict. Memory "used" is total − available
//! (the original took total − free, so the page cache looked used); uptime is
//! this process's, as the original's is its own. A reading that fails leaves
//! its part out (zero), never the answer.
//! Must not depend on: axum, tonic, hyper, tower, or any service crate.

use std::time::Instant;

use portos_apps::{Apps, ProcessInfo, ProcessState};
use serde_json::{Value, json};

/// What `/proc` says of the machine.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Machine {
    pub total: u64,
    pub available: u64,
    pub load1: f64,
    pub cores: usize,
}

impl Machine {
    pub fn read() -> Self {
        use procfs::Current;
        let mem = procfs::Meminfo::current().ok();
        Self {
            total: mem.as_ref().map(|m| m.mem_total).unwrap_or(0),
            available: mem
                .as_ref()
                .map(|m| m.mem_available.unwrap_or(m.mem_free))
                .unwrap_or(0),
            load1: procfs::LoadAverage::current()
                .map(|l| f64::from(l.one))
                .unwrap_or(0.0),
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        }
    }
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `GET /api/system/health`.
pub fn health(started: Instant) -> Value {
    json!({
        "status": "ok",
        "timestamp": portos_core::time::now_iso(),
        "uptime": started.elapsed().as_secs_f64(),
        "version": env!("CARGO_PKG_VERSION"),
        "hostname": hostname(),
        "instanceId": Value::Null,
    })
}

fn bytes(n: u64) -> String {
    let gb = n as f64 / (1u64 << 30) as f64;
    if gb >= 1.0 {
        format!("{gb:.1}GB")
    } else {
        format!("{:.0}MB", n as f64 / (1u64 << 20) as f64)
    }
}

fn uptime_text(secs: u64) -> String {
    let (d, h, m) = (secs / 86400, secs % 86400 / 3600, secs % 3600 / 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else {
        format!("{m}m")
    }
}

/// `GET /api/system/health/details`: the readings of the moment.
pub async fn details(apps: &Apps, started: Instant) -> Value {
    let processes = apps.supervisor.list().await.unwrap_or_default();
    let views = portos_apps::control::views_over(apps, &processes)
        .await
        .unwrap_or_default();
    let overall: Vec<&str> = views
        .iter()
        .filter(|v| v.record["archived"] != true)
        .map(|v| v.overall)
        .collect();
    summarize(
        Machine::read(),
        &processes,
        &overall,
        started.elapsed().as_secs_f64(),
    )
}

/// The original's verdict over the readings.
pub fn summarize(m: Machine, processes: &[ProcessInfo], apps: &[&str], uptime: f64) -> Value {
    let used = m.total.saturating_sub(m.available);
    let mem_percent = if m.total > 0 {
        (used as f64 * 100.0 / m.total as f64).round() as u64
    } else {
        0
    };
    let cpu_percent = (m.load1 / m.cores.max(1) as f64 * 100.0).round() as u64;
    let count = |f: fn(ProcessState) -> bool| processes.iter().filter(|p| f(p.state)).count();
    let errored = count(|s| s == ProcessState::Errored);
    let restarts: u64 = processes.iter().map(|p| u64::from(p.restarts)).sum();
    let mut overall = "healthy";
    let mut warnings = Vec::new();
    let mut warn = |level: &'static str, kind: &str, message: String| {
        if level == "critical" || overall != "critical" {
            overall = level;
        }
        warnings.push(json!({ "type": kind, "message": message }));
    };
    if mem_percent > 90 {
        warn("critical", "memory", "Memory usage above 90%".into());
    } else if mem_percent > 75 {
        warn("warning", "memory", "Memory usage above 75%".into());
    }
    if cpu_percent > 100 {
        warn("warning", "cpu", "CPU load high".into());
    }
    if errored > 0 {
        warn(
            "critical",
            "process",
            format!("{errored} process(es) errored"),
        );
    }
    if restarts > 10 {
        warn("warning", "restarts", format!("{restarts} total restarts"));
    }
    let apps_in = |s: &[&str]| apps.iter().filter(|a| s.contains(a)).count();
    json!({
        "timestamp": portos_core::time::now_iso(),
        "hostname": hostname(),
        "instanceId": Value::Null,
        "overallHealth": overall,
        "warnings": warnings,
        "system": {
            "uptime": uptime,
            "uptimeFormatted": uptime_text(uptime as u64),
            "memory": {
                "total": m.total, "used": used, "free": m.available, "usagePercent": mem_percent,
                "totalFormatted": bytes(m.total), "usedFormatted": bytes(used), "freeFormatted": bytes(m.available),
            },
            "cpu": { "cores": m.cores, "loadAvg1m": m.load1, "usagePercent": cpu_percent },
        },
        "processes": {
            "total": processes.len(),
            "online": count(|s| matches!(s, ProcessState::Healthy | ProcessState::Unhealthy)),
            "stopped": count(|s| s == ProcessState::Stopped),
            "errored": errored,
            "totalMemory": processes.iter().map(|p| p.memory_bytes).sum::<u64>(),
            "totalCpu": processes.iter().map(|p| p.cpu_percent).sum::<f64>(),
            "totalRestarts": restarts,
        },
        "apps": {
            "total": apps.len(),
            "online": apps_in(&["online"]),
            "stopped": apps_in(&["stopped"]),
            "notStarted": apps_in(&["not_started", "not_found"]),
        },
        "cos": Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(state: ProcessState, restarts: u32) -> ProcessInfo {
        ProcessInfo {
            name: "p".into(),
            group: "portos".into(),
            state,
            pid: 1,
            cpu_percent: 1.5,
            memory_bytes: 100,
            uptime_ms: 0,
            restarts,
            reason: String::new(),
            ports: Vec::new(),
            min_uptime_ms: 0,
            command: String::new(),
        }
    }

    #[test]
    fn the_verdict_is_the_originals() {
        let m = Machine {
            total: 100,
            available: 20,
            load1: 1.0,
            cores: 2,
        };
        let ps = [
            process(ProcessState::Healthy, 0),
            process(ProcessState::Errored, 11),
        ];
        let d = summarize(m, &ps, &["online", "not_found", "stopped"], 4000.0);
        assert_eq!(d["overallHealth"], "critical");
        let kinds: Vec<&str> = d["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["memory", "process", "restarts"]);
        assert_eq!(d["warnings"][0]["message"], "Memory usage above 75%");
        assert_eq!(d["system"]["memory"]["usagePercent"], 80);
        assert_eq!(d["system"]["cpu"]["usagePercent"], 50);
        assert_eq!(d["system"]["uptimeFormatted"], "1h 6m");
        assert_eq!(
            d["processes"],
            json!({ "total": 2, "online": 1, "stopped": 0, "errored": 1, "totalMemory": 200, "totalCpu": 3.0, "totalRestarts": 11 })
        );
        assert_eq!(
            d["apps"],
            json!({ "total": 3, "online": 1, "stopped": 1, "notStarted": 1 })
        );
        let calm = summarize(
            Machine {
                total: 100,
                available: 90,
                load1: 0.1,
                cores: 2,
            },
            &[],
            &[],
            1.0,
        );
        assert_eq!(
            (
                calm["overallHealth"].as_str(),
                calm["warnings"].as_array().unwrap().len()
            ),
            (Some("healthy"), 0)
        );
    }

    #[test]
    fn the_machine_is_read_from_proc() {
        let m = Machine::read();
        assert!(
            m.total > 0 && m.available <= m.total && m.cores >= 1,
            "{m:?}"
        );
    }
}
