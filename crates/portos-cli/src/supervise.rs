//! `portos up` (foreground or `-d`) and the daemon it starts: load and check
//! the configuration, seed the data dir, run the supervisor with its control
//! socket, and stop everything on Ctrl-C, SIGTERM or `portos down`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use portos_config::Config;
use portos_proto::supervisor::v1 as pb;
use portos_supervisor::{Action, EventKind, Supervisor};
use tokio_util::sync::CancellationToken;

use crate::{Failure, Outcome, client, render};

/// Where the daemon writes what it says about itself.
const DAEMON_LOG: &str = "supervisor.log";

fn load(config: &Path) -> Result<Config, Failure> {
    Config::load(config).map_err(|e| Failure::input(e.to_string()))
}

/// The named processes and, transitively, what they depend on (all when none is named).
fn selection(config: &Config, names: &[String]) -> Result<Vec<String>, Failure> {
    if names.is_empty() || names.iter().any(|n| n == "all") {
        return Ok(config.processes.iter().map(|p| p.name.clone()).collect());
    }
    if let Some(n) = names.iter().find(|n| config.process(n).is_none()) {
        let known: Vec<&str> = config.processes.iter().map(|p| p.name.as_str()).collect();
        return Err(Failure::input(format!(
            "no process named \"{n}\" in {} (known: {})",
            config.path.display(),
            known.join(", ")
        )));
    }
    Ok(config.with_dependencies(names))
}

/// Refuses to start when a selected port is taken, naming it and its owner in the table.
fn check_ports(config: &Config, selected: &[String]) -> Outcome {
    let mut taken = Vec::new();
    for p in config
        .processes
        .iter()
        .filter(|p| selected.contains(&p.name))
    {
        for (label, port) in &p.ports {
            if std::net::TcpListener::bind(("0.0.0.0", *port)).is_err() {
                taken.push(format!("{port} ({}.{label})", p.name));
            }
        }
    }
    if taken.is_empty() {
        Ok(())
    } else {
        Err(Failure::state(format!(
            "port already in use, another program listens there: {}",
            taken.join(", ")
        )))
    }
}

pub fn up(
    config_path: &Path,
    data_dir: &Path,
    names: Vec<String>,
    detach: bool,
    timeout: Duration,
) -> Outcome {
    let config = load(config_path)?;
    let selected = selection(&config, &names)?;
    // A supervisor already running for this data dir: start what was asked there.
    let running = client::run(async {
        if let Some(mut c) = client::try_connect(data_dir).await {
            println!(
                "a supervisor is already running for {}; starting {}",
                data_dir.display(),
                selected.join(", ")
            );
            let events = c
                .events(pb::EventsRequest { snapshot: false })
                .await
                .map_err(|s| Failure::state(s.message().to_string()))?
                .into_inner();
            for n in &selected {
                c.start(pb::ControlRequest { name: n.clone() })
                    .await
                    .map_err(|s| Failure::state(s.message().to_string()))?;
            }
            client::wait_settled(&mut c, events, &selected, timeout).await?;
            return Ok(true);
        }
        Ok(false)
    })?;
    if running {
        return Ok(());
    }
    check_ports(&config, &selected)?;
    prepare_data_dir(&config, data_dir)?;
    crate::owner::announce(
        data_dir,
        crate::owner::auth_off(Some(&config)),
        crate::owner::https(Some(&config)),
    )?;
    if detach {
        // The daemon fetches a Tailscale certificate itself (its failure is shown from its log).
        detach_daemon(config_path, data_dir, &selected, timeout)
    } else {
        foreground(
            crate::tailscale::resolve(config, data_dir)?,
            data_dir,
            selected,
        )
    }
}

fn prepare_data_dir(config: &Config, data_dir: &Path) -> Outcome {
    let report = portos_store::seed(data_dir, &config.root)
        .map_err(|e| Failure::state(format!("cannot seed the data dir: {e}")))?;
    if !report.created_files.is_empty() {
        println!(
            "seeded {} with {} files",
            data_dir.display(),
            report.created_files.len()
        );
    }
    Ok(())
}

/// One thread: an idle supervisor is mostly its own memory, and each worker
/// thread brought a malloc arena. A flood of output on one child's pipes
/// does not hold up the respawn of another: the capture yields after every
/// chunk it reads.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::state(format!("cannot start the runtime: {e}")))
}

/// Everything `up` in the foreground and the daemon share: the supervisor, its
/// socket and pid file, the selected processes started, and one shutdown path.
async fn supervise(
    config: Config,
    data_dir: &Path,
    selected: &[String],
    on_start: impl FnOnce(&Supervisor),
) -> Outcome {
    let shutdown = CancellationToken::new();
    let sup = Supervisor::new(config, data_dir, shutdown.clone())
        .map_err(|e| Failure::state(e.to_string()))?;
    let socket = portos_supervisor::socket_path(data_dir);
    let pid_file = data_dir.join(portos_supervisor::PID_FILE);
    std::fs::write(&pid_file, format!("{}\n", std::process::id()))
        .map_err(|e| Failure::state(format!("cannot write {}: {e}", pid_file.display())))?;
    let control = {
        let sup = sup.clone();
        let socket = socket.clone();
        tokio::spawn(async move {
            let served = portos_supervisor::control::serve(sup.clone(), &socket).await;
            if let Err(e) = &served {
                tracing::error!(error = %e, "control socket failed");
                eprintln!("portos: control socket: {e}");
                sup.request_shutdown();
            }
            served
        })
    };
    on_start(&sup);
    tokio::spawn(crate::tailscale::renew(sup.clone(), data_dir.to_path_buf()));
    for n in selected {
        sup.control(Action::Start, n)
            .await
            .map_err(|e| Failure::state(e.to_string()))?;
    }
    // The apps' processes, kept from the last run; a bad one is said and left.
    for (group, outcome) in portos_supervisor::groups::apply_kept(&sup).await {
        match outcome {
            Ok(a) => tracing::info!(group, started = a.started.len(), "group applied"),
            Err(e) => {
                tracing::error!(group, error = %e, "group not applied");
                eprintln!("portos: the processes of {group} were not started: {e}");
            }
        }
    }

    // glibc keeps what start-up and a burst of work freed (an idle supervisor's
    // arena held 860 KiB resident, a third of it in use): trimmed now, then
    // every minute (no requests to count here).
    let trim = tokio::spawn(portos_heap::keep_trimmed(portos_heap::Activity::default()));

    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        let token = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
                _ = hup.recv() => {}
                () = token.cancelled() => return,
            }
            token.cancel();
            // A second Ctrl-C gives up waiting: the children die with us (parent-death signal).
            let _ = int.recv().await;
            eprintln!("portos: second interrupt, exiting now");
            std::process::exit(130);
        })
    };
    shutdown.cancelled().await;
    tracing::info!("stopping every process");
    sup.stop_all().await;
    let _ = control.await;
    signals.abort();
    trim.abort();
    let _ = std::fs::remove_file(&pid_file);
    let _ = std::fs::remove_file(&socket);
    Ok(())
}

/// `up` in the foreground: every line of every process, prefixed and coloured,
/// and each state change as it happens.
fn foreground(config: Config, data_dir: &Path, selected: Vec<String>) -> Outcome {
    let names: Vec<String> = config.processes.iter().map(|p| p.name.clone()).collect();
    let width = names
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max("portos".len());
    let started = Instant::now();
    let total = selected.len();
    println!(
        "starting {total} processes: {} (Ctrl-C stops them all)",
        selected.join(", ")
    );
    runtime()?.block_on(supervise(config, data_dir, &selected, |sup| {
        let mut lines = sup.logs().subscribe();
        let mut events = sup.events();
        let names = names.clone();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            let mut healthy: BTreeSet<String> = BTreeSet::new();
            let me = render::log_prefix("portos", names.len(), width);
            loop {
                tokio::select! {
                    l = lines.recv() => match l {
                        Ok(l) => {
                            let i = names.iter().position(|n| **n == *l.process).unwrap_or(0);
                            println!("{} {}", render::log_prefix(&l.process, i, width), l.text);
                        }
                        Err(RecvError::Lagged(n)) => println!("{me} ({n} lines not shown; see `portos logs`)"),
                        Err(RecvError::Closed) => return,
                    },
                    e = events.recv() => match e {
                        Ok(e) => {
                            let what = match e.kind {
                                EventKind::Healthy => { healthy.insert(e.process.clone()); "healthy".to_string() }
                                EventKind::Started => format!("started (pid {})", e.pid.unwrap_or(0)),
                                EventKind::Restarting => format!("restarting in {}: {}", render::duration(e.delay), e.reason),
                                EventKind::Exited => { healthy.remove(&e.process); e.reason.clone() }
                                other => format!("{}{}", format!("{other:?}").to_lowercase(), if e.reason.is_empty() { String::new() } else { format!(": {}", e.reason) }),
                            };
                            println!("{me} {}: {what}", e.process);
                            if e.kind == EventKind::Healthy && healthy.len() == total {
                                println!("{me} all {total} healthy in {}", render::duration(started.elapsed()));
                            }
                        }
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => return,
                    },
                }
            }
        });
    }))?;
    println!("stopped");
    Ok(())
}

/// The daemon itself (`portos-supervisord`, or `portos __daemon`), started by `up -d`.
pub fn daemon(config_path: &Path, data_dir: &Path, names: Vec<String>) -> Outcome {
    init_daemon_tracing();
    let config = crate::tailscale::resolve(load(config_path)?, data_dir)?;
    let selected = selection(&config, &names)?;
    tracing::info!(pid = std::process::id(), data_dir = %data_dir.display(), "supervisor starting");
    let r = runtime()?.block_on(supervise(config, data_dir, &selected, |_| {}));
    tracing::info!("supervisor stopped");
    r
}

/// `PORTOS_LOG` as targets and levels (`info`, `portos_supervisor=debug,warn`):
/// the daemon does without `EnvFilter`'s span and field filters, and the
/// regex engine they bring into its memory.
fn init_daemon_tracing() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let wanted = std::env::var("PORTOS_LOG").unwrap_or_default();
    let (targets, bad) = match wanted.parse::<tracing_subscriber::filter::Targets>() {
        Ok(t) if !wanted.is_empty() => (t, None),
        Ok(_) => (
            tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO),
            None,
        ),
        Err(e) => (
            tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO),
            Some(e),
        ),
    };
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_target(false),
        )
        .with(targets)
        .init();
    if let Some(e) = bad {
        tracing::warn!(
            "PORTOS_LOG={wanted:?} is not a list of targets and levels ({e}); logging at info"
        );
    }
}

/// The supervisor daemon's own binary, installed beside `portos`.
const DAEMON_BIN: &str = "portos-supervisord";

/// `up -d`: start the daemon detached, then follow its progress until every
/// selected process settles.
fn detach_daemon(
    config_path: &Path,
    data_dir: &Path,
    selected: &[String],
    timeout: Duration,
) -> Outcome {
    use std::os::unix::process::CommandExt;
    let exe =
        std::env::current_exe().map_err(|e| Failure::state(format!("cannot find myself: {e}")))?;
    let logs = data_dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    let log_path: PathBuf = logs.join(DAEMON_LOG);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)?;
    let config_abs = std::path::absolute(config_path).unwrap_or(config_path.to_path_buf());
    // The lean daemon beside this binary; else this binary's own `__daemon`.
    let lean = Some(exe.with_file_name(DAEMON_BIN)).filter(|l| l.is_file());
    let mut daemon = std::process::Command::new(lean.as_ref().unwrap_or(&exe));
    daemon
        .arg("--config")
        .arg(&config_abs)
        .arg("--data-dir")
        .arg(data_dir);
    if lean.is_none() {
        daemon.arg("__daemon");
    }
    let mut child = daemon
        .args(selected)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| Failure::state(format!("cannot start the supervisor: {e}")))?;
    println!(
        "supervisor started (pid {}); starting {} processes",
        child.id(),
        selected.len()
    );
    client::run(async {
        let socket = portos_supervisor::socket_path(data_dir);
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut c = loop {
            if let Ok(Some(status)) = child.try_wait() {
                let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
                let tail: Vec<&str> = tail.lines().rev().take(5).collect();
                return Err(Failure::state(format!(
                    "the supervisor exited at start ({status}); {}:\n{}",
                    log_path.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )));
            }
            if socket.exists()
                && let Some(c) = client::try_connect(data_dir).await
            {
                break c;
            }
            if Instant::now() > deadline {
                return Err(Failure::state(format!(
                    "the supervisor did not open {} within 15s",
                    socket.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let events = c
            .events(pb::EventsRequest { snapshot: false })
            .await
            .map_err(|s| Failure::state(s.message().to_string()))?
            .into_inner();
        client::wait_settled(&mut c, events, selected, timeout).await
    })
}
