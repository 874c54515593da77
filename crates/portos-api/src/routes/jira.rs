//! `/api/jira`: JIRA instances (`data/jira.json`) and their tickets through
//! `portos-jira`. Tokens never leave (`hasApiToken`); fields the original could
//! only set by hand (`customFields`, `allowSelfSigned`) and our `caCert` survive
//! an update; a self-hosted instance with a private CA is trusted through
//! `caCert` (PEM), never by switching TLS verification off.

use axum::Json;
use axum::extract::{Path, Query, State};
use indexmap::IndexMap;
use portos_jira::{CustomFields, Jira, NewIssue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, now_iso};

const FILE: &str = "jira.json";

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct JiraFile {
    #[serde(default)]
    pub instances: IndexMap<String, Instance>,
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    pub id: String,
    pub name: String,
    pub base_url: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub api_token: String,
    #[serde(default)]
    pub token_updated_at: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<CustomFields>,
    /// The PEM of a private CA the instance's certificate chains to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_self_signed: Option<bool>,
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
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

    fn client(&self) -> Result<Jira, ApiError> {
        let ca = self.ca_cert.as_deref().filter(|c| !c.trim().is_empty());
        if self.allow_self_signed == Some(true) && ca.is_none() {
            return Err(ApiError::bad_request(
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

async fn instance(app: &AppState, id: &str) -> Result<Instance, ApiError> {
    let f: JiraFile = app.store.load(FILE).await?;
    f.instances
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("JIRA instance {id} not found")))
}

async fn client(app: &AppState, id: &str) -> Result<(Instance, Jira), ApiError> {
    let i = instance(app, id).await?;
    let c = i.client()?;
    Ok((i, c))
}

#[utoipa::path(get, path = "/api/jira/instances", tag = "jira", operation_id = "listJiraInstances", responses((status = 200, description = "`{ instances: { <id>: { id, name, baseUrl, email, hasApiToken, tokenUpdatedAt, createdAt, updatedAt, customFields, hasCaCert } } }`")))]
pub async fn list_instances(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let map: serde_json::Map<String, Value> = public_instances(&app)
        .await?
        .into_iter()
        .map(|i| (i["id"].as_str().unwrap_or_default().to_string(), i))
        .collect();
    Ok(Json(json!({ "instances": map })))
}

/// Every instance as a client may see it (no token).
pub async fn public_instances(app: &AppState) -> Result<Vec<Value>, ApiError> {
    let f: JiraFile = app.store.load(FILE).await?;
    Ok(f.instances.values().map(Instance::public).collect())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceBody {
    id: Option<String>,
    name: Option<String>,
    base_url: Option<String>,
    email: Option<String>,
    api_token: Option<String>,
    custom_fields: Option<CustomFields>,
    ca_cert: Option<String>,
}

fn required(v: Option<String>, field: &str) -> Result<String, ApiError> {
    v.map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("INVALID_INPUT", format!("Missing required fields: {field}"))
        })
}

#[utoipa::path(post, path = "/api/jira/instances", tag = "jira", operation_id = "upsertJiraInstance", request_body(content = Object, description = "`{ id, name, baseUrl, email, apiToken, customFields?, caCert? }`; on an update a missing apiToken keeps the stored one"), responses((status = 200, description = "the instance, no token"), (status = 400, description = "INVALID_INPUT")))]
pub async fn upsert_instance(
    State(app): State<AppState>,
    Json(b): Json<InstanceBody>,
) -> Result<Json<Value>, ApiError> {
    let id = required(b.id, "id")?;
    if id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ApiError::bad_request(
            "INVALID_INPUT",
            format!("id {id:?} must be 1-64 letters, digits, '-' or '_'"),
        ));
    }
    let name = required(b.name, "name")?;
    let base_url = required(b.base_url, "baseUrl")?;
    if !(base_url.starts_with("https://") || base_url.starts_with("http://"))
        || reqwest::Url::parse(&base_url).is_err()
    {
        return Err(ApiError::bad_request(
            "INVALID_INPUT",
            format!("baseUrl {base_url:?} must be an http(s) URL"),
        ));
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
    let now = now_iso();
    let saved = app
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
                    return Err(ApiError::bad_request(
                        "INVALID_INPUT",
                        "baseUrl changed: give the apiToken again (a token is only sent where it was saved for)",
                    ));
                }
                _ => {
                    return Err(ApiError::bad_request(
                        "INVALID_INPUT",
                        "Missing required fields: apiToken",
                    ));
                }
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
    let _ = app
        .history
        .record(portos_history::NewEntry {
            action: "upsert",
            target: Some("jira-instance"),
            target_name: Some(&id),
            details: json!({ "baseUrl": saved.base_url }),
            success: true,
            error: None,
        })
        .await;
    Ok(Json(saved.public()))
}

#[utoipa::path(delete, path = "/api/jira/instances/{id}", tag = "jira", operation_id = "deleteJiraInstance", params(("id" = String, Path)), responses((status = 200, description = "`{ success: true }`")))]
pub async fn delete_instance(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.store
        .update(FILE, |f: &mut JiraFile| {
            f.instances.shift_remove(&id);
            Ok::<_, ()>(())
        })
        .await?
        .ok();
    Ok(Json(json!({ "success": true })))
}

#[utoipa::path(post, path = "/api/jira/instances/{id}/test", tag = "jira", operation_id = "testJiraInstance", params(("id" = String, Path)), responses((status = 200, description = "`{ success: true, user, email }` or `{ success: false, error }`"), (status = 404, description = "no such instance")))]
pub async fn test_instance(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(test_of(&app, &id).await?))
}

/// `{ success: true, user, email }`, or `{ success: false, error, code }`.
pub async fn test_of(app: &AppState, id: &str) -> Result<Value, ApiError> {
    let i = instance(app, id).await?;
    let outcome = match i.client() {
        Ok(c) => c.myself().await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    Ok(match outcome {
        Ok(me) => json!({ "success": true, "user": me.display_name, "email": me.email_address }),
        Err(e) => json!({ "success": false, "error": e.message, "code": e.code }),
    })
}

#[utoipa::path(get, path = "/api/jira/instances/{id}/projects", tag = "jira", operation_id = "jiraProjects", params(("id" = String, Path)), responses((status = 200, description = "`[{ key, name, id }]`"), (status = 404, description = "no such instance")))]
pub async fn projects(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (_, c) = client(&app, &id).await?;
    Ok(Json(json!(c.projects().await?)))
}

#[utoipa::path(post, path = "/api/jira/instances/{id}/tickets", tag = "jira", operation_id = "createJiraTicket", params(("id" = String, Path)), request_body(content = Object, description = "`{ projectKey, summary, description?, issueType?, assignee?, storyPoints?, epicKey?, sprint?, labels? }`"), responses((status = 200, description = "`{ success, ticketId, url, response }`"), (status = 400, description = "VALIDATION_ERROR or JIRA's own refusal")))]
pub async fn create_ticket(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(new): Json<NewIssue>,
) -> Result<Json<Value>, ApiError> {
    let created = create_of(&app, &id, &new).await?;
    Ok(Json(
        json!({ "success": true, "ticketId": created.key, "url": created.url, "response": created.raw }),
    ))
}

/// Creates a ticket on instance `id`, recorded in history.
pub async fn create_of(
    app: &AppState,
    id: &str,
    new: &NewIssue,
) -> Result<portos_jira::Created, ApiError> {
    if new.project_key.trim().is_empty() || new.summary.trim().is_empty() {
        return Err(ApiError::validation("projectKey and summary are required"));
    }
    let (_, c) = client(app, id).await?;
    let created = c.create_issue(new).await?;
    let details = json!({ "instanceId": id });
    let _ = app
        .history
        .record(portos_history::NewEntry {
            action: "create-ticket",
            target: Some("jira"),
            target_name: Some(&created.key),
            details,
            success: true,
            error: None,
        })
        .await;
    Ok(created)
}

#[utoipa::path(put, path = "/api/jira/instances/{id}/tickets/{ticket}", tag = "jira", operation_id = "updateJiraTicket", params(("id" = String, Path), ("ticket" = String, Path)), request_body(content = Object, description = "JIRA `fields`"), responses((status = 200, description = "`{ success, ticketId, url }`")))]
pub async fn update_ticket(
    State(app): State<AppState>,
    Path((id, ticket)): Path<(String, String)>,
    Json(fields): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    if !fields.is_object() {
        return Err(ApiError::validation(
            "the body must be an object of JIRA fields",
        ));
    }
    let (_, c) = client(&app, &id).await?;
    c.update_issue(&ticket, fields).await?;
    Ok(Json(
        json!({ "success": true, "ticketId": ticket, "url": c.browse_url(&ticket) }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct CommentBody {
    comment: Option<String>,
}

#[utoipa::path(post, path = "/api/jira/instances/{id}/tickets/{ticket}/comments", tag = "jira", operation_id = "commentJiraTicket", params(("id" = String, Path), ("ticket" = String, Path)), request_body(content = Object, description = "`{ comment }`"), responses((status = 200, description = "`{ success: true }`"), (status = 400, description = "Comment is required")))]
pub async fn comment(
    State(app): State<AppState>,
    Path((id, ticket)): Path<(String, String)>,
    Json(b): Json<CommentBody>,
) -> Result<Json<Value>, ApiError> {
    let text = b
        .comment
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("INVALID_INPUT", "Comment is required"))?;
    let (_, c) = client(&app, &id).await?;
    c.comment(&ticket, &text).await?;
    Ok(Json(json!({ "success": true })))
}

#[utoipa::path(get, path = "/api/jira/instances/{id}/tickets/{ticket}/transitions", tag = "jira", operation_id = "jiraTransitions", params(("id" = String, Path), ("ticket" = String, Path)), responses((status = 200, description = "`[{ id, name, to }]`")))]
pub async fn transitions(
    State(app): State<AppState>,
    Path((id, ticket)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (_, c) = client(&app, &id).await?;
    Ok(Json(json!(c.transitions(&ticket).await?)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransitionBody {
    transition_id: Option<Value>,
}

#[utoipa::path(post, path = "/api/jira/instances/{id}/tickets/{ticket}/transition", tag = "jira", operation_id = "transitionJiraTicket", params(("id" = String, Path), ("ticket" = String, Path)), request_body(content = Object, description = "`{ transitionId }`"), responses((status = 200, description = "`{ success: true }`"), (status = 400, description = "Transition ID is required")))]
pub async fn transition(
    State(app): State<AppState>,
    Path((id, ticket)): Path<(String, String)>,
    Json(b): Json<TransitionBody>,
) -> Result<Json<Value>, ApiError> {
    let tid = match b.transition_id {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(ApiError::bad_request(
                "INVALID_INPUT",
                "Transition ID is required",
            ));
        }
    };
    let (_, c) = client(&app, &id).await?;
    c.transition(&ticket, &tid).await?;
    Ok(Json(json!({ "success": true })))
}

#[utoipa::path(delete, path = "/api/jira/instances/{id}/tickets/{ticket}", tag = "jira", operation_id = "deleteJiraTicket", params(("id" = String, Path), ("ticket" = String, Path)), responses((status = 200, description = "`{ success, ticketId }`")))]
pub async fn delete_ticket(
    State(app): State<AppState>,
    Path((id, ticket)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (_, c) = client(&app, &id).await?;
    c.delete_issue(&ticket).await?;
    Ok(Json(json!({ "success": true, "ticketId": ticket })))
}

#[utoipa::path(get, path = "/api/jira/instances/{id}/my-sprint-tickets/{project}", tag = "jira", operation_id = "mySprintTickets", params(("id" = String, Path), ("project" = String, Path)), responses((status = 200, description = "`[{ key, summary, status, statusCategory, priority, issueType, storyPoints, updated, url }]`"), (status = 401, description = "the token expired (the original answered `[]`)")))]
pub async fn my_sprint_tickets(
    State(app): State<AppState>,
    Path((id, project)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(sprint_issues_of(&app, &id, &project).await?)))
}

/// My issues of `project` in open sprints on instance `id`.
pub async fn sprint_issues_of(
    app: &AppState,
    id: &str,
    project: &str,
) -> Result<Vec<portos_jira::SprintIssue>, ApiError> {
    let (_, c) = client(app, id).await?;
    Ok(c.my_sprint_issues(project).await?)
}

#[utoipa::path(get, path = "/api/jira/instances/{id}/boards/{board}/sprints", tag = "jira", operation_id = "activeSprints", params(("id" = String, Path), ("board" = String, Path)), responses((status = 200, description = "`[{ id, name, state, startDate, endDate }]`")))]
pub async fn sprints(
    State(app): State<AppState>,
    Path((id, board)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (_, c) = client(&app, &id).await?;
    Ok(Json(json!(c.active_sprints(&board).await?)))
}

#[derive(Debug, Deserialize)]
pub struct EpicQuery {
    q: Option<String>,
}

#[utoipa::path(get, path = "/api/jira/instances/{id}/projects/{project}/epics", tag = "jira", operation_id = "searchEpics", params(("id" = String, Path), ("project" = String, Path), ("q" = Option<String>, Query)), responses((status = 200, description = "`[{ key, summary, status }]`")))]
pub async fn epics(
    State(app): State<AppState>,
    Path((id, project)): Path<(String, String)>,
    Query(q): Query<EpicQuery>,
) -> Result<Json<Value>, ApiError> {
    let (_, c) = client(&app, &id).await?;
    Ok(Json(json!(
        c.epics(&project, q.q.as_deref().unwrap_or("")).await?
    )))
}
