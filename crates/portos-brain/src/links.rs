//! Links (`links.json`): saved URLs; a GitHub repository's is cloned
//! (shallow, no shell, five minutes at most) into `data/repos/<owner>/<repo>`
//! and can be pulled. Owner and repository names are checked before they
//! become a path or an argument.

use std::path::PathBuf;
use std::process::Stdio;

use portos_core::{Kind, Problem, Refuse};
use serde_json::{Map, Value, json};

use crate::files::LINKS;
use crate::inbox::number;
use crate::validate::{Ty, dflt, opt, req, text, validate};
use crate::{Brain, BrainError, Result};

pub const LINK_TYPES: &[&str] = &[
    "github",
    "article",
    "documentation",
    "tool",
    "reference",
    "other",
];
const MISSING: &str = "Link not found";

/// `owner/repo` of a GitHub URL (`https://github.com/o/r`, `github.com/o/r`,
/// `git@github.com:o/r.git`, any path or query after), when both are names.
pub fn github(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("git@github.com:").or_else(|| {
        let u = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .unwrap_or(url);
        let u = u.strip_prefix("www.").unwrap_or(u);
        u.strip_prefix("github.com/")
    })?;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let mut parts = rest.split('/');
    let owner = parts.next()?;
    let repo = parts.next()?;
    let repo = repo.strip_suffix(".git").unwrap_or(repo);
    let name = |s: &str| {
        !s.is_empty()
            && s.len() <= 100
            && !s.starts_with('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    (name(owner) && name(repo)).then(|| (owner.to_string(), repo.to_string()))
}

/// git's words, at most the 500 characters the original's schema allows.
fn truncated(s: &str) -> String {
    s.trim().chars().take(500).collect()
}

/// Which links a listing wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinksQuery {
    pub link_type: Option<String>,
    pub github: Option<bool>,
    pub limit: usize,
    pub offset: usize,
}

impl LinksQuery {
    /// From a request's query strings (`isGitHubRepo=false` means false; the
    /// original read any text as true).
    pub fn parse(
        link_type: Option<&str>,
        github: Option<&str>,
        limit: Option<&str>,
        offset: Option<&str>,
    ) -> Result<Self> {
        let link_type = match link_type.filter(|s| !s.is_empty()) {
            Some(t) if LINK_TYPES.contains(&t) => Some(t.to_string()),
            Some(t) => {
                return Err(BrainError::validation(format!(
                    "linkType {t:?} must be one of {}",
                    LINK_TYPES.join(", ")
                )));
            }
            None => None,
        };
        let github = match github.filter(|s| !s.is_empty()) {
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(s) => {
                return Err(BrainError::validation(format!(
                    "isGitHubRepo {s:?} must be true or false"
                )));
            }
            None => None,
        };
        Ok(Self {
            link_type,
            github,
            limit: number("limit", limit, 50, 1..=100)?,
            offset: number("offset", offset, 0, 0..=usize::MAX)?,
        })
    }
}

impl Brain {
    /// `GET /links`: `{links, total, limit, offset}`, newest first.
    pub async fn links(&self, q: &LinksQuery) -> Result<Value> {
        let mut all: Vec<Value> = self
            .list_in(LINKS)
            .await?
            .into_iter()
            .filter(|l| q.link_type.as_deref().is_none_or(|t| l["linkType"] == t))
            .filter(|l| q.github.is_none_or(|g| (l["isGitHubRepo"] == true) == g))
            .collect();
        all.sort_by(|a, b| b["createdAt"].as_str().cmp(&a["createdAt"].as_str()));
        let total = all.len();
        let links: Vec<_> = all.into_iter().skip(q.offset).take(q.limit).collect();
        Ok(json!({"links": links, "total": total, "limit": q.limit, "offset": q.offset}))
    }

    pub async fn link(&self, id: &str) -> Result<Value> {
        self.get_in(LINKS, id, MISSING).await
    }

    /// `POST /links`: 201 with the record, 409 `DUPLICATE_URL` for a URL
    /// already saved; a GitHub repository's clone starts (unless `autoClone`
    /// is false).
    pub async fn create_link(&self, body: &Value) -> Result<Value> {
        let input = validate(
            &[
                req("url", Ty::Url),
                opt("title", Ty::Text(1, 500)),
                opt("description", Ty::Text(0, 2000)),
                opt("linkType", Ty::OneOf(LINK_TYPES)),
                opt("tags", Ty::Strings(50)),
                dflt("autoClone", Ty::Flag, "true"),
            ],
            body,
            true,
        )?;
        let url = input["url"].as_str().unwrap_or_default().to_string();
        if let Some(existing) = self
            .list_in(LINKS)
            .await?
            .into_iter()
            .find(|l| l["url"] == url.as_str())
        {
            return Err(Problem::new(
                Kind::Conflict,
                "DUPLICATE_URL",
                "Link with this URL already exists",
            )
            .with_context(json!({"existingId": existing["id"]}))
            .into());
        }
        let gh = github(&url);
        let auto = input.get("autoClone") != Some(&json!(false))
            && input.get("autoClone") != Some(&json!("false"));
        let mut r = Map::new();
        r.insert("url".into(), json!(url));
        let title = text(&input, "title")
            .map(str::to_string)
            .unwrap_or_else(|| match &gh {
                Some((o, n)) => format!("{o}/{n}"),
                None => url.clone(),
            });
        r.insert("title".into(), json!(title));
        r.insert(
            "description".into(),
            json!(text(&input, "description").unwrap_or("")),
        );
        let kind =
            text(&input, "linkType").unwrap_or(if gh.is_some() { "github" } else { "other" });
        r.insert("linkType".into(), json!(kind));
        r.insert(
            "tags".into(),
            input.get("tags").cloned().unwrap_or(json!([])),
        );
        r.insert("isGitHubRepo".into(), json!(gh.is_some()));
        if let Some((o, n)) = &gh {
            r.insert("gitHubOwner".into(), json!(o));
            r.insert("gitHubRepo".into(), json!(n));
        }
        r.insert("localPath".into(), Value::Null);
        let clone = gh.is_some() && auto;
        r.insert(
            "cloneStatus".into(),
            json!(if clone { "pending" } else { "none" }),
        );
        r.insert("cloneError".into(), Value::Null);
        let link = self.insert_in(LINKS, r).await?;
        if clone {
            self.start_clone(link["id"].as_str().unwrap_or_default());
        }
        Ok(link)
    }

    /// `PUT /links/:id`: title, description, type and tags only.
    pub async fn update_link(&self, id: &str, body: &Value) -> Result<Value> {
        let fields = validate(
            &[
                opt("title", Ty::Text(1, 500)),
                opt("description", Ty::Text(0, 2000)),
                opt("linkType", Ty::OneOf(LINK_TYPES)),
                opt("tags", Ty::Strings(50)),
            ],
            body,
            false,
        )?;
        self.patch_in(LINKS, id, fields, MISSING).await
    }

    /// `DELETE /links/:id` (a clone on disk stays).
    pub async fn delete_link(&self, id: &str) -> Result<()> {
        self.delete_in(LINKS, id, MISSING).await
    }

    /// `POST /links/:id/clone`.
    pub async fn clone_link(&self, id: &str) -> Result<Value> {
        let link = self.link(id).await?;
        if link["isGitHubRepo"] != true {
            return Err(BrainError::bad_request(
                "NOT_GITHUB_REPO",
                "Link is not a GitHub repository",
            ));
        }
        if link["cloneStatus"] == "cloning" || self.cloning().contains(id) {
            return Err(BrainError::conflict(
                "CLONE_IN_PROGRESS",
                "Clone already in progress",
            ));
        }
        self.start_clone(id);
        Ok(json!({"message": "Clone started", "linkId": id}))
    }

    fn cloning(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.inner.clones.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start_clone(&self, id: &str) {
        if !self.cloning().insert(id.to_string()) {
            return;
        }
        let (brain, id) = (self.clone(), id.to_string());
        tokio::spawn(async move {
            if let Err(e) = brain.clone_now(&id).await {
                tracing::warn!(link = %id, "clone not recorded: {e}");
            }
            brain.cloning().remove(&id);
        });
    }

    async fn set_link(&self, id: &str, fields: Value) -> Result<Value> {
        let fields = fields.as_object().cloned().unwrap_or_default();
        let link = self.patch_in(LINKS, id, fields, MISSING).await?;
        self.broadcast("brain:link:updated", link.clone());
        Ok(link)
    }

    async fn clone_now(&self, id: &str) -> Result<()> {
        let link = self.set_link(id, json!({"cloneStatus": "cloning"})).await?;
        let (Some(owner), Some(repo)) = (link["gitHubOwner"].as_str(), link["gitHubRepo"].as_str())
        else {
            return Ok(());
        };
        let Some((owner, repo)) = github(&format!("github.com/{owner}/{repo}")) else {
            self.set_link(id, json!({"cloneStatus": "failed", "cloneError": "not a GitHub owner/repository name"})).await?;
            return Ok(());
        };
        let dest: PathBuf = self.store().path("repos").join(&owner).join(&repo);
        let done = if dest.join(".git").exists() {
            Ok(())
        } else {
            let source = format!("{}/{owner}/{repo}.git", self.inner.github);
            portos_git::clone_shallow(&source, &dest)
                .await
                .map_err(|e| format!("Git clone failed: {}", truncated(&e.to_string())))
        };
        let fields = match done {
            Ok(()) => {
                json!({"localPath": dest.to_string_lossy(), "cloneStatus": "cloned", "cloneError": null})
            }
            Err(e) => json!({"cloneStatus": "failed", "cloneError": e}),
        };
        self.set_link(id, fields).await?;
        Ok(())
    }

    fn clone_dir(&self, link: &Value, missing_code: &'static str) -> Result<PathBuf> {
        let path = link["localPath"]
            .as_str()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| BrainError::bad_request(missing_code, "Link has no local clone"))?;
        let path = PathBuf::from(path);
        if !path.is_dir() {
            return Err(BrainError::bad_request(
                "PATH_NOT_FOUND",
                format!("{} does not exist", path.display()),
            ));
        }
        Ok(path)
    }

    /// `POST /links/:id/pull`: `git pull --ff-only` in the clone.
    pub async fn pull_link(&self, id: &str) -> Result<Value> {
        let link = self.link(id).await?;
        if link["isGitHubRepo"] != true {
            return Err(BrainError::bad_request(
                "NOT_CLONED",
                "Link is not a cloned GitHub repository",
            ));
        }
        let dir = self.clone_dir(&link, "NOT_CLONED")?;
        let (stdout, stderr) = portos_git::pull_ff_only(&dir).await.map_err(|e| {
            Problem::new(
                Kind::Unprocessable,
                "GIT_PULL_FAILED",
                format!("Git pull failed: {}", truncated(&e.to_string())),
            )
        })?;
        Ok(json!({
            "message": "Pull complete",
            "stdout": stdout,
            "stderr": stderr,
            "success": true,
        }))
    }

    /// `POST /links/:id/open-folder`: the clone opened by the desktop of the
    /// machine PortOS runs on (`xdg-open`; `open` on macOS).
    pub async fn open_link_folder(&self, id: &str) -> Result<Value> {
        let link = self.link(id).await?;
        let dir = self.clone_dir(&link, "NO_LOCAL_PATH")?;
        let opener = if cfg!(target_os = "macos") {
            "open"
        } else {
            "xdg-open"
        };
        tokio::process::Command::new(opener)
            .arg(&dir)
            .env_remove(portos_core::secrets::INTERNAL_TOKEN_ENV)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                Problem::new(
                    Kind::Unprocessable,
                    "CANNOT_OPEN",
                    format!("cannot open a folder on this machine ({opener}: {e})"),
                )
            })?;
        Ok(json!({"message": "Folder opened", "path": dir.to_string_lossy()}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_urls_in_every_spelling() {
        let or = Some(("o".to_string(), "r".to_string()));
        for u in [
            "https://github.com/o/r",
            "http://github.com/o/r.git",
            "github.com/o/r/tree/main?x=1",
            "git@github.com:o/r.git",
            "https://www.github.com/o/r#readme",
        ] {
            assert_eq!(github(u), or, "{u}");
        }
        assert_eq!(github("https://gitlab.com/o/r"), None);
        assert_eq!(github("https://github.com/o"), None);
        assert_eq!(
            github("https://github.com/../r"),
            None,
            "no path out of data/repos"
        );
        assert_eq!(github("https://github.com/o/r;rm"), None);
    }

    #[test]
    fn the_github_filter_reads_false_as_false() {
        assert_eq!(
            LinksQuery::parse(None, Some("false"), None, None)
                .unwrap()
                .github,
            Some(false)
        );
        assert!(LinksQuery::parse(None, Some("no"), None, None).is_err());
        assert!(LinksQuery::parse(None, None, Some("0"), None).is_err());
    }
}
