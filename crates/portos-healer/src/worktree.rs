//! The worktree mode (`worktree: true`): the agent works in a git worktree of
//! the app's repository on a branch of its own (`autofixer/<session>`), the
//! result is committed there for the owner to review and merge, and the
//! running process is left as it is (its code did not change). The worktree
//! folder is removed afterwards; the branch never is.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A worktree made for one session.
#[derive(Debug, Clone)]
pub struct Worktree {
    pub repo: String,
    pub path: PathBuf,
    pub branch: String,
}

/// Runs git (no shell, no prompt, a time limit); its stdout, or its stderr as the error.
pub(crate) async fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let mut c = tokio::process::Command::new("git");
    c.arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    match tokio::time::timeout(Duration::from_secs(30), c.output()).await {
        Ok(Ok(o)) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(Ok(o)) => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Ok(Err(e)) => Err(format!("git: {e}")),
        Err(_) => Err("git took more than 30 s".into()),
    }
}

/// A new worktree of `repo` under `root` on `autofixer/<session>`, from HEAD.
pub async fn open(repo: &str, root: &Path, session: &str) -> Result<Worktree, String> {
    let path = root.join(session);
    let branch = format!("autofixer/{session}");
    let target = path.display().to_string();
    git(
        Path::new(repo),
        &["worktree", "add", "-b", &branch, "--", &target, "HEAD"],
    )
    .await
    .map_err(|e| format!("could not make a worktree of {repo}: {e}"))?;
    Ok(Worktree {
        repo: repo.to_string(),
        path,
        branch,
    })
}

/// Commits what the agent changed on the branch (nothing when it changed
/// nothing) and removes the worktree folder; the branch stays.
pub async fn close(wt: &Worktree, process: &str) -> Result<bool, String> {
    let changed = !git(&wt.path, &["status", "--porcelain"])
        .await?
        .trim()
        .is_empty();
    if changed {
        git(&wt.path, &["add", "-A"]).await?;
        let message = format!("autofixer: fix {process}");
        git(
            &wt.path,
            &[
                "-c",
                "user.name=PortOS autofixer",
                "-c",
                "user.email=autofixer@portos.invalid",
                "commit",
                "-q",
                "-m",
                &message,
            ],
        )
        .await?;
    }
    let target = wt.path.display().to_string();
    git(
        Path::new(&wt.repo),
        &["worktree", "remove", "--force", "--", &target],
    )
    .await?;
    Ok(changed)
}
