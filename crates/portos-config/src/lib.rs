//! The typed `supervisor.toml`: the process table of PortOS and its policies.
//!
//! Owns: parsing (serde + `toml`, unknown keys refused), defaults (written once,
//! here, mirroring PM2's), durations like `30s` and sizes like `2G`, and whole-file
//! validation (duplicate names, unknown or cyclic dependencies, port clashes), every
//! error pointing at file, line and key. Used by the supervisor and the CLI.
//!
//! Must not depend on: any wire (tonic, axum, reqwest) or any other PortOS crate.
//! It describes what to run; it runs nothing.

mod error;
mod raw;
mod units;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::ConfigError;
pub use units::{ByteSize, HumanDuration};

/// The group of the processes of `supervisor.toml`: PortOS's own.
pub const PORTOS_GROUP: &str = "portos";

/// Environment shared by every process unless a process overrides it.
pub const BASE_ENV: &[(&str, &str)] = &[("TZ", "UTC")];

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (absolute).
    pub path: PathBuf,
    /// Directory relative paths are resolved against: the file's directory.
    pub root: PathBuf,
    pub logs: LogSettings,
    /// Processes in file order; names are unique.
    pub processes: Vec<ProcessSpec>,
    /// `[tls]`: the pages' certificate, handed to the processes with `tls = true`.
    pub tls: Option<Tls>,
}

/// Where https's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// The certificate chain and private key, PEM files (absolute paths).
    Files { cert: PathBuf, key: PathBuf },
    /// Issued for this machine by Tailscale (`tailscale cert`) when PortOS starts.
    Tailscale,
}

/// The environment that hands a process the certificate (read by `portos_rt::tls`).
pub const TLS_CERT_ENV: &str = "PORTOS_TLS_CERT";
pub const TLS_KEY_ENV: &str = "PORTOS_TLS_KEY";

/// Log capture settings, shared by every process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// Rotate a log file once it grows past this many bytes.
    pub max_size: u64,
    /// Rotated files kept per log (`name-out.log.1` … `.N`).
    pub keep: u32,
    /// Lines kept in memory per process for instant `logs -n`.
    pub tail_lines: usize,
}

/// How the supervisor learns that a process is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthCheck {
    /// No probe: a running process counts as healthy.
    None,
    /// `grpc.health.v1.Health/Check` with this service name ("" = whole server).
    Grpc { port: u16, service: String },
    /// `GET http://127.0.0.1:port/path`; 2xx is healthy, the body of anything else is the reason.
    Http { port: u16, path: String },
    /// A TCP connect succeeds.
    Tcp { port: u16 },
}

/// Probe timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthTiming {
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive failures, after having been healthy, that restart the process.
    pub failure_threshold: u32,
    /// How long a new process may take to become healthy before it shows as unhealthy.
    pub start_period: Duration,
}

/// One process of the table, with every default applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSpec {
    pub name: String,
    /// Whose process it is: [`PORTOS_GROUP`] for `supervisor.toml`'s, an app's
    /// id for an app's (see [`Config::in_group`]).
    pub group: String,
    /// Serves https with `[tls]`'s certificate (`tls = true`).
    pub tls: bool,
    /// As written: a bare name is looked up beside the `portos` binary, then on `PATH`.
    pub command: String,
    pub args: Vec<String>,
    /// Absolute working directory.
    pub cwd: PathBuf,
    /// The full environment overlay: base env, then the process's own.
    pub env: BTreeMap<String, String>,
    /// Labelled ports, in file order.
    pub ports: Vec<(String, u16)>,
    pub health: HealthCheck,
    pub health_timing: HealthTiming,
    pub depends_on: Vec<String>,
    pub autorestart: bool,
    pub max_restarts: u32,
    pub min_uptime: Duration,
    pub restart_delay: Duration,
    /// First extra delay of a crash loop; doubles with each unstable restart.
    pub backoff: Duration,
    /// Cap of the extra delay.
    pub backoff_max: Duration,
    pub max_memory_restart: Option<u64>,
    pub kill_timeout: Duration,
    /// Signal name, e.g. `SIGTERM`.
    pub stop_signal: String,
}

impl Config {
    /// Reads and validates `path`. Nothing is started on error.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        Self::parse(&text, &abs)
    }

    /// Parses `text` as if read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let root = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse_in(text, path, &root)
    }

    /// Parses `text` as if read from `path`, relative paths resolved against
    /// `root` (for a table kept somewhere else than where it was written).
    pub fn parse_in(text: &str, path: &Path, root: &Path) -> Result<Self, ConfigError> {
        let raw: raw::RawConfig = toml::from_str(text)
            .map_err(|e| ConfigError::at_span(path, text, e.span(), e.message()))?;
        raw.validate(path, text, root)
    }

    /// The same table as the processes of `group` (a name as [`check_group`] allows).
    pub fn in_group(mut self, group: &str) -> Self {
        for p in &mut self.processes {
            p.group = group.to_string();
        }
        self
    }

    /// Hands the certificate and key to every process with `tls = true` (in
    /// its environment, as `portos_rt::tls` reads them).
    pub fn serve_tls_with(&mut self, cert: &Path, key: &Path) {
        for p in self.processes.iter_mut().filter(|p| p.tls) {
            p.env
                .insert(TLS_CERT_ENV.into(), cert.display().to_string());
            p.env.insert(TLS_KEY_ENV.into(), key.display().to_string());
        }
    }

    /// The process with this name.
    pub fn process(&self, name: &str) -> Option<&ProcessSpec> {
        self.processes.iter().find(|p| p.name == name)
    }

    /// `names` and everything they depend on, transitively, in start order.
    /// Names not in the table are skipped; see [`Config::process`] to check them.
    pub fn with_dependencies<S: AsRef<str>>(&self, names: &[S]) -> Vec<String> {
        with_dependencies(&self.processes, names)
    }

    /// Processes in an order where each comes after all it depends on.
    pub fn start_order(&self) -> Vec<&ProcessSpec> {
        start_order(&self.processes)
    }
}

/// Every process learns where its siblings in the table listen: each labelled
/// port of the table as `PORTOS_PORT_<PROCESS>_<LABEL>` in its environment
/// (a variable the table sets itself is left alone).
pub(crate) fn hand_out_ports(mut table: Vec<ProcessSpec>) -> Vec<ProcessSpec> {
    let all: Vec<(String, u16)> = table
        .iter()
        .flat_map(|p| {
            p.ports
                .iter()
                .map(|(label, port)| (portos_core::siblings::port_var(&p.name, label), *port))
        })
        .collect();
    for p in &mut table {
        for (var, port) in &all {
            p.env.entry(var.clone()).or_insert_with(|| port.to_string());
        }
    }
    table
}

/// `names` and everything they depend on in `table`, transitively, in start
/// order. Names not in the table are skipped.
pub fn with_dependencies<S: AsRef<str>>(table: &[ProcessSpec], names: &[S]) -> Vec<String> {
    let find = |n: &str| table.iter().find(|p| p.name == n);
    let mut want: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    let mut i = 0;
    while i < want.len() {
        if let Some(p) = find(want[i]) {
            for d in &p.depends_on {
                if !want.contains(&d.as_str()) {
                    want.push(d);
                }
            }
        }
        i += 1;
    }
    start_order(table)
        .into_iter()
        .filter(|p| want.contains(&p.name.as_str()))
        .map(|p| p.name.clone())
        .collect()
}

/// The processes of `table` in an order where each comes after all it depends on.
pub fn start_order(table: &[ProcessSpec]) -> Vec<&ProcessSpec> {
    let index: HashMap<&str, &ProcessSpec> = table.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut done: Vec<&str> = Vec::new();
    fn visit<'a>(
        p: &'a ProcessSpec,
        index: &HashMap<&str, &'a ProcessSpec>,
        done: &mut Vec<&'a str>,
    ) {
        if done.contains(&p.name.as_str()) {
            return;
        }
        for d in &p.depends_on {
            if let Some(dep) = index.get(d.as_str()) {
                visit(dep, index, done);
            }
        }
        done.push(p.name.as_str());
    }
    for p in table {
        visit(p, &index, &mut done);
    }
    done.iter().map(|n| index[n]).collect()
}

/// A group name: letters, digits, `-`, `_`, `.`, at most 100, not `all`.
pub fn check_group(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name != "all"
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid group name \"{name}\": use letters, digits, '-', '_' or '.', and not \"all\""
        ))
    }
}

impl ProcessSpec {
    /// The delay before the next respawn, given how many unstable restarts in a
    /// row came before it (0 after a stable run): `restart_delay`, plus for a
    /// crash loop `backoff · 2^(n-1)` capped at `backoff_max`.
    pub fn restart_delay_for(&self, unstable: u32) -> Duration {
        if unstable == 0 {
            return self.restart_delay;
        }
        let factor = 1u32.checked_shl(unstable - 1).unwrap_or(u32::MAX);
        let extra = self
            .backoff
            .checked_mul(factor)
            .unwrap_or(self.backoff_max)
            .min(self.backoff_max);
        self.restart_delay + extra
    }

    /// The port with this label.
    pub fn port(&self, label: &str) -> Option<u16> {
        self.ports.iter().find(|(l, _)| l == label).map(|(_, p)| *p)
    }
}

#[cfg(test)]
mod tests;
