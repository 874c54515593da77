//! Running git: no shell, no prompt, a time limit, stdin closed, and no
//! internal token inherited.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use portos_core::{Kind, Problem};

/// How long one git command may take (a push or pull over a slow link included).
const LIMIT: Duration = Duration::from_secs(120);

/// What can go wrong with git.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// A bad argument (400).
    #[error("{0}")]
    Invalid(String),
    /// Git said no; its own words.
    #[error("{0}")]
    Failed(String),
    #[error("git {0} took longer than {1:?}")]
    TimedOut(String, Duration),
    #[error("cannot run git: {0}")]
    Spawn(#[source] std::io::Error),
    /// No such action (404).
    #[error("no git action {0:?}")]
    Unknown(String),
}

impl From<GitError> for Problem {
    fn from(e: GitError) -> Self {
        let text = e.to_string();
        match e {
            GitError::Invalid(_) => Problem::new(Kind::Invalid, "VALIDATION_ERROR", text),
            GitError::Failed(_) => Problem::new(Kind::Unprocessable, "GIT_FAILED", text),
            GitError::TimedOut(..) => Problem::new(Kind::Unavailable, "GIT_TIMEOUT", text),
            GitError::Spawn(_) => Problem::new(Kind::Internal, "COMMAND_NOT_FOUND", text),
            GitError::Unknown(_) => Problem::new(Kind::NotFound, "NOT_FOUND", text),
        }
    }
}

/// One writer at a time per repository in this process: two `git add`s at
/// once (a double click) would otherwise fail on git's `index.lock`.
pub(crate) async fn one_writer(repo: &Path) -> tokio::sync::OwnedMutexGuard<()> {
    static WRITERS: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Mutex::default);
    let key = std::fs::canonicalize(repo).unwrap_or_else(|_| repo.to_path_buf());
    let lock = {
        let mut map = WRITERS.lock().unwrap_or_else(|e| e.into_inner());
        // Forget repositories nobody is writing to, so the map stays small.
        map.retain(|_, l| Arc::strong_count(l) > 1);
        map.entry(key).or_default().clone()
    };
    lock.lock_owned().await
}

/// git's exit status, stdout and stderr.
async fn output(repo: &Path, args: &[&str]) -> Result<(bool, String, String), GitError> {
    output_within(repo, args, LIMIT).await
}

/// As [`output`], with its own time limit (a clone may take longer).
pub(crate) async fn output_within(
    repo: &Path,
    args: &[&str],
    limit: Duration,
) -> Result<(bool, String, String), GitError> {
    let run = tokio::process::Command::new("git")
        .args(["-c", "core.quotepath=off"])
        .args(args)
        .current_dir(repo)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "/bin/false")
        .env("GCM_INTERACTIVE", "never")
        // A read (status, diff) must not take the index lock a write needs.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env_remove(portos_core::secrets::INTERNAL_TOKEN_ENV)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(limit, run)
        .await
        .map_err(|_| GitError::TimedOut(args.first().copied().unwrap_or("").to_string(), limit))?
        .map_err(GitError::Spawn)?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// stdout, or git's stderr as the error (its stdout when it said nothing
/// there, as `commit` with nothing to commit does).
pub(crate) async fn git(repo: &Path, args: &[&str]) -> Result<String, GitError> {
    let (ok, out, err) = output(repo, args).await?;
    if ok {
        Ok(out)
    } else if err.trim().is_empty() {
        Err(GitError::Failed(out.trim().to_string()))
    } else {
        Err(GitError::Failed(err.trim().to_string()))
    }
}

/// stdout and stderr together (push and pull speak on stderr), or the error.
pub(crate) async fn git_all(repo: &Path, args: &[&str]) -> Result<String, GitError> {
    let (ok, out, err) = output(repo, args).await?;
    let both = format!("{out}{err}").trim().to_string();
    if ok {
        Ok(both)
    } else {
        Err(GitError::Failed(both))
    }
}

/// stdout, or `None` on any failure (for what may fail without harm).
pub(crate) async fn git_tolerant(repo: &Path, args: &[&str]) -> Option<String> {
    match output(repo, args).await {
        Ok((true, out, _)) => Some(out),
        _ => None,
    }
}

/// Status, stdout and stderr, never an error but a failure to run.
pub(crate) async fn git_outcome(repo: &Path, args: &[&str]) -> Result<(bool, String), GitError> {
    let (ok, out, err) = output(repo, args).await?;
    Ok((ok, format!("{out}{err}").trim().to_string()))
}
