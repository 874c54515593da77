//! One fix: the crashing process's logs and definition and the app's folder
//! go into a prompt; a CLI agent runs it through the chief-of-staff runner in
//! the app's folder, within a time limit; then the process is restarted
//! through the supervisor, and the fix is good only if the process becomes
//! healthy and stays up for its `min_uptime`. What the agent changed is
//! `git diff --stat` of the folder.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Map, json};
use tokio_util::sync::CancellationToken;

use portos_ai::prompts::{self, template};
use portos_ai::providers;
use portos_ai::runs::cli;
use portos_apps::{ProcessInfo, ProcessState};
use portos_store::types::{Provider, ProviderKind};

use crate::config::Config;
use crate::sessions::End;
use crate::{HealerError, Inner, Job};

/// The prompt stage the owner can edit (Prompts page); without one, [`DEFAULT_PROMPT`].
pub const STAGE: &str = "autofixer";

/// The fixer's briefing when the owner has no `autofixer` stage.
pub const DEFAULT_PROMPT: &str = "You are the autofixer of PortOS, working unattended.\n\
The process {{processName}} of the app {{appName}} is crashing ({{trigger}}: {{reason}}).\n\
Its folder is {{repoPath}} (your working directory). It runs: {{command}}\n\n\
1. Read the error log and the output below and find the cause in the source.\n\
2. Edit the files to fix it. Change as little as you can; do not delete data.\n\
3. Do not restart the process yourself: PortOS restarts it when you exit, and\n\
   keeps your fix only if the process then stays healthy.\n\
Exit with status 0 when you have fixed it, non-zero when you could not.\n\n\
Error log (last {{errorLines}} lines):\n```\n{{errors}}\n```\n\n\
Output log (last {{outputLines}} lines):\n```\n{{output}}\n```\n";

/// The app a process belongs to.
#[derive(Debug, Clone)]
pub struct AppRef {
    pub id: String,
    pub name: String,
    pub repo: String,
}

/// The CLI provider that fixes, with the configured model.
pub(crate) async fn fixer(inner: &Inner, cfg: &Config) -> Result<Provider, HealerError> {
    let mut p = match &cfg.provider_id {
        Some(id) => providers::get(&inner.ai, id).await?,
        None => providers::active(&inner.ai).await?.ok_or_else(|| {
            HealerError::unprocessable(
                "no fixing agent: set providerId in the autofixer's config or an active provider",
            )
        })?,
    };
    if p.kind != ProviderKind::Cli || p.command.as_deref().unwrap_or("").is_empty() {
        return Err(HealerError::unprocessable(format!(
            "the provider {} is not a CLI agent; the autofixer needs one (Claude Code, Codex, ...)",
            p.id
        )));
    }
    if let Some(m) = &cfg.model {
        p.default_model = Some(m.clone());
    }
    Ok(p)
}

/// The briefing for one fix.
pub(crate) async fn prompt(
    inner: &Inner,
    cfg: &Config,
    p: &ProcessInfo,
    app: &AppRef,
    trigger: &str,
) -> Result<String, HealerError> {
    let lines = cfg.error_lines.max(cfg.output_lines).saturating_mul(2);
    let tail = inner.sup.tail(&p.name, lines).await.unwrap_or_default();
    let pick = |stderr: bool, n: u32| {
        let v: Vec<&str> = tail
            .iter()
            .filter(|l| l.stderr == stderr)
            .map(|l| l.text.as_str())
            .collect();
        let from = v.len().saturating_sub(n as usize);
        let text = v[from..].join("\n");
        if text.is_empty() {
            "(nothing logged)".to_string()
        } else {
            text
        }
    };
    let mut ctx = Map::new();
    for (k, v) in [
        ("processName", json!(p.name)),
        ("appName", json!(app.name)),
        ("appId", json!(app.id)),
        ("repoPath", json!(app.repo)),
        ("command", json!(p.command)),
        ("reason", json!(p.reason)),
        ("trigger", json!(trigger)),
        ("errorLines", json!(cfg.error_lines)),
        ("outputLines", json!(cfg.output_lines)),
        ("errors", json!(pick(true, cfg.error_lines))),
        ("output", json!(pick(false, cfg.output_lines))),
    ] {
        ctx.insert(k.into(), v);
    }
    let text = prompts::template_of(&inner.ai, STAGE)
        .await?
        .unwrap_or_else(|| DEFAULT_PROMPT.to_string());
    let (rendered, _missing): (String, BTreeSet<String>) = template::render(&text, &ctx);
    Ok(rendered)
}

/// Runs the agent and judges the result; never fails: what went wrong is the verdict.
pub(crate) async fn run(
    inner: &Inner,
    cfg: &Config,
    job: &Job,
    provider: &Provider,
    prompt_text: &str,
    cancel: &CancellationToken,
) -> End {
    let (session, process, app) = (job.session.as_str(), job.process.as_str(), &job.app);
    let worktree = if cfg.worktree {
        let root = inner.store.path("autofixer/worktrees");
        match portos_git::worktree::open(
            std::path::Path::new(&app.repo),
            &root.join(session),
            &format!("autofixer/{session}"),
        )
        .await
        {
            Ok(w) => Some(w),
            Err(e) => {
                let why = e.to_string();
                return End {
                    status: "failed",
                    error: Some(why.clone()),
                    verdict: why,
                    ..End::default()
                };
            }
        }
    } else {
        None
    };
    let workdir = worktree
        .as_ref()
        .map_or_else(|| app.repo.clone(), |w| w.path.display().to_string());
    let mut output = String::new();
    let mut on_text = |piece: &str| {
        output.push_str(piece);
        inner.emit(
            "fix:output",
            json!({ "sessionId": session, "process": process, "text": piece }),
        );
    };
    let attempt = cli::run(
        &*inner.runner,
        session,
        provider,
        prompt_text,
        Some(&workdir),
        true,
        cancel,
        Duration::from_millis(cfg.timeout_ms),
        &mut on_text,
    )
    .await;
    let diff_stat = diff_stat(&workdir).await;
    let closed = match &worktree {
        Some(w) => Some(
            portos_git::worktree::close(w, &format!("autofixer: fix {process}"), AUTHOR)
                .await
                .map_err(|e| e.to_string()),
        ),
        None => None,
    };
    let failed = |verdict: String, status: &'static str| End {
        exit_code: attempt.exit_code,
        success: false,
        status,
        error: Some(verdict.clone()),
        verdict,
        diff_stat: diff_stat.clone(),
        output: output.clone(),
    };
    if attempt.stopped {
        return failed(
            "interrupted: the autofixer stopped while the fix ran".into(),
            "interrupted",
        );
    }
    if let Some(e) = &attempt.error {
        let why = e
            .message
            .clone()
            .unwrap_or_else(|| "the agent failed".into());
        return failed(
            format!("agent failed: {why}; the process was left as it was"),
            "failed",
        );
    }
    if let (Some(w), Some(closed)) = (&worktree, closed) {
        return match closed {
            Ok(true) => End {
                exit_code: attempt.exit_code,
                success: true,
                status: "proposed",
                verdict: format!(
                    "proposed on the branch {}: review and merge it; the process was not restarted",
                    w.branch
                ),
                error: None,
                diff_stat,
                output,
            },
            Ok(false) => failed("the agent changed nothing".into(), "failed"),
            Err(why) => failed(
                format!("could not keep the agent's work on {}: {why}", w.branch),
                "failed",
            ),
        };
    }
    match verify(inner, cfg, process, cancel).await {
        Ok(verdict) => End {
            exit_code: attempt.exit_code,
            success: true,
            status: "succeeded",
            verdict,
            error: None,
            diff_stat,
            output,
        },
        Err(why) => failed(why, "failed"),
    }
}

/// Restarts the process and waits for it to be healthy and to stay up for
/// its `min_uptime`; `Err` with the reason when it does not.
async fn verify(
    inner: &Inner,
    cfg: &Config,
    process: &str,
    cancel: &CancellationToken,
) -> Result<String, String> {
    inner
        .sup
        .restart(process)
        .await
        .map_err(|e| format!("restart after the fix failed: {e}"))?;
    let first = find(inner, process).await?;
    let restarts = first.restarts;
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(cfg.verify_ms + first.min_uptime_ms);
    loop {
        let p = find(inner, process).await?;
        if p.state == ProcessState::Errored {
            return Err(format!(
                "the process is still failing after the fix: {}",
                p.reason
            ));
        }
        if p.restarts > restarts {
            return Err(format!(
                "the process crashed again after the fix: {}",
                p.reason
            ));
        }
        if p.state == ProcessState::Healthy && p.uptime_ms >= p.min_uptime_ms.max(100) {
            return Ok(format!(
                "fixed: healthy for {} ms after the restart",
                p.uptime_ms
            ));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "the process did not become healthy within {} ms after the fix ({})",
                cfg.verify_ms + p.min_uptime_ms,
                p.state.name()
            ));
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
            () = cancel.cancelled() => return Err("interrupted while verifying".into()),
        }
    }
}

async fn find(inner: &Inner, process: &str) -> Result<ProcessInfo, String> {
    inner
        .sup
        .processes()
        .await
        .map_err(|e| format!("the supervisor did not answer: {e}"))?
        .into_iter()
        .find(|p| p.name == process)
        .ok_or_else(|| format!("{process} is no longer supervised"))
}

/// Who commits a fix made in a worktree.
const AUTHOR: portos_git::worktree::Author<'static> = portos_git::worktree::Author {
    name: "PortOS autofixer",
    email: "autofixer@portos.invalid",
};

/// `git diff --stat` of the folder's tracked files plus its new files, or
/// empty when it is not a repository.
pub async fn diff_stat(repo: &str) -> String {
    portos_git::worktree::diff_stat(std::path::Path::new(repo)).await
}
