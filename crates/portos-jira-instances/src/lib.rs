//! The owner's JIRA instances (`data/jira.json`, the original's shape with
//! unknown fields kept) and their tickets through the `portos-jira` client:
//! tokens never leave (`hasApiToken`), a token stays with the server it was
//! saved for, fields the original could only set by hand (`customFields`,
//! `allowSelfSigned`) and our `caCert` survive an update, and a self-hosted
//! instance with a private CA is trusted through `caCert`, never by switching
//! TLS verification off. Ticket creation is recorded in the history.
//!
//! Must not depend on: axum, tonic, hyper, tower or `portos-proto` (the api
//! server maps it onto REST and gRPC).

use std::sync::Arc;

use indexmap::IndexMap;
use portos_core::{Problem, Refuse};
use portos_history::{ActionLog, NewEntry};
use portos_jira::{CustomFields, Jira, JiraError, NewIssue};
use portos_store::{JsonStore, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const FILE: &str = "jira.json";

/// What can go wrong with an instance or its tickets.
#[derive(Debug, thiserror::Error)]
pub enum InstancesError {
    #[error(transparent)]
    Problem(#[from] Problem),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// JIRA (or the way to it) said no.
    #[error(transparent)]
    Jira(#[from] JiraError),
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct JiraFile {
    #[serde(default)]
    instances: IndexMap<String, Instance>,
    #[serde(flatten)]
    extra: IndexMap<String, Value>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Instance {
    id: String,
    name: String,
    base_url: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    api_token: String,
    #[serde(default)]
    token_updated_at: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    custom_fields: Option<CustomFields>,
    /// The PEM of a private CA the instance's certificate chains to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ca_cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    allow_self_signed: Option<bool>,
    #[serde(flatten)]
    extra: IndexMap<String, Value>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("id", &self.id)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Instance {
    /// What a client sees: no token.
    fn public(&self) -> Value {
        json!({
            "id": self.id, "name": self.name, "baseUrl": self.base_url, "email": self.email,
            "hasApiToken": !self.api_token.is_empty(), "tokenUpdatedAt": self.token_updated_at,
            "createdAt": self.created_at, "updatedAt": self.updated_at,
            "customFields": self.custom_fields.clone().unwrap_or_default(),
            "hasCaCert": self.ca_cert.as_deref().is_some_and(|c| !c.is_empty()),
        })
    }

    fn client(&self) -> Result<Jira, InstancesError> {
        let ca = self.ca_cert.as_deref().filter(|c| !c.trim().is_empty());
        if self.allow_self_signed == Some(true) && ca.is_none() {
            return Err(InstancesError::bad_request(
                "JIRA_CONFIG",
                format!(
                    "JIRA instance {}: allowSelfSigned is not honoured (TLS verification stays on); add the instance's CA certificate (PEM) as caCert",
                    self.id
                ),
            ));
        }
        Ok(Jira::new(
            &self.base_url,
            &self.api_token,
            portos_jira::TIMEOUT,
            ca.map(str::as_bytes),
            self.custom_fields.clone().unwrap_or_default(),
        )?)
    }
}

/// An instance as a client sends it (`POST /api/jira/instances`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceBody {
    pub id: Option<String>,
    pub name: Option<String>,
    pub base_url: Option<String>,
    pub email: Option<String>,
    pub api_token: Option<String>,
    pub custom_fields: Option<CustomFields>,
    pub ca_cert: Option<String>,
}

fn invalid(message: impl Into<String>) -> InstancesError {
    InstancesError::bad_request("INVALID_INPUT", message)
}

fn required(v: Option<String>, field: &str) -> Result<String, InstancesError> {
    v.map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(format!("Missing required fields: {field}")))
}

/// The instances of one data dir. Cheap to clone.
#[derive(Debug, Clone)]
pub struct JiraInstances {
    store: Arc<JsonStore>,
    history: ActionLog,
}

impl JiraInstances {
    pub fn new(store: Arc<JsonStore>, history: ActionLog) -> Self {
        Self { store, history }
    }

    async fn instance(&self, id: &str) -> Result<Instance, InstancesError> {
        let f: JiraFile = self.store.load(FILE).await?;
        f.instances
            .get(id)
            .cloned()
            .ok_or_else(|| InstancesError::not_found(format!("JIRA instance {id} not found")))
    }

    /// A client of instance `id`.
    pub async fn client(&self, id: &str) -> Result<Jira, InstancesError> {
        self.instance(id).await?.client()
    }

    /// Every instance as a client may see it (no token).
    pub async fn list(&self) -> Result<Vec<Value>, InstancesError> {
        let f: JiraFile = self.store.load(FILE).await?;
        Ok(f.instances.values().map(Instance::public).collect())
    }

    /// Creates or updates an instance; on an update a missing token keeps the
    /// stored one, unless `baseUrl` changed. The instance, no token.
    pub async fn upsert(&self, b: InstanceBody) -> Result<Value, InstancesError> {
        let id = required(b.id, "id")?;
        if id.len() > 64
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(format!(
                "id {id:?} must be 1-64 letters, digits, '-' or '_'"
            )));
        }
        let name = required(b.name, "name")?;
        let base_url = required(b.base_url, "baseUrl")?;
        if !(base_url.starts_with("https://") || base_url.starts_with("http://"))
            || reqwest::Url::parse(&base_url).is_err()
        {
            return Err(invalid(format!(
                "baseUrl {base_url:?} must be an http(s) URL"
            )));
        }
        let email = required(b.email, "email")?;
        let token = b.api_token.filter(|t| !t.is_empty());
        if let Some(ca) = b.ca_cert.as_deref().filter(|c| !c.trim().is_empty()) {
            // Refused now rather than at the first call.
            Jira::new(
                &base_url,
                "",
                portos_jira::TIMEOUT,
                Some(ca.as_bytes()),
                CustomFields::default(),
            )?;
        }
        let now = portos_core::time::now_iso();
        let saved = self
            .store
            .update(FILE, |f: &mut JiraFile| {
                let existing = f.instances.get(&id).cloned();
                // A token stays with the server it was saved for: a new baseUrl
                // needs the token given again.
                let api_token = match (token, &existing) {
                    (Some(t), _) => t,
                    (None, Some(e)) if !e.api_token.is_empty() && e.base_url == base_url => {
                        e.api_token.clone()
                    }
                    (None, Some(e)) if !e.api_token.is_empty() => {
                        return Err(invalid(
                            "baseUrl changed: give the apiToken again (a token is only sent where it was saved for)",
                        ));
                    }
                    _ => return Err(invalid("Missing required fields: apiToken")),
                };
                let token_changed = existing.as_ref().is_none_or(|e| e.api_token != api_token);
                let mut i = existing.clone().unwrap_or(Instance {
                    id: id.clone(),
                    name: String::new(),
                    base_url: String::new(),
                    email: String::new(),
                    api_token: String::new(),
                    token_updated_at: None,
                    created_at: Some(now.clone()),
                    updated_at: None,
                    custom_fields: None,
                    ca_cert: None,
                    allow_self_signed: None,
                    extra: IndexMap::new(),
                });
                i.name = name;
                i.base_url = base_url;
                i.email = email;
                i.api_token = api_token;
                if token_changed || i.token_updated_at.is_none() {
                    i.token_updated_at = Some(now.clone());
                }
                i.updated_at = Some(now.clone());
                if let Some(cf) = b.custom_fields {
                    i.custom_fields = Some(cf);
                }
                if let Some(ca) = b.ca_cert {
                    i.ca_cert = Some(ca).filter(|c| !c.trim().is_empty());
                }
                f.instances.insert(id.clone(), i.clone());
                Ok(i)
            })
            .await??;
        let _ = self
            .history
            .record(NewEntry {
                action: "upsert",
                target: Some("jira-instance"),
                target_name: Some(&id),
                details: json!({ "baseUrl": saved.base_url }),
                success: true,
                error: None,
            })
            .await;
        Ok(saved.public())
    }

    /// Forgets instance `id` (none is fine).
    pub async fn delete(&self, id: &str) -> Result<(), InstancesError> {
        self.store
            .update(FILE, |f: &mut JiraFile| {
                f.instances.shift_remove(id);
                Ok::<_, ()>(())
            })
            .await?
            .ok();
        Ok(())
    }

    /// Who the token logs in as: `Ok((display name, email))`, or why not (inner error).
    pub async fn test(
        &self,
        id: &str,
    ) -> Result<Result<(Option<String>, Option<String>), InstancesError>, InstancesError> {
        let i = self.instance(id).await?;
        let outcome = match i.client() {
            Ok(c) => c.myself().await.map_err(InstancesError::from),
            Err(e) => Err(e),
        };
        Ok(outcome.map(|me| (me.display_name, me.email_address)))
    }

    /// Creates a ticket on instance `id`, recorded in the history.
    pub async fn create_ticket(
        &self,
        id: &str,
        new: &NewIssue,
    ) -> Result<portos_jira::Created, InstancesError> {
        if new.project_key.trim().is_empty() || new.summary.trim().is_empty() {
            return Err(InstancesError::validation(
                "projectKey and summary are required",
            ));
        }
        let created = self.client(id).await?.create_issue(new).await?;
        let _ = self
            .history
            .record(NewEntry {
                action: "create-ticket",
                target: Some("jira"),
                target_name: Some(&created.key),
                details: json!({ "instanceId": id }),
                success: true,
                error: None,
            })
            .await;
        Ok(created)
    }

    /// My issues of `project` in open sprints on instance `id`.
    pub async fn sprint_issues(
        &self,
        id: &str,
        project: &str,
    ) -> Result<Vec<portos_jira::SprintIssue>, InstancesError> {
        Ok(self.client(id).await?.my_sprint_issues(project).await?)
    }
}
