//! `git status`, read from `--porcelain=v1 -z` entry by entry (no trimming of
//! the whole output: the original lost the first path's first letter when it
//! began with an unstaged change).

use std::path::Path;

use serde_json::{Value, json};

use crate::GitError;
use crate::run::git;

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    /// The two status letters, e.g. `" M"`, `"??"`.
    pub code: String,
}

/// The working tree's changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    pub files: Vec<Change>,
}

fn word(code: &str) -> String {
    match code {
        "??" => "untracked",
        "A " => "added",
        "M " => "modified (staged)",
        " M" => "modified",
        "MM" => "modified (partial)",
        "D " => "deleted (staged)",
        " D" => "deleted",
        "R " => "renamed",
        "C " => "copied",
        "AM" => "added (modified)",
        "AD" => "added (deleted)",
        other => return other.trim().to_string(),
    }
    .to_string()
}

impl Change {
    fn staged(&self) -> bool {
        let first = self.code.chars().next().unwrap_or(' ');
        first != ' ' && first != '?'
    }

    fn to_json(&self) -> Value {
        json!({
            "path": self.path,
            "status": word(&self.code),
            "staged": self.staged(),
            "modified": self.code.contains('M'),
            "added": self.code.contains('A') || self.code == "??",
            "deleted": self.code.contains('D'),
        })
    }
}

impl Status {
    /// `{ clean, files: [{ path, status, staged, modified, added, deleted }], staged, unstaged }`.
    pub fn to_json(&self) -> Value {
        let staged = self.files.iter().filter(|c| c.staged()).count();
        json!({
            "clean": self.files.is_empty(),
            "files": self.files.iter().map(Change::to_json).collect::<Vec<_>>(),
            "staged": staged,
            "unstaged": self.files.len() - staged,
        })
    }
}

/// Parses `git status --porcelain=v1 -z`: `XY path\0`, a rename or copy
/// followed by its source path as one more entry.
pub(crate) fn parse(out: &str) -> Status {
    let mut files = Vec::new();
    let mut entries = out.split('\0');
    while let Some(e) = entries.next() {
        if e.len() < 4 {
            continue;
        }
        let (code, path) = (&e[..2], &e[3..]);
        if code.starts_with('R') || code.starts_with('C') {
            entries.next();
        }
        files.push(Change {
            path: path.to_string(),
            code: code.to_string(),
        });
    }
    Status { files }
}

/// The repository's status.
pub async fn status(repo: &Path) -> Result<Status, GitError> {
    Ok(parse(
        &git(repo, &["status", "--porcelain=v1", "-z"]).await?,
    ))
}
