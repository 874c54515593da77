//! The verbs that talk to a running supervisor over its control socket.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use pb::supervisor_client::SupervisorClient;
use portos_proto::supervisor::v1 as pb;
use tonic::Code;
use tonic::transport::Channel;

use crate::render;
use crate::{Failure, Outcome};

/// Runs a client verb on a small single-threaded runtime (fast to start).
pub fn run<T>(fut: impl Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::state(format!("cannot start the runtime: {e}")))?
        .block_on(fut)
}

/// A client of the supervisor of `data_dir`, or a plain word that none runs.
pub async fn connect(data_dir: &Path) -> Result<SupervisorClient<Channel>, Failure> {
    try_connect(data_dir).await.ok_or_else(|| {
        Failure::state(format!(
            "no supervisor is running for {} (start one with `portos up -d`)",
            data_dir.display()
        ))
    })
}

pub async fn try_connect(data_dir: &Path) -> Option<SupervisorClient<Channel>> {
    let socket = portos_supervisor::socket_path(data_dir);
    if !socket.exists() {
        return None;
    }
    portos_proto::unix::connect(&socket)
        .await
        .ok()
        .map(SupervisorClient::new)
}

fn status_failure(s: tonic::Status) -> Failure {
    match s.code() {
        Code::NotFound | Code::InvalidArgument => Failure::input(s.message().to_string()),
        _ => Failure::state(format!("supervisor: {}", s.message())),
    }
}

pub async fn status(data_dir: &Path, json: bool) -> Outcome {
    let mut c = connect(data_dir).await?;
    let ps = c
        .list_processes(pb::ListProcessesRequest {})
        .await
        .map_err(status_failure)?
        .into_inner()
        .processes;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&render::json(&ps)).unwrap_or_default()
        );
    } else {
        println!("{}", render::table(&ps));
    }
    Ok(())
}

pub async fn logs(data_dir: &Path, name: Option<String>, follow: bool, lines: u32) -> Outcome {
    let mut c = connect(data_dir).await?;
    let names: Vec<String> = c
        .list_processes(pb::ListProcessesRequest {})
        .await
        .map_err(status_failure)?
        .into_inner()
        .processes
        .into_iter()
        .map(|p| p.name)
        .collect();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    let mut stream = c
        .logs(pb::LogsRequest {
            name: name.unwrap_or_default(),
            tail: lines,
            follow,
        })
        .await
        .map_err(status_failure)?
        .into_inner();
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    loop {
        let next = tokio::select! {
            m = stream.message() => m,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        match next {
            Ok(Some(l)) => {
                let index = names.iter().position(|n| *n == l.process).unwrap_or(0);
                let written = writeln!(
                    out,
                    "{} {} {}",
                    render::log_prefix(&l.process, index, width),
                    l.timestamp,
                    l.text
                );
                if written.is_err() {
                    // The reader went away (e.g. `| head`).
                    return Ok(());
                }
                if follow {
                    let _ = out.flush();
                }
            }
            Ok(None) => return Ok(()),
            Err(s) if s.code() == Code::Unavailable || s.code() == Code::Cancelled => {
                return Err(Failure::state("the supervisor went away"));
            }
            Err(s) => return Err(status_failure(s)),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Verb {
    Start,
    Stop,
    Restart,
}

pub async fn control(data_dir: &Path, verb: Verb, name: String) -> Outcome {
    let mut c = connect(data_dir).await?;
    let req = pb::ControlRequest { name: name.clone() };
    // Subscribe first, so no state change between the request and the wait is missed.
    let events = c
        .events(pb::EventsRequest { snapshot: false })
        .await
        .map_err(status_failure)?
        .into_inner();
    let resp = match verb {
        Verb::Start => c.start(req).await,
        Verb::Stop => c.stop(req).await,
        Verb::Restart => c.restart(req).await,
    }
    .map_err(status_failure)?
    .into_inner();
    let names: Vec<String> = resp.processes.iter().map(|p| p.name.clone()).collect();
    match verb {
        Verb::Stop => {
            for p in &resp.processes {
                println!(
                    "{} {:<20} {}",
                    render::mark(p.state),
                    p.name,
                    render::state_name(p.state)
                );
            }
            Ok(())
        }
        Verb::Start | Verb::Restart => {
            wait_settled(&mut c, events, &names, Duration::from_secs(90)).await
        }
    }
}

/// `reload`: applies `supervisor.toml` again to the running supervisor; only
/// what changed is touched.
pub async fn reload(data_dir: &Path, config: &Path) -> Outcome {
    let source = std::path::absolute(config).unwrap_or_else(|_| config.to_path_buf());
    let text = std::fs::read_to_string(&source)
        .map_err(|e| Failure::input(format!("cannot read {}: {e}", source.display())))?;
    let mut c = connect(data_dir).await?;
    let applied = c
        .apply(pb::ApplyRequest {
            group: portos_config::PORTOS_GROUP.into(),
            toml: text,
            source: source.display().to_string(),
            root: String::new(),
        })
        .await
        .map_err(status_failure)?
        .into_inner();
    print_applied(&applied);
    Ok(())
}

/// What an apply did, one line per kind.
pub fn print_applied(a: &pb::ApplyResponse) {
    for (word, names) in [
        ("started", &a.started),
        ("restarted", &a.restarted),
        ("stopped and removed", &a.stopped),
        ("unchanged", &a.unchanged),
    ] {
        if !names.is_empty() {
            println!("{word}: {}", names.join(", "));
        }
    }
}

pub async fn down(data_dir: &Path) -> Outcome {
    let Some(mut c) = try_connect(data_dir).await else {
        println!("no supervisor is running for {}", data_dir.display());
        return Ok(());
    };
    let pid = std::fs::read_to_string(data_dir.join(portos_supervisor::PID_FILE))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    let started = Instant::now();
    c.shutdown(pb::ShutdownRequest {})
        .await
        .map_err(status_failure)?;
    // Close our connection, or the supervisor's server waits for it to drain.
    drop(c);
    // Wait until the daemon is gone: it removes its socket last.
    let socket = portos_supervisor::socket_path(data_dir);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let alive = pid.is_some_and(process_alive);
        if !alive && !socket.exists() {
            break;
        }
        if Instant::now() > deadline {
            return Err(Failure::state("the supervisor did not stop within 120s"));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!("stopped in {}", render::duration(started.elapsed()));
    Ok(())
}

/// Waits until each named process is healthy, unhealthy or errored (or the
/// timeout passes), printing each as it settles. Fails if any is not healthy.
pub async fn wait_settled(
    c: &mut SupervisorClient<Channel>,
    mut events: tonic::Streaming<pb::Event>,
    names: &[String],
    timeout: Duration,
) -> Outcome {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut settled: BTreeMap<String, pb::Process> = BTreeMap::new();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    // Stopped settles only after a run (an exit with autorestart off); before
    // the first start it just means "not started yet".
    let settles = |p: &pb::Process| match pb::State::try_from(p.state) {
        Ok(pb::State::Healthy | pb::State::Errored | pb::State::Unhealthy) => true,
        Ok(pb::State::Stopped) => p.last_exit_code.is_some() || p.last_exit_signal.is_some(),
        _ => false,
    };
    let check = |c_list: Vec<pb::Process>, settled: &mut BTreeMap<String, pb::Process>| {
        for p in c_list {
            if names.contains(&p.name) && !settled.contains_key(&p.name) && settles(&p) {
                let detail = match pb::State::try_from(p.state) {
                    Ok(pb::State::Healthy) => {
                        let ports = p
                            .ports
                            .iter()
                            .map(|x| format!(":{}", x.port))
                            .collect::<Vec<_>>()
                            .join(" ");
                        format!("pid {:<7} {ports}", p.pid)
                    }
                    _ => p.reason.clone(),
                };
                println!(
                    "  {} {:<width$}  {:<9} {:>6}  {}",
                    render::mark(p.state),
                    p.name,
                    render::state_name(p.state),
                    render::duration(started.elapsed()),
                    detail,
                );
                settled.insert(p.name.clone(), p);
            }
        }
    };
    loop {
        let list = c
            .list_processes(pb::ListProcessesRequest {})
            .await
            .map_err(status_failure)?
            .into_inner()
            .processes;
        check(list, &mut settled);
        if settled.len() == names.len() {
            break;
        }
        if Instant::now() >= deadline {
            let waiting: Vec<&str> = names
                .iter()
                .filter(|n| !settled.contains_key(*n))
                .map(String::as_str)
                .collect();
            return Err(Failure::state(format!(
                "still not settled after {}: {}",
                render::duration(timeout),
                waiting.join(", ")
            )));
        }
        // Wake on the next event (or re-check every second).
        let _ = tokio::time::timeout(Duration::from_secs(1), events.message()).await;
    }
    let bad: Vec<String> = settled
        .values()
        .filter(|p| p.state != pb::State::Healthy as i32)
        .map(|p| {
            format!(
                "{} is {}: {}",
                p.name,
                render::state_name(p.state),
                p.reason
            )
        })
        .collect();
    if bad.is_empty() {
        println!(
            "{} healthy in {}",
            names.len(),
            render::duration(started.elapsed())
        );
        Ok(())
    } else {
        Err(Failure::state(bad.join("\n         ")))
    }
}

/// Whether `pid` runs (a zombie, waiting for whoever inherited it to reap it, does not).
fn process_alive(pid: i32) -> bool {
    procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .is_ok_and(|s| s.state != 'Z')
}
