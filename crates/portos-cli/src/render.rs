//! How things look on a terminal (and as JSON): the status table, coloured
//! states, log prefixes, durations and sizes.

use std::io::IsTerminal;
use std::time::Duration;

use comfy_table::{Cell, Color, ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use owo_colors::{OwoColorize, Stream as OwoStream};
use portos_proto::supervisor::v1 as pb;
use serde_json::json;

/// A state's name as people (and `--json`) read it.
pub fn state_name(s: i32) -> &'static str {
    match pb::State::try_from(s).unwrap_or(pb::State::Unspecified) {
        pb::State::Starting => "starting",
        pb::State::Healthy => "healthy",
        pb::State::Unhealthy => "unhealthy",
        pb::State::Backoff => "backoff",
        pb::State::Stopping => "stopping",
        pb::State::Stopped => "stopped",
        pb::State::Errored => "errored",
        pb::State::Unspecified => "unknown",
    }
}

pub fn health_name(h: i32) -> &'static str {
    match pb::Health::try_from(h).unwrap_or(pb::Health::Unspecified) {
        pb::Health::None => "-",
        pb::Health::Unknown | pb::Health::Unspecified => "unknown",
        pb::Health::Serving => "serving",
        pb::Health::NotServing => "not serving",
    }
}

fn state_color(s: i32) -> Color {
    match pb::State::try_from(s).unwrap_or(pb::State::Unspecified) {
        pb::State::Healthy => Color::Green,
        pb::State::Starting | pb::State::Backoff | pb::State::Stopping => Color::Yellow,
        pb::State::Unhealthy | pb::State::Errored => Color::Red,
        pb::State::Stopped | pb::State::Unspecified => Color::DarkGrey,
    }
}

/// `3d 4h`, `12m 5s`, `850ms`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{}ms", d.as_millis()),
        1..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86400, (s % 86400) / 3600),
    }
}

/// `12.3 MiB`.
pub fn bytes(b: u64) -> String {
    portos_supervisor::human_bytes(b)
}

fn ports(p: &pb::Process) -> String {
    p.ports
        .iter()
        .map(|p| format!("{}:{}", p.label, p.port))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The status table.
pub fn table(ps: &[pb::Process]) -> String {
    let mut t = Table::new();
    t.load_style(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "group", "name", "pid", "state", "health", "uptime", "restarts", "cpu", "memory",
            "ports", "reason",
        ]);
    if !std::io::stdout().is_terminal() {
        t.force_no_tty();
    }
    let mut last_group = None;
    for p in ps {
        let running = p.pid != 0;
        // Each group is named once, on its first row.
        let group = if last_group == Some(&p.group) {
            String::new()
        } else {
            p.group.clone()
        };
        last_group = Some(&p.group);
        t.add_row(vec![
            Cell::new(group),
            Cell::new(&p.name),
            Cell::new(if running {
                p.pid.to_string()
            } else {
                "-".into()
            }),
            Cell::new(state_name(p.state)).fg(state_color(p.state)),
            Cell::new(health_name(p.health)),
            Cell::new(if running {
                duration(Duration::from_millis(p.uptime_ms))
            } else {
                "-".into()
            }),
            Cell::new(p.restarts),
            Cell::new(if running {
                format!("{:.1}%", p.cpu_percent)
            } else {
                "-".into()
            }),
            Cell::new(if running {
                bytes(p.memory_bytes)
            } else {
                "-".into()
            }),
            Cell::new(ports(p)),
            Cell::new(&p.reason),
        ]);
    }
    t.to_string()
}

/// `status --json`: one object per process.
pub fn json(ps: &[pb::Process]) -> serde_json::Value {
    ps.iter()
        .map(|p| {
            json!({
                "name": p.name,
                "group": p.group,
                "pid": (p.pid != 0).then_some(p.pid),
                "state": state_name(p.state),
                "health": match pb::Health::try_from(p.health).unwrap_or(pb::Health::Unspecified) {
                    pb::Health::None => "none",
                    pb::Health::Serving => "serving",
                    pb::Health::NotServing => "not_serving",
                    _ => "unknown",
                },
                "reason": p.reason,
                "restarts": p.restarts,
                "unstable_restarts": p.unstable_restarts,
                "uptime_ms": p.uptime_ms,
                "started_at_ms": (p.started_at_ms != 0).then_some(p.started_at_ms),
                "memory_bytes": p.memory_bytes,
                "cpu_percent": p.cpu_percent,
                "ports": p.ports.iter().map(|x| json!({ "label": x.label, "port": x.port })).collect::<Vec<_>>(),
                "last_exit_code": p.last_exit_code,
                "last_exit_signal": p.last_exit_signal,
                "command": p.command,
            })
        })
        .collect()
}

const PALETTE: [owo_colors::AnsiColors; 6] = [
    owo_colors::AnsiColors::Cyan,
    owo_colors::AnsiColors::Magenta,
    owo_colors::AnsiColors::Blue,
    owo_colors::AnsiColors::Green,
    owo_colors::AnsiColors::Yellow,
    owo_colors::AnsiColors::BrightCyan,
];

/// `name | text`, the name coloured by its index and padded to `width`.
pub fn log_prefix(name: &str, index: usize, width: usize) -> String {
    let padded = format!("{name:<width$} |");
    padded
        .if_supports_color(OwoStream::Stdout, |t| {
            t.color(PALETTE[index % PALETTE.len()])
        })
        .to_string()
}

/// A check mark, cross or dot for a settled state, coloured when the terminal allows.
pub fn mark(state: i32) -> String {
    let (m, ok) = match pb::State::try_from(state).unwrap_or(pb::State::Unspecified) {
        pb::State::Healthy => ("✔", Some(true)),
        pb::State::Unhealthy | pb::State::Errored => ("✘", Some(false)),
        _ => ("•", None),
    };
    match ok {
        Some(true) => m
            .if_supports_color(OwoStream::Stdout, |t| t.green())
            .to_string(),
        Some(false) => m
            .if_supports_color(OwoStream::Stdout, |t| t.red())
            .to_string(),
        None => m.to_string(),
    }
}
