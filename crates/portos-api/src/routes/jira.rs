//! `/api/jira`: JIRA instances (`data/jira.json`) and their tickets through
//! `portos-jira`. Tokens never leave (`hasApiToken`); fields the original could
//! only set by hand (`customFields`, `allowSelfSigned`) and our `caCert` survive
//! an update; a self-hosted instance with a private CA is trusted through
//! `caCert` (PEM), never by switching TLS verification off.

use axum::Json;
use axum::extract::{Path, Query, State};
use portos_jira::NewIssue;
use portos_jira_instances::InstanceBody;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// A client of instance `id`.
async fn client(app: &AppState, id: &str) -> Result<portos_jira::Jira, ApiError> {
    Ok(app.jira.client(id).await?)
}

#[utoipa::path(get, path = "/api/jira/instances", tag = "jira", operation_id = "listJiraInstances", responses((status = 200, description = "`{ instances: { <id>: { id, name, baseUrl, email, hasApiToken, tokenUpdatedAt, createdAt, updatedAt, customFields, hasCaCert } } }`", body = crate::schemas::system::JiraInstances)))]
pub async fn list_instances(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let map: serde_json::Map<String, Value> = app
        .jira
        .list()
        .await?
        .into_iter()
        .map(|i| (i["id"].as_str().unwrap_or_default().to_string(), i))
        .collect();
    Ok(Json(json!({ "instances": map })))
}

#[utoipa::path(post, path = "/api/jira/instances", tag = "jira", operation_id = "upsertJiraInstance", request_body(content = Object, description = "`{ id, name, baseUrl, email, apiToken, customFields?, caCert? }`; on an update a missing apiToken keeps the stored one"), responses((status = 200, description = "the instance, no token", body = crate::schemas::system::JiraInstance), (status = 400, description = "INVALID_INPUT")))]
pub async fn upsert_instance(
    State(app): State<AppState>,
    Json(b): Json<InstanceBody>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.jira.upsert(b).await?))
}

#[utoipa::path(delete, path = "/api/jira/instances/{id}", tag = "jira", operation_id = "deleteJiraInstance", params(("id" = String, Path)), responses((status = 200, description = "`{ success: true }`", body = crate::schemas::Done)))]
pub async fn delete_instance(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.jira.delete(&id).await?;
    Ok(Json(json!({ "success": true })))
}

#[utoipa::path(post, path = "/api/jira/instances/{id}/test", tag = "jira", operation_id = "testJiraInstance", params(("id" = String, Path)), responses((status = 200, description = "`{ success: true, user, email }` or `{ success: false, error }`"), (status = 404, description = "no such instance")))]
pub async fn test_instance(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(match app.jira.test(&id).await? {
        Ok((user, email)) => json!({ "success": true, "user": user, "email": email }),
        Err(e) => {
            let e = ApiError::from(e);
            json!({ "success": false, "error": e.message, "code": e.code })
        }
    }))
}

#[utoipa::path(get, path = "/api/jira/instances/{id}/projects", tag = "jira", operation_id = "jiraProjects", params(("id" = String, Path)), responses((status = 200, description = "`[{ key, name, id }]`"), (status = 404, description = "no such instance")))]
pub async fn projects(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = client(&app, &id).await?;
    Ok(Json(json!(c.projects().await?)))
}

#[utoipa::path(post, path = "/api/jira/instances/{id}/tickets", tag = "jira", operation_id = "createJiraTicket", params(("id" = String, Path)), request_body(content = Object, description = "`{ projectKey, summary, description?, issueType?, assignee?, storyPoints?, epicKey?, sprint?, labels? }`"), responses((status = 200, description = "`{ success, ticketId, url, response }`"), (status = 400, description = "VALIDATION_ERROR or JIRA's own refusal")))]
pub async fn create_ticket(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(new): Json<NewIssue>,
) -> Result<Json<Value>, ApiError> {
    let created = app.jira.create_ticket(&id, &new).await?;
    Ok(Json(
        json!({ "success": true, "ticketId": created.key, "url": created.url, "response": created.raw }),
    ))
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
    let c = client(&app, &id).await?;
    c.update_issue(&ticket, fields).await?;
    Ok(Json(
        json!({ "success": true, "ticketId": ticket, "url": c.browse_url(&ticket) }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct CommentBody {
    comment: Option<String>,
}

#[utoipa::path(post, path = "/api/jira/instances/{id}/tickets/{ticket}/comments", tag = "jira", operation_id = "commentJiraTicket", params(("id" = String, Path), ("ticket" = String, Path)), request_body(content = crate::schemas::requests::JiraComment, description = "`{ comment }`"), responses((status = 200, description = "`{ success: true }`", body = crate::schemas::Done), (status = 400, description = "Comment is required")))]
pub async fn comment(
    State(app): State<AppState>,
    Path((id, ticket)): Path<(String, String)>,
    Json(b): Json<CommentBody>,
) -> Result<Json<Value>, ApiError> {
    let text = b
        .comment
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("INVALID_INPUT", "Comment is required"))?;
    let c = client(&app, &id).await?;
    c.comment(&ticket, &text).await?;
    Ok(Json(json!({ "success": true })))
}

#[utoipa::path(get, path = "/api/jira/instances/{id}/tickets/{ticket}/transitions", tag = "jira", operation_id = "jiraTransitions", params(("id" = String, Path), ("ticket" = String, Path)), responses((status = 200, description = "`[{ id, name, to }]`")))]
pub async fn transitions(
    State(app): State<AppState>,
    Path((id, ticket)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let c = client(&app, &id).await?;
    Ok(Json(json!(c.transitions(&ticket).await?)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransitionBody {
    transition_id: Option<Value>,
}

#[utoipa::path(post, path = "/api/jira/instances/{id}/tickets/{ticket}/transition", tag = "jira", operation_id = "transitionJiraTicket", params(("id" = String, Path), ("ticket" = String, Path)), request_body(content = crate::schemas::requests::JiraTransition, description = "`{ transitionId }`"), responses((status = 200, description = "`{ success: true }`", body = crate::schemas::Done), (status = 400, description = "Transition ID is required")))]
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
    let c = client(&app, &id).await?;
    c.transition(&ticket, &tid).await?;
    Ok(Json(json!({ "success": true })))
}

#[utoipa::path(delete, path = "/api/jira/instances/{id}/tickets/{ticket}", tag = "jira", operation_id = "deleteJiraTicket", params(("id" = String, Path), ("ticket" = String, Path)), responses((status = 200, description = "`{ success, ticketId }`")))]
pub async fn delete_ticket(
    State(app): State<AppState>,
    Path((id, ticket)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let c = client(&app, &id).await?;
    c.delete_issue(&ticket).await?;
    Ok(Json(json!({ "success": true, "ticketId": ticket })))
}

#[utoipa::path(get, path = "/api/jira/instances/{id}/my-sprint-tickets/{project}", tag = "jira", operation_id = "mySprintTickets", params(("id" = String, Path), ("project" = String, Path)), responses((status = 200, description = "`[{ key, summary, status, statusCategory, priority, issueType, storyPoints, updated, url }]`"), (status = 401, description = "the token expired (the original answered `[]`)")))]
pub async fn my_sprint_tickets(
    State(app): State<AppState>,
    Path((id, project)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(app.jira.sprint_issues(&id, &project).await?)))
}

#[utoipa::path(get, path = "/api/jira/instances/{id}/boards/{board}/sprints", tag = "jira", operation_id = "activeSprints", params(("id" = String, Path), ("board" = String, Path)), responses((status = 200, description = "`[{ id, name, state, startDate, endDate }]`")))]
pub async fn sprints(
    State(app): State<AppState>,
    Path((id, board)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let c = client(&app, &id).await?;
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
    let c = client(&app, &id).await?;
    Ok(Json(json!(
        c.epics(&project, q.q.as_deref().unwrap_or("")).await?
    )))
}
