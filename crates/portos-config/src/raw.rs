//! The file as written (every key optional but the essentials), and its
//! validation into [`Config`]. Defaults live here and nowhere else.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::{
    BASE_ENV, ByteSize, Config, ConfigError, HealthCheck, HealthTiming, HumanDuration, LogSettings,
    ProcessSpec,
};

const DEFAULT_MAX_RESTARTS: u32 = 16;
const DEFAULT_MIN_UPTIME: Duration = Duration::from_secs(1);
const DEFAULT_KILL_TIMEOUT: Duration = Duration::from_millis(1600);
const DEFAULT_BACKOFF: Duration = Duration::from_millis(100);
const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(30);
const DEFAULT_STOP_SIGNAL: &str = "SIGTERM";
const DEFAULT_LOG_MAX_SIZE: u64 = 10 << 20;
const DEFAULT_LOG_KEEP: u32 = 5;
const DEFAULT_TAIL_LINES: usize = 1000;
const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_FAILURE_THRESHOLD: u32 = 3;
const DEFAULT_START_PERIOD: Duration = Duration::from_secs(30);

/// Signals a process may ask to be stopped with.
const STOP_SIGNALS: &[&str] = &[
    "SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGKILL", "SIGUSR1", "SIGUSR2",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    logs: RawLogs,
    #[serde(default, rename = "process")]
    processes: Vec<RawProcess>,
    tls: Option<Spanned<RawTls>>,
}

/// `[tls]`: the certificate chain and key (PEM) of the pages served over https,
/// or `tailscale = true` to have Tailscale issue (and renew) the machine's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<String>,
    key: Option<String>,
    tailscale: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogs {
    max_size: Option<ByteSize>,
    keep: Option<u32>,
    tail_lines: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProcess {
    name: Spanned<String>,
    command: Spanned<String>,
    #[serde(default)]
    args: Vec<String>,
    cwd: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    ports: BTreeMap<String, Spanned<u16>>,
    health: Option<Spanned<RawHealth>>,
    #[serde(default)]
    depends_on: Vec<Spanned<String>>,
    autorestart: Option<bool>,
    max_restarts: Option<u32>,
    min_uptime: Option<HumanDuration>,
    restart_delay: Option<HumanDuration>,
    backoff: Option<HumanDuration>,
    backoff_max: Option<HumanDuration>,
    max_memory_restart: Option<ByteSize>,
    kill_timeout: Option<HumanDuration>,
    stop_signal: Option<Spanned<String>>,
    /// Serve https too, with `[tls]`'s certificate.
    tls: Option<bool>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum CheckKind {
    Grpc,
    Http,
    Tcp,
    None,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    check: CheckKind,
    /// Label of one of the process's ports; defaults to its only port.
    port: Option<String>,
    path: Option<String>,
    service: Option<String>,
    interval: Option<HumanDuration>,
    timeout: Option<HumanDuration>,
    failure_threshold: Option<u32>,
    start_period: Option<HumanDuration>,
}

/// Validation context: where errors point.
struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn err<T>(&self, span: std::ops::Range<usize>, message: String) -> Result<T, ConfigError> {
        Err(ConfigError::at_span(
            self.path,
            self.text,
            Some(span),
            &message,
        ))
    }
    fn line_of(&self, span: &std::ops::Range<usize>) -> usize {
        self.text[..span.start.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }
}

fn dur(v: Option<HumanDuration>, default: Duration) -> Duration {
    v.map(|d| d.0).unwrap_or(default)
}

impl RawConfig {
    pub(crate) fn validate(
        self,
        path: &Path,
        text: &str,
        root: &Path,
    ) -> Result<Config, ConfigError> {
        let cx = Ctx { path, text };
        let logs = LogSettings {
            max_size: self
                .logs
                .max_size
                .map(|b| b.0)
                .unwrap_or(DEFAULT_LOG_MAX_SIZE),
            keep: self.logs.keep.unwrap_or(DEFAULT_LOG_KEEP),
            tail_lines: self.logs.tail_lines.unwrap_or(DEFAULT_TAIL_LINES),
        };
        let mut base_env: BTreeMap<String, String> = BASE_ENV
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        base_env.extend(self.env);

        // Names: valid and unique.
        let mut seen: HashMap<String, usize> = HashMap::new();
        for p in &self.processes {
            let name = p.name.get_ref();
            let valid = !name.is_empty()
                && name != "all"
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid {
                return cx.err(
                    p.name.span(),
                    format!(
                        "invalid process name \"{name}\": use letters, digits, '-', '_' or '.', and not \"all\""
                    ),
                );
            }
            if let Some(first) = seen.get(name) {
                return cx.err(
                    p.name.span(),
                    format!("duplicate process name \"{name}\" (first defined on line {first})"),
                );
            }
            seen.insert(name.clone(), cx.line_of(&p.name.span()));
        }

        // Ports: no two processes (or labels) on one port.
        let mut owners: HashMap<u16, String> = HashMap::new();
        for p in &self.processes {
            for (label, port) in &p.ports {
                let n = *port.get_ref();
                if n == 0 {
                    return cx.err(
                        port.span(),
                        format!("port `{label}` must be 1-65535, not 0"),
                    );
                }
                let me = format!("{}.{label}", p.name.get_ref());
                if let Some(other) = owners.get(&n) {
                    return cx.err(
                        port.span(),
                        format!("port clash: {n} is used by both {other} and {me}"),
                    );
                }
                owners.insert(n, me);
            }
        }

        // Dependencies: known, not self, no cycle.
        for p in &self.processes {
            for d in &p.depends_on {
                if !seen.contains_key(d.get_ref()) {
                    return cx.err(
                        d.span(),
                        format!("depends_on names unknown process \"{}\"", d.get_ref()),
                    );
                }
            }
        }
        if let Some((span, cycle)) = find_cycle(&self.processes) {
            return cx.err(span, format!("dependency cycle: {}", cycle.join(" → ")));
        }

        // [tls]: both files must be there now, not at the first connection.
        let tls = match self.tls {
            None => None,
            Some(t) => {
                let span = t.span();
                let t = t.into_inner();
                match (t.cert, t.key, t.tailscale == Some(true)) {
                    (None, None, true) => Some(crate::Tls::Tailscale),
                    (Some(cert), Some(key), false) => {
                        let (cert, key) = (normalize(root.join(cert)), normalize(root.join(key)));
                        for (what, p) in [("cert", &cert), ("key", &key)] {
                            if !p.is_file() {
                                return cx.err(
                                    span,
                                    format!("tls.{what}: {} is not a file", p.display()),
                                );
                            }
                        }
                        Some(crate::Tls::Files { cert, key })
                    }
                    _ => {
                        return cx.err(
                            span,
                            "tls needs either `cert` and `key`, or `tailscale = true`".to_string(),
                        );
                    }
                }
            }
        };
        let processes = self
            .processes
            .into_iter()
            .map(|p| {
                let wants_tls = p.tls == Some(true);
                let mut spec = p.into_spec(&cx, root, &base_env)?;
                spec.tls = wants_tls;
                Ok(spec)
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let processes = crate::hand_out_ports(processes);
        let mut config = Config {
            path: path.to_path_buf(),
            root: root.to_path_buf(),
            logs,
            processes,
            tls,
        };
        if let Some(crate::Tls::Files { cert, key }) = config.tls.clone() {
            config.serve_tls_with(&cert, &key);
        }
        Ok(config)
    }
}

/// The first dependency cycle, as the span of the edge that closes it and the names on it.
fn find_cycle(ps: &[RawProcess]) -> Option<(std::ops::Range<usize>, Vec<String>)> {
    let index: HashMap<&str, &RawProcess> =
        ps.iter().map(|p| (p.name.get_ref().as_str(), p)).collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn dfs<'a>(
        p: &'a RawProcess,
        index: &HashMap<&str, &'a RawProcess>,
        marks: &mut HashMap<&'a str, Mark>,
        stack: &mut Vec<&'a str>,
    ) -> Option<(std::ops::Range<usize>, Vec<String>)> {
        let me = p.name.get_ref().as_str();
        marks.insert(me, Mark::Open);
        stack.push(me);
        for d in &p.depends_on {
            let dn = d.get_ref().as_str();
            match marks.get(dn) {
                Some(Mark::Open) => {
                    let from = stack.iter().position(|n| *n == dn).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        stack[from..].iter().map(|s| s.to_string()).collect();
                    cycle.push(dn.to_string());
                    return Some((d.span(), cycle));
                }
                Some(Mark::Done) => {}
                None => {
                    if let Some(dep) = index.get(dn)
                        && let Some(found) = dfs(dep, index, marks, stack)
                    {
                        return Some(found);
                    }
                }
            }
        }
        stack.pop();
        marks.insert(me, Mark::Done);
        None
    }
    let mut marks = HashMap::new();
    for p in ps {
        if !marks.contains_key(p.name.get_ref().as_str()) {
            let mut stack = Vec::new();
            if let Some(found) = dfs(p, &index, &mut marks, &mut stack) {
                return Some(found);
            }
        }
    }
    None
}

impl RawProcess {
    fn into_spec(
        self,
        cx: &Ctx<'_>,
        root: &Path,
        base_env: &BTreeMap<String, String>,
    ) -> Result<ProcessSpec, ConfigError> {
        let name = self.name.into_inner();
        if self.command.get_ref().trim().is_empty() {
            return cx.err(self.command.span(), "command must not be empty".to_string());
        }
        let ports: Vec<(String, u16)> = self
            .ports
            .into_iter()
            .map(|(label, port)| (label, port.into_inner()))
            .collect();

        let (health, health_timing) = match self.health {
            None => (HealthCheck::None, timing(None)),
            Some(h) => {
                let span = h.span();
                let h = h.into_inner();
                let port = if h.check == CheckKind::None {
                    0
                } else {
                    match &h.port {
                        Some(label) => {
                            match ports.iter().find(|(l, _)| l == label) {
                                Some((_, p)) => *p,
                                None => {
                                    return cx.err(
                                    span,
                                    format!("health port \"{label}\" is not one of the process's ports"),
                                );
                                }
                            }
                        }
                        None if ports.len() == 1 => ports[0].1,
                        None => {
                            return cx.err(
                                span,
                                "health needs `port = \"<label>\"` naming one of the process's ports".to_string(),
                            );
                        }
                    }
                };
                let check = match h.check {
                    CheckKind::None => HealthCheck::None,
                    CheckKind::Tcp => HealthCheck::Tcp { port },
                    CheckKind::Grpc => HealthCheck::Grpc {
                        port,
                        service: h.service.clone().unwrap_or_default(),
                    },
                    CheckKind::Http => {
                        let path = h.path.clone().unwrap_or_else(|| "/healthz".to_string());
                        if !path.starts_with('/') {
                            return cx
                                .err(span, format!("health path \"{path}\" must start with '/'"));
                        }
                        HealthCheck::Http { port, path }
                    }
                };
                (check, timing(Some(&h)))
            }
        };

        let stop_signal = match self.stop_signal {
            None => DEFAULT_STOP_SIGNAL.to_string(),
            Some(s) => {
                let up = s.get_ref().trim().to_ascii_uppercase();
                let full = if up.starts_with("SIG") {
                    up
                } else {
                    format!("SIG{up}")
                };
                if !STOP_SIGNALS.contains(&full.as_str()) {
                    return cx.err(
                        s.span(),
                        format!(
                            "unknown stop signal \"{}\"; one of {}",
                            s.get_ref(),
                            STOP_SIGNALS.join(", ")
                        ),
                    );
                }
                full
            }
        };

        let cwd = match &self.cwd {
            Some(c) => root.join(c),
            None => root.to_path_buf(),
        };
        let mut env = base_env.clone();
        env.extend(self.env);

        Ok(ProcessSpec {
            name,
            group: crate::PORTOS_GROUP.to_string(),
            tls: false,
            command: self.command.into_inner(),
            args: self.args,
            cwd: normalize(cwd),
            env,
            ports,
            health,
            health_timing,
            depends_on: self
                .depends_on
                .into_iter()
                .map(Spanned::into_inner)
                .collect(),
            autorestart: self.autorestart.unwrap_or(true),
            max_restarts: self.max_restarts.unwrap_or(DEFAULT_MAX_RESTARTS),
            min_uptime: dur(self.min_uptime, DEFAULT_MIN_UPTIME),
            restart_delay: dur(self.restart_delay, Duration::ZERO),
            backoff: dur(self.backoff, DEFAULT_BACKOFF),
            backoff_max: dur(self.backoff_max, DEFAULT_BACKOFF_MAX),
            max_memory_restart: self.max_memory_restart.map(|b| b.0),
            kill_timeout: dur(self.kill_timeout, DEFAULT_KILL_TIMEOUT),
            stop_signal,
        })
    }
}

fn timing(h: Option<&RawHealth>) -> HealthTiming {
    HealthTiming {
        interval: dur(h.and_then(|h| h.interval), DEFAULT_HEALTH_INTERVAL),
        timeout: dur(h.and_then(|h| h.timeout), DEFAULT_HEALTH_TIMEOUT),
        failure_threshold: h
            .and_then(|h| h.failure_threshold)
            .unwrap_or(DEFAULT_FAILURE_THRESHOLD)
            .max(1),
        start_period: dur(h.and_then(|h| h.start_period), DEFAULT_START_PERIOD),
    }
}

/// `a/./b/../c` → `a/c`, without touching the file system.
fn normalize(p: PathBuf) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
