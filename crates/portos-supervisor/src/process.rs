//! One task per configured process owns its whole life: waiting for its
//! dependencies, spawning it in a process group of its own, probing it, stopping
//! the group, and deciding (with a reason) whether and when to start it again.
//! Everything else talks to it through [`Cmd`]s and reads its [`ProcessInfo`]
//! from a watch channel.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use portos_config::{HealthCheck, ProcessSpec};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::logs::{LogHub, Stream};
use crate::model::{Event, EventKind, ExitStatus, Health, ProcessInfo, State};
use crate::reaper::Reaper;

/// The reason of a restart for a changed specification.
const CHANGED: &str = "configuration changed";

/// The command as one line, for people.
fn command_line(spec: &ProcessSpec) -> String {
    std::iter::once(spec.command.as_str())
        .chain(spec.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Probe cadence while a process has not yet been healthy.
const STARTUP_PROBE_INTERVAL: Duration = Duration::from_millis(100);
/// How often a dying process group is checked for emptiness.
const GROUP_POLL: Duration = Duration::from_millis(5);

/// What the actor is asked to do. Replies come once the request is under way.
#[derive(Debug)]
pub(crate) enum Cmd {
    Start(oneshot::Sender<()>),
    Stop(oneshot::Sender<()>),
    Restart(oneshot::Sender<()>),
    /// The table was applied with this process changed: the new specification
    /// (and dependencies) is taken at once; a running child is restarted on it.
    Replace {
        spec: Box<ProcessSpec>,
        deps: Vec<watch::Receiver<ProcessInfo>>,
        reply: oneshot::Sender<()>,
    },
    /// The sampler's latest figures for the process group.
    Usage {
        rss: u64,
        cpu: f64,
    },
}

/// What every actor shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub reaper: Reaper,
    pub logs: Arc<LogHub>,
    pub events: broadcast::Sender<Event>,
    pub data_dir: PathBuf,
    /// Where `portos` lives: bare commands are looked up here first.
    pub bin_dir: Option<PathBuf>,
    /// This run's internal token, handed to every child in its environment.
    pub internal_token: String,
}

struct Running {
    pid: u32,
    exit: oneshot::Receiver<ExitStatus>,
    started: Instant,
    healthy_once: bool,
    failures: u32,
    next_probe: Instant,
    probe: Option<JoinHandle<Result<(), String>>>,
}

enum Phase {
    Idle,
    WaitingForDeps,
    Running(Running),
    Backoff(Instant),
}

/// Why a running process is being stopped.
enum StopFor {
    Stop,
    Restart(String),
    /// Stopped on its old specification, started again on this one.
    Replace(Box<ProcessSpec>),
}

pub(crate) struct Actor {
    spec: ProcessSpec,
    shared: Arc<Shared>,
    info: watch::Sender<ProcessInfo>,
    rx: mpsc::Receiver<Cmd>,
    deps: Vec<watch::Receiver<ProcessInfo>>,
}

impl Actor {
    pub(crate) fn new(
        spec: ProcessSpec,
        shared: Arc<Shared>,
        rx: mpsc::Receiver<Cmd>,
        deps: Vec<watch::Receiver<ProcessInfo>>,
    ) -> (Self, watch::Receiver<ProcessInfo>) {
        let info = ProcessInfo {
            name: spec.name.clone(),
            group: spec.group.clone(),
            pid: None,
            state: State::Stopped,
            health: Health::Unknown,
            reason: String::new(),
            started_at: None,
            restarts: 0,
            unstable_restarts: 0,
            memory_bytes: 0,
            cpu_percent: 0.0,
            ports: spec.ports.clone(),
            last_exit: None,
            command: command_line(&spec),
            min_uptime: spec.min_uptime,
        };
        let (tx, rx_info) = watch::channel(info);
        (
            Self {
                spec,
                shared,
                info: tx,
                rx,
                deps,
            },
            rx_info,
        )
    }

    pub(crate) async fn run(mut self) {
        let mut phase = Phase::Idle;
        loop {
            phase = match phase {
                Phase::Idle => match self.rx.recv().await {
                    None => return,
                    Some(Cmd::Start(reply) | Cmd::Restart(reply)) => {
                        self.update(|i| i.unstable_restarts = 0);
                        let next = self.begin();
                        let _ = reply.send(());
                        next
                    }
                    Some(Cmd::Stop(reply)) => {
                        let _ = reply.send(());
                        Phase::Idle
                    }
                    Some(Cmd::Replace { spec, deps, reply }) => {
                        self.take(*spec, deps);
                        let _ = reply.send(());
                        Phase::Idle
                    }
                    Some(Cmd::Usage { .. }) => Phase::Idle,
                },
                Phase::WaitingForDeps => {
                    let mut deps = std::mem::take(&mut self.deps);
                    let mut replaced = false;
                    let next = tokio::select! {
                        cmd = self.rx.recv() => match cmd {
                            None => return,
                            Some(Cmd::Stop(reply)) => self.stop_idle(reply),
                            Some(Cmd::Start(reply) | Cmd::Restart(reply)) => {
                                let _ = reply.send(());
                                Phase::WaitingForDeps
                            }
                            Some(Cmd::Replace { spec, deps: new, reply }) => {
                                deps = new;
                                self.take(*spec, Vec::new());
                                let _ = reply.send(());
                                replaced = true;
                                Phase::WaitingForDeps
                            }
                            Some(Cmd::Usage { .. }) => Phase::WaitingForDeps,
                        },
                        () = all_healthy(&mut deps) => self.spawn(),
                    };
                    self.deps = deps;
                    if replaced {
                        // Its dependencies may have changed with the table.
                        self.begin()
                    } else {
                        next
                    }
                }
                Phase::Backoff(until) => tokio::select! {
                    cmd = self.rx.recv() => match cmd {
                        None => return,
                        Some(Cmd::Stop(reply)) => self.stop_idle(reply),
                        Some(Cmd::Start(reply) | Cmd::Restart(reply)) => {
                            self.update(|i| {
                                i.unstable_restarts = 0;
                                i.restarts += 1;
                            });
                            let next = self.begin();
                            let _ = reply.send(());
                            next
                        }
                        Some(Cmd::Replace { spec, deps, reply }) => {
                            self.take(*spec, deps);
                            let _ = reply.send(());
                            Phase::Backoff(until)
                        }
                        Some(Cmd::Usage { .. }) => Phase::Backoff(until),
                    },
                    () = tokio::time::sleep_until(until.into()) => {
                        self.update(|i| i.restarts += 1);
                        self.begin()
                    }
                },
                Phase::Running(r) => self.running(r).await,
            };
        }
    }

    /// One turn of a running process: an exit, a command, a probe.
    async fn running(&mut self, mut r: Running) -> Phase {
        let probe_due = r.probe.is_none();
        let next_probe = r.next_probe;
        let exit = &mut r.exit;
        let probe = &mut r.probe;
        tokio::select! {
            status = exit => {
                let status = status.unwrap_or(ExitStatus::Signal(Signal::SIGKILL as i32));
                self.after_exit(r.pid, r.started, status).await
            }
            cmd = self.rx.recv() => match cmd {
                None => {
                    self.stop_running(r, StopFor::Stop).await;
                    Phase::Idle
                }
                Some(Cmd::Stop(reply)) => {
                    self.stop_running(r, StopFor::Stop).await;
                    let _ = reply.send(());
                    Phase::Idle
                }
                Some(Cmd::Restart(reply)) => {
                    let phase = self.stop_running(r, StopFor::Restart("restart requested".into())).await;
                    let _ = reply.send(());
                    phase
                }
                Some(Cmd::Start(reply)) => {
                    let _ = reply.send(());
                    Phase::Running(r)
                }
                Some(Cmd::Replace { spec, deps, reply }) => {
                    self.deps = deps;
                    let phase = self.stop_running(r, StopFor::Replace(spec)).await;
                    let _ = reply.send(());
                    phase
                }
                Some(Cmd::Usage { rss, cpu }) => {
                    self.update(|i| {
                        i.memory_bytes = rss;
                        i.cpu_percent = cpu;
                    });
                    match self.spec.max_memory_restart {
                        Some(limit) if rss > limit => {
                            let reason = format!(
                                "memory limit: RSS {} over max_memory_restart {}",
                                human_bytes(rss),
                                human_bytes(limit)
                            );
                            self.stop_running(r, StopFor::Restart(reason)).await
                        }
                        _ => Phase::Running(r),
                    }
                }
            },
            () = tokio::time::sleep_until(next_probe.into()), if probe_due => {
                let check = self.spec.health.clone();
                let timeout = self.spec.health_timing.timeout;
                r.probe = Some(tokio::spawn(async move { crate::health::probe(&check, timeout).await }));
                Phase::Running(r)
            }
            result = async {
                match probe.as_mut() {
                    Some(p) => p.await,
                    None => std::future::pending().await,
                }
            }, if !probe_due => {
                r.probe = None;
                let result = result.unwrap_or_else(|e| Err(format!("probe task failed: {e}")));
                self.after_probe(r, result).await
            }
        }
    }

    async fn after_probe(&mut self, mut r: Running, result: Result<(), String>) -> Phase {
        let timing = &self.spec.health_timing;
        match result {
            Ok(()) => {
                r.failures = 0;
                let no_probe = self.spec.health == HealthCheck::None;
                r.next_probe = if no_probe {
                    far_future()
                } else {
                    Instant::now() + timing.interval
                };
                let was = self.info.borrow().state;
                if !r.healthy_once || was != State::Healthy {
                    r.healthy_once = true;
                    self.update(|i| {
                        i.state = State::Healthy;
                        i.health = if no_probe {
                            Health::None
                        } else {
                            Health::Serving
                        };
                        i.reason.clear();
                    });
                    self.emit(EventKind::Healthy, None, String::new(), Duration::ZERO);
                }
                Phase::Running(r)
            }
            Err(reason) => {
                r.failures += 1;
                let starting = !r.healthy_once;
                let in_grace = starting && r.started.elapsed() < timing.start_period;
                r.next_probe = Instant::now()
                    + if starting {
                        STARTUP_PROBE_INTERVAL.min(timing.interval)
                    } else {
                        timing.interval
                    };
                if in_grace {
                    self.update(|i| {
                        i.health = Health::NotServing;
                        i.reason = reason;
                    });
                    return Phase::Running(r);
                }
                if starting {
                    // Never healthy: show why, keep probing, do not restart a
                    // process that is up but cannot serve (e.g. a missing browser).
                    r.next_probe = Instant::now() + timing.interval;
                }
                let was = self.info.borrow().state;
                self.update(|i| {
                    i.state = State::Unhealthy;
                    i.health = Health::NotServing;
                    i.reason = reason.clone();
                });
                if was != State::Unhealthy {
                    self.emit(EventKind::Unhealthy, None, reason.clone(), Duration::ZERO);
                }
                if !starting && r.failures >= timing.failure_threshold {
                    let why = format!("health check failed {} times: {reason}", r.failures);
                    return self.stop_running(r, StopFor::Restart(why)).await;
                }
                Phase::Running(r)
            }
        }
    }

    /// Starts now, or waits for dependencies first.
    fn begin(&mut self) -> Phase {
        let waiting: Vec<String> = self
            .deps
            .iter()
            .filter(|d| d.borrow().state != State::Healthy)
            .map(|d| d.borrow().name.clone())
            .collect();
        if waiting.is_empty() {
            return self.spawn();
        }
        self.update(|i| {
            i.state = State::Starting;
            i.health = Health::Unknown;
            i.pid = None;
            i.reason = format!("waiting for {} to be healthy", waiting.join(", "));
        });
        Phase::WaitingForDeps
    }

    fn spawn(&mut self) -> Phase {
        let program = match crate::program::find(
            &self.spec.command,
            &self.spec.cwd,
            self.shared.bin_dir.as_deref(),
        ) {
            Ok(p) => p,
            Err(reason) => return self.give_up(reason, None),
        };
        let mut cmd = std::process::Command::new(&program);
        cmd.args(&self.spec.args)
            .current_dir(&self.spec.cwd)
            .envs(&self.spec.env)
            .env("PORTOS_SUPERVISED", "1")
            .env("PORTOS_PROCESS_NAME", &self.spec.name)
            .env("PORTOS_DATA_DIR", &self.shared.data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // PortOS's own services get this run's internal token; an app never does.
        if self.spec.group == portos_config::PORTOS_GROUP {
            cmd.env(portos_rt::internal::ENV, &self.shared.internal_token);
        } else {
            cmd.env_remove(portos_rt::internal::ENV);
        }
        portos_rt::child::die_with_parent(&mut cmd, Signal::SIGKILL, true);
        let spawned = self.shared.reaper.spawn(|| {
            let child = cmd.spawn()?;
            let pid = child.id();
            Ok((child, pid))
        });
        let (mut child, pid, exit) = match spawned {
            Ok(s) => s,
            Err(e) => {
                return self.give_up(format!("cannot start {}: {e}", program.display()), None);
            }
        };
        let name: Arc<str> = Arc::from(self.spec.name.as_str());
        for (stream, fd) in [
            (Stream::Stdout, child.stdout.take().map(OwnedFd::from)),
            (Stream::Stderr, child.stderr.take().map(OwnedFd::from)),
        ] {
            let Some(fd) = fd else { continue };
            match tokio::net::unix::pipe::Receiver::from_owned_fd(fd) {
                Ok(pipe) => {
                    tokio::spawn(self.shared.logs.clone().capture(name.clone(), stream, pipe));
                }
                Err(e) => tracing::error!(process = %name, error = %e, "cannot capture output"),
            }
        }
        // The std handle is dropped without waiting: the reaper owns the exit.
        drop(child);
        // Without a probe, a process is healthy once it has stayed up for
        // `min_uptime` (supervisord's `startsecs`): one that dies at once never is.
        let no_probe = self.spec.health == HealthCheck::None;
        self.update(|i| {
            i.pid = Some(pid);
            i.started_at = Some(SystemTime::now());
            i.state = State::Starting;
            i.health = if no_probe {
                Health::None
            } else {
                Health::Unknown
            };
            i.reason.clear();
            i.memory_bytes = 0;
            i.cpu_percent = 0.0;
        });
        self.emit(EventKind::Started, None, String::new(), Duration::ZERO);
        let now = Instant::now();
        Phase::Running(Running {
            pid,
            exit,
            started: now,
            healthy_once: false,
            failures: 0,
            next_probe: if no_probe {
                now + self.spec.min_uptime
            } else {
                now
            },
            probe: None,
        })
    }

    /// The child exited on its own: clean up its group, then restart or give up.
    async fn after_exit(&mut self, pid: u32, started: Instant, status: ExitStatus) -> Phase {
        self.kill_group(pid, None).await;
        let uptime = started.elapsed();
        // The state leaves `healthy` in the same update that clears the pid:
        // no snapshot may show a healthy process with no pid. What comes next
        // (a restart, stopped, errored) replaces it in this same step.
        self.update(|i| {
            i.state = State::Backoff;
            i.reason = status.to_string();
            i.pid = None;
            i.started_at = None;
            i.last_exit = Some(status);
            i.memory_bytes = 0;
            i.cpu_percent = 0.0;
            i.health = Health::Unknown;
        });
        self.emit(
            EventKind::Exited,
            Some(status),
            status.to_string(),
            Duration::ZERO,
        );
        if !self.spec.autorestart {
            return if status == ExitStatus::Code(0) {
                self.set_stopped(format!("{status}; autorestart is off"));
                Phase::Idle
            } else {
                self.give_up(format!("{status}; autorestart is off"), Some(status))
            };
        }
        let unstable = if uptime < self.spec.min_uptime {
            self.info.borrow().unstable_restarts + 1
        } else {
            0
        };
        if unstable > self.spec.max_restarts {
            let reason = format!(
                "crash loop: {} restarts each up less than {} (last: {status})",
                self.spec.max_restarts,
                humantime::format_duration(self.spec.min_uptime)
            );
            return self.give_up(reason, Some(status));
        }
        self.update(|i| i.unstable_restarts = unstable);
        let delay = self.spec.restart_delay_for(unstable);
        self.schedule_restart(status.to_string(), delay, Some(status))
    }

    fn schedule_restart(
        &mut self,
        reason: String,
        delay: Duration,
        exit: Option<ExitStatus>,
    ) -> Phase {
        self.shared.logs.note(
            &self.spec.name,
            format!(
                "[portos] restarting in {}: {reason}",
                humantime::format_duration(delay)
            ),
        );
        self.update(|i| {
            i.state = State::Backoff;
            i.reason = reason.clone();
        });
        self.emit(EventKind::Restarting, exit, reason, delay);
        if delay.is_zero() {
            self.update(|i| i.restarts += 1);
            self.begin()
        } else {
            Phase::Backoff(Instant::now() + delay)
        }
    }

    /// Stops the group: the stop signal, `kill_timeout`, then SIGKILL.
    async fn stop_running(&mut self, r: Running, why: StopFor) -> Phase {
        if let Some(p) = r.probe {
            p.abort();
        }
        let reason = match &why {
            StopFor::Stop => "stopped by request".to_string(),
            StopFor::Restart(reason) => reason.clone(),
            StopFor::Replace(_) => CHANGED.to_string(),
        };
        self.update(|i| {
            i.state = State::Stopping;
            i.reason = reason.clone();
        });
        self.emit(EventKind::Stopping, None, reason.clone(), Duration::ZERO);
        let status = self.kill_group(r.pid, Some(r.exit)).await;
        self.update(|i| {
            i.pid = None;
            i.started_at = None;
            i.last_exit = status.or(i.last_exit);
            i.memory_bytes = 0;
            i.cpu_percent = 0.0;
            i.health = Health::Unknown;
        });
        match why {
            StopFor::Stop => {
                self.set_stopped(reason);
                Phase::Idle
            }
            StopFor::Restart(reason) => {
                self.update(|i| i.unstable_restarts = 0);
                self.schedule_restart(reason, Duration::ZERO, status)
            }
            StopFor::Replace(spec) => {
                let deps = std::mem::take(&mut self.deps);
                self.take(*spec, deps);
                self.update(|i| i.unstable_restarts = 0);
                self.schedule_restart(CHANGED.into(), Duration::ZERO, status)
            }
        }
    }

    /// Takes a new specification (what the snapshot shows of it too).
    fn take(&mut self, spec: ProcessSpec, deps: Vec<watch::Receiver<ProcessInfo>>) {
        self.update(|i| {
            i.ports = spec.ports.clone();
            i.command = command_line(&spec);
            i.min_uptime = spec.min_uptime;
            i.group = spec.group.clone();
        });
        self.spec = spec;
        self.deps = deps;
    }

    /// Signals the process group and waits until it is empty, escalating to
    /// SIGKILL after `kill_timeout`. With `exit`, also waits for the leader's
    /// status (which the reaper delivers) and returns it.
    async fn kill_group(
        &self,
        pgid: u32,
        exit: Option<oneshot::Receiver<ExitStatus>>,
    ) -> Option<ExitStatus> {
        let pgid = Pid::from_raw(pgid as i32);
        let signal: Signal = self.spec.stop_signal.parse().unwrap_or(Signal::SIGTERM);
        let deadline = Instant::now() + self.spec.kill_timeout;
        let mut status = None;
        let mut exit = exit;
        if group_alive(pgid) {
            let _ = killpg(pgid, signal);
        }
        loop {
            if let Some(rx) = exit.as_mut()
                && let Ok(s) = rx.try_recv()
            {
                status = Some(s);
                exit = None;
            }
            let leader_gone = exit.is_none();
            if leader_gone && !group_alive(pgid) {
                return status;
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(GROUP_POLL).await;
        }
        self.shared.logs.note(
            &self.spec.name,
            format!(
                "[portos] still running {} after {}: SIGKILL",
                self.spec.stop_signal,
                humantime::format_duration(self.spec.kill_timeout)
            ),
        );
        let _ = killpg(pgid, Signal::SIGKILL);
        if let Some(rx) = exit {
            status = tokio::time::timeout(Duration::from_secs(5), rx)
                .await
                .ok()
                .and_then(Result::ok);
        }
        let until = Instant::now() + Duration::from_secs(5);
        while group_alive(pgid) && Instant::now() < until {
            let _ = killpg(pgid, Signal::SIGKILL);
            tokio::time::sleep(GROUP_POLL).await;
        }
        status
    }

    fn give_up(&mut self, reason: String, exit: Option<ExitStatus>) -> Phase {
        self.shared
            .logs
            .note(&self.spec.name, format!("[portos] errored: {reason}"));
        self.update(|i| {
            i.state = State::Errored;
            i.pid = None;
            i.started_at = None;
            i.reason = reason.clone();
        });
        self.emit(EventKind::Errored, exit, reason, Duration::ZERO);
        Phase::Idle
    }

    /// A stop while no child runs (waiting for dependencies, or in backoff).
    fn stop_idle(&mut self, reply: oneshot::Sender<()>) -> Phase {
        self.set_stopped("stopped by request".into());
        let _ = reply.send(());
        Phase::Idle
    }

    fn set_stopped(&mut self, reason: String) {
        self.update(|i| {
            i.state = State::Stopped;
            i.pid = None;
            i.started_at = None;
            i.health = Health::Unknown;
            i.reason = reason.clone();
        });
        self.emit(EventKind::Stopped, None, reason, Duration::ZERO);
    }

    fn update(&self, f: impl FnOnce(&mut ProcessInfo)) {
        self.info.send_modify(f);
    }

    fn emit(&self, kind: EventKind, exit: Option<ExitStatus>, reason: String, delay: Duration) {
        let (state, pid) = {
            let i = self.info.borrow();
            (i.state, i.pid)
        };
        tracing::info!(process = %self.spec.name, ?kind, state = state.as_str(), reason = %reason, "event");
        let _ = self.shared.events.send(Event {
            process: self.spec.name.clone(),
            group: self.spec.group.clone(),
            kind,
            state,
            pid,
            exit,
            reason,
            delay,
            at: SystemTime::now(),
        });
    }
}

async fn all_healthy(deps: &mut [watch::Receiver<ProcessInfo>]) {
    loop {
        for d in deps.iter_mut() {
            if d.wait_for(|i| i.state == State::Healthy).await.is_err() {
                // The dependency's actor is gone: never ready.
                std::future::pending::<()>().await;
            }
        }
        if deps.iter().all(|d| d.borrow().state == State::Healthy) {
            return;
        }
    }
}

/// Whether any process (zombies included, until reaped) is left in the group.
pub(crate) fn group_alive(pgid: Pid) -> bool {
    killpg(pgid, None).is_ok()
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

/// `12.3 MiB`: sizes as people read them.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
