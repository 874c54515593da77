//! Branches: the list with tracking, checkout, bringing the main branches up
//! to date, comparing two branches, and syncing one with its remote.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::run::{git, git_outcome, git_tolerant};
use crate::{GitError, check_ref, log, shortstat, status};

/// `{ branches: [{ name, current, tracking, ahead, behind }] }`.
pub async fn branches(repo: &Path) -> Result<Value, GitError> {
    let out = git_tolerant(
        repo,
        &[
            "branch",
            "--format=%(HEAD)%1f%(refname:short)%1f%(upstream:short)%1f%(upstream:track)",
        ],
    )
    .await
    .unwrap_or_default();
    let list: Vec<Value> = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\x1f').collect();
            if f.len() != 4 {
                return None;
            }
            let count = |word: &str| {
                f[3].trim_matches(|c| c == '[' || c == ']')
                    .split(',')
                    .find_map(|p| p.trim().strip_prefix(word))
                    .and_then(|n| n.trim().parse::<u64>().ok())
                    .unwrap_or(0)
            };
            Some(json!({
                "name": f[1],
                "current": f[0] == "*",
                "tracking": (!f[2].is_empty()).then_some(f[2]),
                "ahead": count("ahead"),
                "behind": count("behind"),
            }))
        })
        .collect();
    Ok(json!({ "branches": list }))
}

/// `git checkout <branch> --`: `{ success, branch }`.
pub async fn checkout(repo: &Path, branch: &str) -> Result<Value, GitError> {
    check_ref("branch", branch)?;
    git(repo, &["checkout", "-q", branch, "--"]).await?;
    Ok(json!({ "success": true, "branch": branch }))
}

async fn current(repo: &Path) -> Result<String, GitError> {
    Ok(git(repo, &["rev-parse", "--abbrev-ref", "HEAD"])
        .await?
        .trim()
        .to_string())
}

/// Fetches origin and fast-forwards `dev`/`develop` and `main`/`master`; the
/// checked-out one is merged fast-forward only, local changes stashed around
/// it. `{ stashed, stashRestored, currentBranch, <branch>: updated|failed }`.
pub async fn update_branches(repo: &Path) -> Result<Value, GitError> {
    git(repo, &["fetch", "-q", "origin"]).await?;
    let here = current(repo).await?;
    let mut out = Map::new();
    let (mut stashed, mut restored) = (false, false);
    for b in ["dev", "develop", "main", "master"] {
        let exists = git_tolerant(
            repo,
            &["rev-parse", "--verify", "-q", &format!("refs/heads/{b}")],
        )
        .await
        .is_some();
        if !exists {
            continue;
        }
        let ok = if b != here {
            git_outcome(repo, &["fetch", "-q", "origin", &format!("{b}:{b}")])
                .await?
                .0
        } else {
            let tracked = git_tolerant(repo, &["rev-parse", "--abbrev-ref", "@{upstream}"])
                .await
                .is_some();
            if !tracked {
                continue;
            }
            if !status(repo).await?.files.is_empty() {
                stashed = git_outcome(repo, &["stash", "push", "-q", "-m", "portos-auto-stash"])
                    .await?
                    .0;
            }
            let merged = git_outcome(repo, &["merge", "-q", "--ff-only", &format!("origin/{b}")])
                .await?
                .0;
            if stashed {
                restored = git_outcome(repo, &["stash", "pop", "-q"]).await?.0;
            }
            merged
        };
        out.insert(b.into(), json!(if ok { "updated" } else { "failed" }));
    }
    out.insert("stashed".into(), json!(stashed));
    out.insert("stashRestored".into(), json!(restored));
    out.insert("currentBranch".into(), json!(here));
    Ok(Value::Object(out))
}

/// What `head` has that `base` lacks: `{ ahead, commits, stats: { files, insertions, deletions } }`.
pub async fn branch_comparison(repo: &Path, base: &str, head: &str) -> Result<Value, GitError> {
    check_ref("base", base)?;
    check_ref("head", head)?;
    let range = format!("{base}..{head}");
    let commits = log(repo, &[range.as_str(), "--"], 100)
        .await
        .unwrap_or_default();
    let three = format!("{base}...{head}");
    let stat = git_tolerant(repo, &["diff", "--shortstat", &three, "--"])
        .await
        .unwrap_or_default();
    Ok(json!({ "ahead": commits.len(), "commits": commits, "stats": shortstat(&stat) }))
}

/// Pulls (rebase, autostash) then pushes `branch` (default: the current one):
/// `{ success, pulled, pushed, output, error }`; a failed pull stops there.
pub async fn sync(repo: &Path, branch: Option<&str>) -> Result<Value, GitError> {
    let branch = match branch {
        Some(b) => {
            check_ref("branch", b)?;
            b.to_string()
        }
        None => current(repo).await?,
    };
    let (pulled, pull_out) = git_outcome(
        repo,
        &["pull", "--rebase", "--autostash", "origin", &branch],
    )
    .await?;
    if !pulled {
        return Ok(
            json!({ "success": false, "pulled": false, "pushed": false, "output": pull_out, "error": pull_out }),
        );
    }
    let (pushed, push_out) = git_outcome(repo, &["push", "origin", &branch]).await?;
    let output = format!("{pull_out}\n{push_out}").trim().to_string();
    Ok(json!({
        "success": pushed,
        "pulled": true,
        "pushed": pushed,
        "output": output,
        "error": (!pushed).then_some(push_out),
    }))
}
