//! Git for an app's repository, as the original's `/api/git` answers it:
//! status, diff, log, stage and unstage, commit, branches, checkout, pull,
//! push, sync, update of the main branches, and a comparison of two branches.
//!
//! Owns: running `git` without a shell (`GIT_TERMINAL_PROMPT=0`, a time limit,
//! no internal token in its environment), checking every argument (a branch
//! or base starting with `-` or holding what a ref cannot is refused; file
//! paths are relative, without `..`, and passed after `--`), and parsing its
//! output robustly (porcelain `-z`, log records split by control characters),
//! where the original lost a path's first letter and dropped commits whose
//! message held a quote. Which folders may be used is the caller's decision.
//!
//! Must not depend on: axum, tonic, hyper, tower, the store or other domain
//! crates (it knows git and a folder, nothing more).

mod branches;
mod run;
mod status;
pub mod worktree;

use std::path::Path;

use serde_json::{Value, json};

pub use branches::{branch_comparison, branches, checkout, sync, update_branches};
pub use run::GitError;
pub use status::{Status, status};

use run::{git, git_tolerant};

/// A branch, base or head name: what git takes as a ref, never an option.
pub fn check_ref(what: &str, name: &str) -> Result<(), GitError> {
    let ok = !name.is_empty()
        && name.len() <= 250
        && !name.starts_with('-')
        && !name.starts_with('/')
        && !name.ends_with('/')
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("@{")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
    if ok {
        Ok(())
    } else {
        Err(GitError::Invalid(format!(
            "{what} {name:?} is not a branch name (letters, digits, '.', '_', '-', '/'; not starting with '-')"
        )))
    }
}

/// File paths for stage/unstage: relative, no `..`, no NUL.
fn check_files(files: &Value) -> Result<Vec<String>, GitError> {
    let list: Vec<String> = match files {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|f| f.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| GitError::Invalid("files must be strings".into()))?,
        _ => return Err(GitError::Invalid("path and files are required".into())),
    };
    if list.is_empty() {
        return Err(GitError::Invalid("path and files are required".into()));
    }
    for f in &list {
        let bad = f.is_empty()
            || f.contains('\0')
            || f.starts_with('/')
            || Path::new(f)
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
        if bad {
            return Err(GitError::Invalid(format!(
                "file {f:?} must be a path inside the repository"
            )));
        }
    }
    Ok(list)
}

/// `git diff` (or `--cached`): `{ diff }`.
pub async fn diff(repo: &Path, staged: bool) -> Result<Value, GitError> {
    let mut args = vec!["diff"];
    if staged {
        args.push("--cached");
    }
    Ok(json!({ "diff": git(repo, &args).await? }))
}

/// The last `limit` commits (1–100): `{ commits: [{ hash, message, author, date }] }`.
pub async fn commits(repo: &Path, limit: u32) -> Result<Value, GitError> {
    Ok(json!({ "commits": log(repo, &[], limit.clamp(1, 100)).await? }))
}

/// Log records split by control characters: a quote in a message loses nothing.
const LOG_FORMAT: &str = "--format=%h%x1f%s%x1f%an%x1f%aI%x1e";

async fn log(repo: &Path, range: &[&str], limit: u32) -> Result<Vec<Value>, GitError> {
    let n = format!("-n{limit}");
    let mut args = vec!["log", LOG_FORMAT, n.as_str()];
    args.extend_from_slice(range);
    Ok(parse_log(&git(repo, &args).await?))
}

fn parse_log(out: &str) -> Vec<Value> {
    out.split('\x1e')
        .map(|r| r.trim_start_matches('\n'))
        .filter(|r| !r.is_empty())
        .filter_map(|r| {
            let f: Vec<&str> = r.split('\x1f').collect();
            (f.len() == 4)
                .then(|| json!({ "hash": f[0], "message": f[1], "author": f[2], "date": f[3] }))
        })
        .collect()
}

/// `git add -- <files>`.
pub async fn stage(repo: &Path, files: &Value) -> Result<Value, GitError> {
    let files = check_files(files)?;
    let mut args = vec!["add", "--"];
    args.extend(files.iter().map(String::as_str));
    git(repo, &args).await?;
    Ok(json!({ "success": true }))
}

/// `git reset -q HEAD -- <files>`.
pub async fn unstage(repo: &Path, files: &Value) -> Result<Value, GitError> {
    let files = check_files(files)?;
    let mut args = vec!["reset", "-q", "HEAD", "--"];
    args.extend(files.iter().map(String::as_str));
    git(repo, &args).await?;
    Ok(json!({ "success": true }))
}

/// `git commit -m <message>`: `{ hash, message }`.
pub async fn commit(repo: &Path, message: &str) -> Result<Value, GitError> {
    if message.trim().is_empty() {
        return Err(GitError::Invalid("path and message are required".into()));
    }
    git(repo, &["commit", "-q", "-m", message]).await?;
    let hash = git(repo, &["rev-parse", "--short", "HEAD"]).await?;
    Ok(json!({ "hash": hash.trim(), "message": message }))
}

/// `git push origin <branch>` (or `git push`): `{ success, output }`.
pub async fn push(repo: &Path, branch: Option<&str>) -> Result<Value, GitError> {
    let mut args = vec!["push"];
    if let Some(b) = branch {
        check_ref("branch", b)?;
        args.extend(["origin", b]);
    }
    let out = run::git_all(repo, &args).await?;
    Ok(json!({ "success": true, "output": out }))
}

/// `git pull --rebase --autostash`: `{ success, output }`.
pub async fn pull(repo: &Path) -> Result<Value, GitError> {
    let out = run::git_all(repo, &["pull", "--rebase", "--autostash"]).await?;
    Ok(json!({ "success": true, "output": out }))
}

/// `git clone --depth 1 --single-branch -- <source> <dest>`: a shallow copy
/// of one branch, at most five minutes (`dest`'s folder is made first).
pub async fn clone_shallow(source: &str, dest: &Path) -> Result<(), GitError> {
    let parent = dest.parent().unwrap_or(dest);
    std::fs::create_dir_all(parent).map_err(GitError::Spawn)?;
    let target = dest.to_string_lossy();
    let args = [
        "clone",
        "--depth",
        "1",
        "--single-branch",
        "--",
        source,
        &target,
    ];
    match run::output_within(parent, &args, std::time::Duration::from_secs(300)).await? {
        (true, _, _) => Ok(()),
        (false, _, err) => Err(GitError::Failed(err.trim().to_string())),
    }
}

/// `git pull --ff-only` as one writer of the repository: its stdout and stderr.
pub async fn pull_ff_only(repo: &Path) -> Result<(String, String), GitError> {
    let _writer = run::one_writer(repo).await;
    match run::output_within(
        repo,
        &["pull", "--ff-only"],
        std::time::Duration::from_secs(120),
    )
    .await?
    {
        (true, out, err) => Ok((out, err)),
        (false, _, err) => Err(GitError::Failed(err.trim().to_string())),
    }
}

/// Everything the git panel shows at once: `{ isRepo, branch, status,
/// recentCommits, diffStats, remote, baseBranch, devBranch, hasChangelog }`.
pub async fn info(repo: &Path) -> Result<Value, GitError> {
    let inside = git_tolerant(repo, &["rev-parse", "--is-inside-work-tree"]).await;
    if inside.as_deref().map(str::trim) != Some("true") {
        return Ok(json!({ "isRepo": false }));
    }
    let (branch, st, recent, stat, remotes, list) = tokio::join!(
        git_tolerant(repo, &["rev-parse", "--abbrev-ref", "HEAD"]),
        status(repo),
        log(repo, &[], 5),
        git_tolerant(repo, &["diff", "--shortstat"]),
        git_tolerant(repo, &["remote", "-v"]),
        git_tolerant(repo, &["branch", "--list", "--format=%(refname:short)"]),
    );
    let names: Vec<String> = list
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let has = |n: &str| names.iter().any(|b| b == n);
    let pick = |a: &str, b: &str| {
        if has(a) {
            json!(a)
        } else if has(b) {
            json!(b)
        } else {
            Value::Null
        }
    };
    Ok(json!({
        "isRepo": true,
        "branch": branch.map(|b| b.trim().to_string()),
        "status": st.map(|s| s.to_json()).unwrap_or_else(|_| json!({ "clean": true, "files": [] })),
        "recentCommits": recent.unwrap_or_default(),
        "diffStats": shortstat(&stat.unwrap_or_default()),
        "remote": remotes_of(&remotes.unwrap_or_default()),
        "baseBranch": pick("main", "master"),
        "devBranch": pick("dev", "develop"),
        "hasChangelog": repo.join(".changelog").is_dir(),
    }))
}

/// `N files changed, I insertions(+), D deletions(-)` as numbers.
fn shortstat(s: &str) -> Value {
    let num = |word: &str| {
        s.split(',')
            .find(|p| p.contains(word))
            .and_then(|p| p.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    json!({ "files": num("file"), "insertions": num("insertion"), "deletions": num("deletion") })
}

/// `git remote -v` as `{ <name>: { fetch, push } }`, or null with none.
fn remotes_of(s: &str) -> Value {
    let mut out = serde_json::Map::new();
    for line in s.lines() {
        let mut w = line.split_whitespace();
        let (Some(name), Some(url), Some(kind)) = (w.next(), w.next(), w.next()) else {
            continue;
        };
        let entry = out.entry(name.to_string()).or_insert_with(|| json!({}));
        entry[kind.trim_matches(|c| c == '(' || c == ')')] = json!(url);
    }
    if out.is_empty() {
        Value::Null
    } else {
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests;

/// The original's `POST /api/git/<action>` with its body: one of `status`,
/// `diff`, `commits`, `stage`, `unstage`, `commit`, `update-branches`,
/// `branch-comparison`, `push`, `info`, `branches`, `checkout`, `pull`, `sync`,
/// on `repo` (the caller decides which folders may be used).
pub async fn act(repo: &Path, action: &str, body: &Value) -> Result<Value, GitError> {
    let text = |key: &str| body[key].as_str().filter(|s| !s.is_empty());
    let required =
        |key: &str, message: &str| text(key).ok_or_else(|| GitError::Invalid(message.to_string()));
    let _writer = match action {
        "stage" | "unstage" | "commit" | "update-branches" | "checkout" | "pull" | "sync"
        | "push" => Some(run::one_writer(repo).await),
        _ => None,
    };
    match action {
        "status" => Ok(status(repo).await?.to_json()),
        "diff" => diff(repo, body["staged"].as_bool().unwrap_or(false)).await,
        "commits" => commits(repo, body["limit"].as_u64().unwrap_or(10).min(100) as u32).await,
        "stage" => stage(repo, &body["files"]).await,
        "unstage" => unstage(repo, &body["files"]).await,
        "commit" => commit(repo, required("message", "path and message are required")?).await,
        "update-branches" => update_branches(repo).await,
        "branch-comparison" => {
            branch_comparison(
                repo,
                text("base").unwrap_or("main"),
                text("head").unwrap_or("dev"),
            )
            .await
        }
        "push" => push(repo, text("branch")).await,
        "info" => info(repo).await,
        "branches" => branches(repo).await,
        "checkout" => checkout(repo, required("branch", "path and branch are required")?).await,
        "pull" => pull(repo).await,
        "sync" => sync(repo, text("branch")).await,
        other => Err(GitError::Unknown(other.to_string())),
    }
}
