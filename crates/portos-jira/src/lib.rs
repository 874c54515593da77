//! A client of one JIRA Server/Data Center instance: REST API v2 and Agile 1.0,
//! authenticated with a personal access token (`Authorization: Bearer`). Issues
//! (create, read, update, comment, transition, delete), JQL search, projects,
//! fields (to find custom field ids), active sprints and epics. Custom field ids
//! for story points, epic and sprint are per instance. A self-hosted instance
//! with a private CA is reached by trusting that CA, never by switching TLS
//! verification off. JQL values are quoted and escaped, path segments encoded.
//!
//! The token is never part of an error, a log line or a `Debug` output.
//! Must not depend on: the api server, the store, or any service crate.

use std::time::Duration;

use portos_remote::{Call, Failure, Remote};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The original's timeout.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// What a JIRA call can end in besides an answer.
#[derive(Debug, thiserror::Error)]
pub enum JiraError {
    #[error("JIRA is not reachable: {0}")]
    Network(String),
    #[error("JIRA did not answer within {}s", .0.as_secs())]
    Timeout(Duration),
    /// 401, or a login page where JSON was due (an expired token).
    #[error("JIRA refused the token: {0}")]
    Auth(String),
    /// 403 with `X-Seraph-LoginReason: AUTHENTICATION_DENIED`: the account is
    /// locked (too many failed logins: a CAPTCHA must be solved in the browser)
    /// or deactivated.
    #[error("the JIRA account is locked or deactivated: {0}")]
    Locked(String),
    #[error("JIRA rate limit: {message}{}", .retry_after.map(|d| format!("; retry after {}s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    /// Any other 4xx/5xx, with JIRA's own message.
    #[error("JIRA answered {status}: {message}")]
    Remote { status: u16, message: String },
    /// A base URL or CA certificate that cannot be used.
    #[error("{0}")]
    Config(String),
    #[error("unexpected answer from JIRA: {0}")]
    Decode(String),
}

impl JiraError {
    /// The HTTP status this error should surface as.
    pub fn http_status(&self) -> u16 {
        match self {
            JiraError::Network(_) | JiraError::Timeout(_) => 502,
            JiraError::Auth(_) => 401,
            JiraError::Locked(_) => 403,
            JiraError::RateLimited { .. } => 429,
            JiraError::Remote { status, .. } => *status,
            JiraError::Config(_) => 400,
            JiraError::Decode(_) => 502,
        }
    }
}

const LOGIN_PAGE: &str =
    "JIRA token expired — received login page instead of JSON. Regenerate your PAT.";

impl From<Failure> for JiraError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Network(m) => JiraError::Network(m),
            Failure::Timeout(d) => JiraError::Timeout(d),
            Failure::Config(m) => JiraError::Config(m),
            // JIRA's client is not rate limited here.
            Failure::Limited(r) => JiraError::Config(r.to_string()),
            Failure::Store(s) => JiraError::Config(s.to_string()),
            Failure::Status {
                status,
                message,
                retry_after,
                body,
                headers,
            } => {
                // `{ errorMessages: [], errors: { field: message } }`.
                let message = match body.get("errors").and_then(Value::as_object) {
                    Some(errs) if !errs.is_empty() && message.starts_with("HTTP ") => errs
                        .iter()
                        .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join("; "),
                    _ => message,
                };
                let login_reason = headers
                    .get("x-seraph-loginreason")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                match status {
                    401 => JiraError::Auth(message),
                    403 if login_reason.contains("AUTHENTICATION_DENIED") => {
                        JiraError::Locked(message)
                    }
                    429 => JiraError::RateLimited {
                        retry_after,
                        message,
                    },
                    status => JiraError::Remote { status, message },
                }
            }
        }
    }
}

/// Custom field ids of an instance (`customFields` in `data/jira.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CustomFields {
    pub story_points: String,
    pub epic: String,
    pub sprint: String,
}

impl Default for CustomFields {
    fn default() -> Self {
        Self {
            story_points: "customfield_10106".into(),
            epic: "customfield_10101".into(),
            sprint: "customfield_10105".into(),
        }
    }
}

/// Who the token belongs to.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Myself {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email_address: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Project {
    pub key: String,
    pub name: String,
    pub id: String,
}

/// A new issue, as the original's create form has it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewIssue {
    pub project_key: String,
    pub summary: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub issue_type: Option<String>,
    /// A user name (Server/Data Center).
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub story_points: Option<f64>,
    #[serde(default)]
    pub epic_key: Option<String>,
    #[serde(default)]
    pub sprint: Option<Value>,
    #[serde(default)]
    pub labels: Vec<String>,
}

/// A created issue: its key, its page, and JIRA's whole answer.
#[derive(Clone, Debug, Serialize)]
pub struct Created {
    pub key: String,
    pub url: String,
    pub raw: Value,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Transition {
    pub id: String,
    pub name: String,
    pub to: Option<String>,
}

/// One of my issues in an open sprint (the original's shape).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SprintIssue {
    pub key: String,
    pub summary: Option<String>,
    pub status: Option<String>,
    pub status_category: Option<String>,
    pub priority: Option<String>,
    pub issue_type: Option<String>,
    pub story_points: Value,
    pub updated: Option<String>,
    pub url: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sprint {
    pub id: i64,
    pub name: String,
    pub state: String,
    #[serde(default)]
    pub start_date: Option<String>,
    #[serde(default)]
    pub end_date: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Epic {
    pub key: String,
    pub summary: Option<String>,
    pub status: Option<String>,
}

/// A JQL string literal: quoted, with `\` and `"` escaped, so a value never
/// becomes JQL (the original inserted project keys and queries as they came).
pub fn jql_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A client of one JIRA instance.
#[derive(Clone)]
pub struct Jira {
    remote: Remote,
    token: String,
    fields: CustomFields,
}

impl std::fmt::Debug for Jira {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jira")
            .field("base", &self.remote.base().as_str())
            .field("token", &"<redacted>")
            .field("fields", &self.fields)
            .finish()
    }
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn decode<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, JiraError> {
    serde_json::from_value(v).map_err(|e| JiraError::Decode(e.to_string()))
}

impl Jira {
    /// A client of the instance at `base_url` with a personal access token.
    /// With `ca_pem`, TLS trusts exactly that CA (a private one).
    pub fn new(
        base_url: &str,
        token: &str,
        timeout: Duration,
        ca_pem: Option<&[u8]>,
        fields: CustomFields,
    ) -> Result<Self, JiraError> {
        Ok(Self {
            remote: Remote::new(base_url, timeout, ca_pem)?,
            token: token.to_string(),
            fields,
        })
    }

    /// `<base>/browse/<key>`.
    pub fn browse_url(&self, key: &str) -> String {
        self.remote.url(&["browse", key], &[]).to_string()
    }

    async fn call(&self, c: Call<'_>) -> Result<Value, JiraError> {
        let v = self.remote.send(c.bearer(Some(&self.token))).await?;
        // An expired token gets the login page with 200.
        if v.as_str().is_some_and(|s| s.contains("<!DOCTYPE")) {
            return Err(JiraError::Auth(LOGIN_PAGE.into()));
        }
        Ok(v)
    }

    /// `GET /rest/api/2/myself`.
    pub async fn myself(&self) -> Result<Myself, JiraError> {
        decode(
            self.call(Call::get(&["rest", "api", "2", "myself"]))
                .await?,
        )
    }

    /// `GET /rest/api/2/project`.
    pub async fn projects(&self) -> Result<Vec<Project>, JiraError> {
        let v = self
            .call(Call::get(&["rest", "api", "2", "project"]))
            .await?;
        let list = v.as_array().cloned().unwrap_or_default();
        Ok(list
            .iter()
            .map(|p| Project {
                key: text(p, "/key").unwrap_or_default(),
                name: text(p, "/name").unwrap_or_default(),
                id: text(p, "/id").unwrap_or_default(),
            })
            .collect())
    }

    /// `GET /rest/api/2/field`: every field, custom ones with their ids.
    pub async fn fields(&self) -> Result<Value, JiraError> {
        self.call(Call::get(&["rest", "api", "2", "field"])).await
    }

    /// `POST /rest/api/2/issue`, the custom fields mapped by this instance's ids.
    pub async fn create_issue(&self, new: &NewIssue) -> Result<Created, JiraError> {
        let mut fields = json!({
            "project": { "key": new.project_key },
            "summary": new.summary,
            "description": new.description.clone().filter(|d| !d.is_empty()).unwrap_or_else(|| new.summary.clone()),
            "issuetype": { "name": new.issue_type.clone().filter(|t| !t.is_empty()).unwrap_or_else(|| "Task".into()) },
        });
        if let Some(a) = new.assignee.as_ref().filter(|a| !a.is_empty()) {
            fields["assignee"] = json!({ "name": a });
        }
        if let Some(p) = new.story_points {
            fields[&self.fields.story_points] = json!(p);
        }
        if let Some(e) = new.epic_key.as_ref().filter(|e| !e.is_empty()) {
            fields[&self.fields.epic] = json!(e);
        }
        if let Some(s) = new.sprint.as_ref().filter(|s| !s.is_null()) {
            fields[&self.fields.sprint] = s.clone();
        }
        if !new.labels.is_empty() {
            fields["labels"] = json!(new.labels);
        }
        let raw = self
            .call(
                Call::new(Method::POST, &["rest", "api", "2", "issue"])
                    .body(json!({ "fields": fields })),
            )
            .await?;
        let key = text(&raw, "/key").ok_or_else(|| JiraError::Decode("no issue key".into()))?;
        Ok(Created {
            url: self.browse_url(&key),
            key,
            raw,
        })
    }

    /// `GET /rest/api/2/issue/<key>` (optionally only some `fields`).
    pub async fn issue(&self, key: &str, fields: Option<&str>) -> Result<Value, JiraError> {
        let path = ["rest", "api", "2", "issue", key];
        let mut c = Call::get(&path);
        if let Some(f) = fields {
            c = c.query("fields", f);
        }
        self.call(c).await
    }

    /// `PUT /rest/api/2/issue/<key>` `{ fields }`.
    pub async fn update_issue(&self, key: &str, fields: Value) -> Result<(), JiraError> {
        self.call(
            Call::new(Method::PUT, &["rest", "api", "2", "issue", key])
                .body(json!({ "fields": fields })),
        )
        .await?;
        Ok(())
    }

    /// `POST /rest/api/2/issue/<key>/comment` `{ body }`.
    pub async fn comment(&self, key: &str, body: &str) -> Result<Value, JiraError> {
        self.call(
            Call::new(Method::POST, &["rest", "api", "2", "issue", key, "comment"])
                .body(json!({ "body": body })),
        )
        .await
    }

    /// `GET /rest/api/2/issue/<key>/transitions`.
    pub async fn transitions(&self, key: &str) -> Result<Vec<Transition>, JiraError> {
        let v = self
            .call(Call::get(&[
                "rest",
                "api",
                "2",
                "issue",
                key,
                "transitions",
            ]))
            .await?;
        let list = v
            .get("transitions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(list
            .iter()
            .map(|t| Transition {
                id: text(t, "/id").unwrap_or_default(),
                name: text(t, "/name").unwrap_or_default(),
                to: text(t, "/to/name"),
            })
            .collect())
    }

    /// `POST /rest/api/2/issue/<key>/transitions` `{ transition: { id } }`.
    pub async fn transition(&self, key: &str, transition_id: &str) -> Result<(), JiraError> {
        self.call(
            Call::new(
                Method::POST,
                &["rest", "api", "2", "issue", key, "transitions"],
            )
            .body(json!({ "transition": { "id": transition_id } })),
        )
        .await?;
        Ok(())
    }

    /// `DELETE /rest/api/2/issue/<key>`.
    pub async fn delete_issue(&self, key: &str) -> Result<(), JiraError> {
        self.call(Call::new(
            Method::DELETE,
            &["rest", "api", "2", "issue", key],
        ))
        .await?;
        Ok(())
    }

    /// `GET /rest/api/2/search?jql=&fields=&maxResults=`: JIRA's answer
    /// (`{ total, issues: [...] }`).
    pub async fn search(
        &self,
        jql: &str,
        fields: &str,
        max_results: u32,
    ) -> Result<Value, JiraError> {
        self.call(
            Call::get(&["rest", "api", "2", "search"])
                .query("jql", jql)
                .query("fields", fields)
                .query("maxResults", max_results),
        )
        .await
    }

    /// My issues of `project` in open sprints, highest priority first.
    pub async fn my_sprint_issues(&self, project: &str) -> Result<Vec<SprintIssue>, JiraError> {
        let jql = format!(
            "project = {} AND assignee = currentUser() AND sprint in openSprints() ORDER BY priority DESC, updated DESC",
            jql_quote(project)
        );
        let sp = &self.fields.story_points;
        let fields = format!("summary,status,priority,issuetype,assignee,updated,{sp}");
        let v = self.search(&jql, &fields, 50).await?;
        let issues = v
            .get("issues")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(issues
            .iter()
            .map(|i| {
                let key = text(i, "/key").unwrap_or_default();
                SprintIssue {
                    url: self.browse_url(&key),
                    summary: text(i, "/fields/summary"),
                    status: text(i, "/fields/status/name"),
                    status_category: text(i, "/fields/status/statusCategory/name"),
                    priority: text(i, "/fields/priority/name"),
                    issue_type: text(i, "/fields/issuetype/name"),
                    story_points: i
                        .pointer(&format!("/fields/{sp}"))
                        .cloned()
                        .unwrap_or(Value::Null),
                    updated: text(i, "/fields/updated"),
                    key,
                }
            })
            .collect())
    }

    /// `GET /rest/agile/1.0/board/<id>/sprint?state=active`.
    pub async fn active_sprints(&self, board: &str) -> Result<Vec<Sprint>, JiraError> {
        let v = self
            .call(
                Call::get(&["rest", "agile", "1.0", "board", board, "sprint"])
                    .query("state", "active"),
            )
            .await?;
        decode(v.get("values").cloned().unwrap_or(json!([])))
    }

    /// Epics of `project` whose summary matches `q`, newest first.
    pub async fn epics(&self, project: &str, q: &str) -> Result<Vec<Epic>, JiraError> {
        let mut jql = format!("project = {} AND issuetype = Epic", jql_quote(project));
        if !q.trim().is_empty() {
            jql.push_str(&format!(" AND summary ~ {}", jql_quote(q)));
        }
        jql.push_str(" ORDER BY updated DESC");
        let v = self.search(&jql, "summary,status", 10).await?;
        let issues = v
            .get("issues")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(issues
            .iter()
            .map(|i| Epic {
                key: text(i, "/key").unwrap_or_default(),
                summary: text(i, "/fields/summary"),
                status: text(i, "/fields/status/name"),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jql_values_stay_values() {
        assert_eq!(jql_quote("PORT"), r#""PORT""#);
        assert_eq!(
            jql_quote(r#"x" OR project = "SECRET"#),
            r#""x\" OR project = \"SECRET""#
        );
        assert_eq!(jql_quote(r"a\b"), r#""a\\b""#);
    }
}
