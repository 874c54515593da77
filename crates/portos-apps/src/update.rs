//! Bringing an app up to date as the original does:
//! `git pull --rebase --autostash`, `npm install` where a package.json is
//! (root, client, server), `npm run setup` when the root package has one, then
//! a restart of its processes through the supervisor. No shell runs any step.
//!
//! The same update runs from REST (progress in the answer) and from a live
//! client's `app:update { appId }` (progress as `app:update:step` events to
//! that client, then `app:update:complete` or `app:update:error`), as the
//! original offers both. Better than the original: a failing step ends the
//! update with `success: false` and that step's message (it answered 500).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use portos_core::time::now_ms;
use portos_history::NewEntry;
use serde_json::{Value, json};

use crate::control::{AppAction, control_all};
use crate::registry::with_repo;
use crate::{Apps, AppsError};

/// How long one step may run.
const STEP_TIMEOUT: Duration = Duration::from_secs(600);
/// How much of a step's output is kept (its end).
const OUTPUT_TAIL: usize = 64 << 10;

/// Repos being updated now: a second update of one is refused, not queued.
#[derive(Debug, Default)]
pub struct Updating(Mutex<HashSet<String>>);

/// Holds a repo's place in [`Updating`] until dropped.
struct Claim<'a>(&'a Updating, String);

impl Updating {
    fn claim(&self, repo: &str) -> Option<Claim<'_>> {
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        set.insert(repo.to_string())
            .then(|| Claim(self, repo.to_string()))
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut set = (self.0).0.lock().unwrap_or_else(|e| e.into_inner());
        set.remove(&self.1);
    }
}

/// The steps done and the progress seen, as the original answers them.
struct Report<F> {
    steps: Vec<Value>,
    progress: Vec<Value>,
    on_step: F,
}

impl<F: FnMut(&Value)> Report<F> {
    fn emit(&mut self, step: &str, status: &str, message: &str) {
        let event =
            json!({ "step": step, "status": status, "message": message, "timestamp": now_ms() });
        (self.on_step)(&event);
        self.progress.push(event);
    }

    /// Runs one step; `false` when it failed (recorded with its message).
    async fn step(
        &mut self,
        step: &str,
        running: &str,
        run: impl Future<Output = Result<String, String>>,
    ) -> bool {
        self.emit(step, "running", running);
        match run.await {
            Ok(message) => {
                self.emit(step, "done", &message);
                self.steps
                    .push(json!({ "step": step, "success": true, "message": message }));
                true
            }
            Err(message) => {
                self.emit(step, "error", &message);
                self.steps
                    .push(json!({ "step": step, "success": false, "message": message }));
                false
            }
        }
    }
}

/// What an update did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub success: bool,
    pub steps: Vec<Value>,
    pub progress: Vec<Value>,
}

/// Runs `program ARGS` in `dir`, no shell; its output's end, or why it failed.
async fn run(program: &str, args: &[&str], dir: &Path) -> Result<String, String> {
    let child = tokio::process::Command::new(program)
        .env_remove(portos_core::secrets::INTERNAL_TOKEN_ENV)
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(STEP_TIMEOUT, child).await {
        Err(_) => return Err(format!("{program} took longer than {STEP_TIMEOUT:?}")),
        Ok(Err(e)) => return Err(format!("cannot start {program}: {e}")),
        Ok(Ok(out)) => out,
    };
    let tail = |b: &[u8]| {
        let text = String::from_utf8_lossy(&b[b.len().saturating_sub(OUTPUT_TAIL)..]);
        text.trim().to_string()
    };
    let (stdout, stderr) = (tail(&out.stdout), tail(&out.stderr));
    if out.status.success() {
        Ok([stdout, stderr]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n"))
    } else if stderr.is_empty() {
        Err(format!(
            "{program} {} failed ({})",
            args.join(" "),
            out.status
        ))
    } else {
        Err(stderr)
    }
}

/// Whether `dir/package.json` has a `scripts.setup`.
async fn has_setup(dir: &Path) -> bool {
    tokio::fs::read(dir.join("package.json"))
        .await
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .is_some_and(|p| p["scripts"]["setup"].is_string())
}

/// Updates app `id`; `on_step` sees each progress event as it happens.
pub async fn perform(
    apps: &Apps,
    id: &str,
    on_step: impl FnMut(&Value),
) -> Result<Outcome, AppsError> {
    let (a, repo) = with_repo(apps, id, "App repo path does not exist").await?;
    let Some(_claim) = apps.updating.claim(&repo) else {
        return Ok(Outcome {
            success: false,
            steps: vec![
                json!({ "step": "lock", "success": false, "message": "Update already in progress" }),
            ],
            progress: Vec::new(),
        });
    };
    let dir = Path::new(&repo);
    let mut r = Report {
        steps: Vec::new(),
        progress: Vec::new(),
        on_step,
    };
    let mut ok = r
        .step("git-pull", "Pulling latest changes...", async {
            run("git", &["pull", "--rebase", "--autostash"], dir)
                .await
                .map(|m| if m.is_empty() { "Up to date".into() } else { m })
        })
        .await;
    for sub in ["", "client", "server"] {
        let sub_dir = dir.join(sub);
        if !ok || !sub_dir.join("package.json").is_file() {
            continue;
        }
        let label = if sub.is_empty() { "root" } else { sub };
        ok = r
            .step(
                &format!("npm-install:{label}"),
                &format!("Installing {label} dependencies..."),
                async {
                    run("npm", &["install"], &sub_dir)
                        .await
                        .map(|_| format!("{label} dependencies installed"))
                },
            )
            .await;
    }
    if ok && has_setup(dir).await {
        ok = r
            .step("setup", "Running setup...", async {
                run("npm", &["run", "setup"], dir)
                    .await
                    .map(|_| "Setup complete".to_string())
            })
            .await;
    }
    let names: Vec<String> = a["pm2ProcessNames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect();
    if ok && !names.is_empty() {
        ok = r
            .step("restart", "Restarting app...", async {
                // The pulled code may have changed the app's processes: its table
                // is applied again (changed ones restart on it, new ones start),
                // then the others restart to load the new code.
                let names = if crate::supervise::runs_as_group(id, &a) {
                    let applied = crate::supervise::supervise(apps, id)
                        .await
                        .map_err(|e| e.to_string())?;
                    applied["unchanged"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|n| n.as_str().map(str::to_string))
                        .collect()
                } else {
                    names.clone()
                };
                let results = control_all(apps, &names, AppAction::Restart).await;
                let failed: Vec<String> = results
                    .iter()
                    .filter(|(_, r)| r["success"] != true)
                    .map(|(n, r)| format!("{n}: {}", r["error"].as_str().unwrap_or("failed")))
                    .collect();
                if failed.is_empty() {
                    Ok(format!("Restarted {} process(es)", names.len()))
                } else {
                    Err(failed.join("; "))
                }
            })
            .await;
    }
    let Report {
        steps, progress, ..
    } = r;
    apps.history
        .record(NewEntry {
            action: "update",
            target: Some(id),
            target_name: a["name"].as_str(),
            details: json!({ "steps": steps }),
            success: ok,
            error: None,
        })
        .await?;
    apps.changed("update");
    Ok(Outcome {
        success: ok,
        steps,
        progress,
    })
}
