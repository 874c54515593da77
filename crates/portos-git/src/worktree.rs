//! A git worktree for an agent: the agent works on a branch of its own in a
//! folder of its own, the owner's checkout is never touched, the result is
//! committed on the branch for the owner to review and merge, and the folder
//! is removed afterwards. The branch never is: an unmerged branch holds work.

use std::path::{Path, PathBuf};

use crate::{GitError, check_ref, run::git};

/// A worktree made for one agent.
#[derive(Debug, Clone)]
pub struct Worktree {
    pub repo: PathBuf,
    pub path: PathBuf,
    pub branch: String,
}

/// Who commits the agent's result.
#[derive(Debug, Clone, Copy)]
pub struct Author<'a> {
    pub name: &'a str,
    pub email: &'a str,
}

/// A new worktree of `repo` at `path` on a new `branch` from HEAD.
pub async fn open(repo: &Path, path: &Path, branch: &str) -> Result<Worktree, GitError> {
    check_ref("branch", branch)?;
    let target = path.display().to_string();
    git(
        repo,
        &["worktree", "add", "-b", branch, "--", &target, "HEAD"],
    )
    .await
    .map_err(|e| {
        GitError::Failed(format!(
            "could not make a worktree of {}: {e}",
            repo.display()
        ))
    })?;
    Ok(Worktree {
        repo: repo.to_path_buf(),
        path: path.to_path_buf(),
        branch: branch.to_string(),
    })
}

/// Commits what the agent changed on the branch (nothing when it changed
/// nothing; true when it committed) and removes the worktree folder; the
/// branch stays.
pub async fn close(wt: &Worktree, message: &str, by: Author<'_>) -> Result<bool, GitError> {
    let changed = !git(&wt.path, &["status", "--porcelain"])
        .await?
        .trim()
        .is_empty();
    if changed {
        git(&wt.path, &["add", "-A"]).await?;
        let name = format!("user.name={}", by.name);
        let email = format!("user.email={}", by.email);
        git(
            &wt.path,
            &["-c", &name, "-c", &email, "commit", "-q", "-m", message],
        )
        .await?;
    }
    let target = wt.path.display().to_string();
    git(&wt.repo, &["worktree", "remove", "--force", "--", &target]).await?;
    Ok(changed)
}

/// `git diff --stat` of a folder's tracked files plus its new files, or
/// empty when it is not a repository.
pub async fn diff_stat(dir: &Path) -> String {
    let mut stat = git(dir, &["diff", "--stat", "HEAD", "--"])
        .await
        .unwrap_or_default();
    let new: Vec<String> = git(dir, &["ls-files", "--others", "--exclude-standard"])
        .await
        .unwrap_or_default()
        .lines()
        .map(|f| format!(" {f} (new)"))
        .collect();
    if !new.is_empty() {
        stat.push_str(&new.join("\n"));
        stat.push('\n');
    }
    stat
}
