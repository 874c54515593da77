//! A CLI run: executed by the chief-of-staff runner (its gRPC API), never by
//! the api server itself, so an api server restart does not cut it. The
//! arguments are the original's (by provider id); the prompt goes on stdin.

use std::time::Duration;

use futures_util::StreamExt;
use portos_store::types::Provider;
use tokio_util::sync::CancellationToken;

use crate::runner::{Runner, RunnerError, Spawn};

use super::Attempt;
use super::analyze::{Analysis, analyze};

/// The original's argument list by provider id.
pub fn args_for(p: &Provider) -> Vec<String> {
    let mut args = p.args.clone();
    match p.id.as_str() {
        "codex" => {
            args.push("exec".into());
            if let Some(m) = &p.default_model {
                args.extend(["--model".into(), m.clone()]);
            }
            args.push("-".into());
        }
        "gemini-cli" => {}
        _ => args.extend(["-p".into(), "-".into()]),
    }
    args
}

/// The runner's agent id for a run.
pub fn agent_id(run_id: &str, hop: usize) -> String {
    if hop == 0 {
        format!("run-{run_id}")
    } else {
        format!("run-{run_id}-{hop}")
    }
}

/// Runs `prompt` on a CLI provider through the runner, from `from` bytes of
/// its output on (0 for a new run; more when the api server re-attaches).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    runner: &dyn Runner,
    agent: &str,
    provider: &Provider,
    prompt: &str,
    workspace: Option<&str>,
    spawn: bool,
    cancel: &CancellationToken,
    timeout: Duration,
    on_text: &mut (dyn FnMut(&str) + Send),
) -> Attempt {
    if spawn {
        let req = Spawn {
            id: agent.to_string(),
            command: provider.command.clone().unwrap_or_default(),
            args: args_for(provider),
            env: provider
                .env_vars
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            cwd: workspace.unwrap_or_default().to_string(),
            stdin: prompt.to_string(),
        };
        if let Err(e) = runner.spawn(req).await {
            let why = match e {
                RunnerError::Unreachable(why) => return unreachable(why),
                RunnerError::Failed(why) => why,
            };
            let mut a = Attempt::failed(Analysis {
                message: Some(format!("Spawn failed: {why}")),
                category: Some("spawn-error"),
                ..analyze(&why, Some(-1))
            });
            a.exit_code = Some(-1);
            return a;
        }
    }
    let mut stream = match runner.follow(agent).await {
        Ok(s) => s,
        Err(RunnerError::Unreachable(why)) => return unreachable(why),
        Err(RunnerError::Failed(why)) => {
            return lost(Attempt::failed(Analysis {
                message: Some(format!("lost the runner's output: {why}")),
                ..analyze(&why, None)
            }));
        }
    };
    let follow = async {
        let mut text = String::new();
        let mut pending = Vec::new();
        while let Some(chunk) = stream.next().await {
            // Whole UTF-8 characters only: a piece may end inside one.
            pending.extend_from_slice(&chunk?);
            let valid = match std::str::from_utf8(&pending) {
                Ok(s) => s.len(),
                Err(e) if e.error_len().is_none() => e.valid_up_to(),
                Err(_) => pending.len(),
            };
            let piece = String::from_utf8_lossy(&pending[..valid]).into_owned();
            pending.drain(..valid);
            if !piece.is_empty() {
                text.push_str(&piece);
                on_text(&piece);
            }
        }
        if !pending.is_empty() {
            let rest = String::from_utf8_lossy(&pending).into_owned();
            text.push_str(&rest);
            on_text(&rest);
        }
        Ok::<String, String>(text)
    };
    let stop = |why: &'static str| async move {
        let _ = runner.stop(agent).await;
        why
    };
    let outcome = tokio::select! {
        r = follow => r,
        () = cancel.cancelled() => Err(stop("stopped").await.to_string()),
        () = tokio::time::sleep(timeout) => Err(stop("timed out").await.to_string()),
    };
    let text = match outcome {
        Ok(t) => t,
        Err(why) if why == "stopped" => {
            return Attempt {
                stopped: true,
                ..Attempt::default()
            };
        }
        Err(why) if why == "timed out" => {
            return Attempt::failed(Analysis {
                message: Some(format!("timed out after {} s", timeout.as_secs())),
                ..analyze("timed out", None)
            });
        }
        Err(why) => {
            return lost(Attempt::failed(Analysis {
                message: Some(format!("lost the runner's output: {why}")),
                ..analyze(&why, None)
            }));
        }
    };
    let agent_now = match runner.get(agent).await {
        Ok(a) => a,
        Err(e) => {
            let why = e.to_string();
            return lost(Attempt::failed(Analysis {
                message: Some(format!("the runner lost the agent: {why}")),
                ..analyze("unknown", Some(1))
            }));
        }
    };
    let mut attempt = Attempt {
        exit_code: agent_now.exit_code,
        ..Attempt::default()
    };
    if agent_now.exit_code != Some(0) {
        let mut a = analyze(&text, agent_now.exit_code);
        if agent_now.lost || agent_now.exit_code.is_none() {
            a.message = Some(agent_now.reason.clone());
        }
        attempt.lost = agent_now.lost;
        attempt.fail(a);
    }
    attempt
}

fn lost(mut a: Attempt) -> Attempt {
    a.lost = true;
    a
}

/// The attempt when the runner is not there: a network error, as any
/// unreachable provider.
fn unreachable(why: String) -> Attempt {
    Attempt::failed(Analysis {
        message: Some(why),
        ..analyze("network error", None)
    })
}
