//! What the writes take, where the handler reads a JSON object and the
//! domain checks it: the fields, which are required, their types and ranges.
//! A body outside them is refused with 400 `VALIDATION_ERROR` naming the
//! field.

use std::collections::BTreeMap;

use serde_json::Value;

/// `POST /api/ports/check`.
#[derive(utoipa::ToSchema)]
pub struct PortsToCheck {
    #[schema(min_items = 1)]
    pub ports: Vec<u16>,
}

/// `POST /api/ports/allocate`.
#[derive(utoipa::ToSchema)]
pub struct PortsToAllocate {
    #[schema(minimum = 1, maximum = 10)]
    pub count: u8,
}

/// `POST /api/usage/session`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageSessionBody {
    #[schema(min_length = 1)]
    pub provider_id: String,
    pub provider_name: Option<String>,
    pub model: Option<String>,
}

/// `POST /api/usage/messages`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageMessagesBody {
    #[schema(min_length = 1)]
    pub provider_id: String,
    pub model: Option<String>,
    pub message_count: u64,
    pub token_count: Option<u64>,
}

/// `POST /api/usage/tokens`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageTokensBody {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
}

/// `PUT /api/instances/self`.
#[derive(utoipa::ToSchema)]
pub struct Rename {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
}

/// `POST /api/cos/tasks/reorder`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskOrder {
    /// The owner's task ids in their new order.
    pub task_ids: Vec<String>,
}

/// `POST /api/cos/pause`.
#[derive(utoipa::ToSchema)]
pub struct PauseReason {
    pub reason: Option<String>,
}

/// `POST /api/brain/capture`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Thought {
    #[schema(min_length = 1)]
    pub text: String,
    pub provider_override: Option<String>,
    pub model_override: Option<String>,
}

/// `POST /api/prompts/:stage/preview`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreviewBody {
    /// Values for the template's variables.
    pub test_data: Option<BTreeMap<String, Value>>,
}

/// `PUT /api/providers/active`.
#[derive(utoipa::ToSchema)]
pub struct ProviderId {
    #[schema(min_length = 1)]
    pub id: String,
}

/// `{ enabled }`: an agent or a schedule switched on or off.
#[derive(utoipa::ToSchema)]
pub struct Enabled {
    pub enabled: bool,
}

/// `POST /api/jira/instances/:id/tickets/:ticket/comments`.
#[derive(utoipa::ToSchema)]
pub struct JiraComment {
    #[schema(min_length = 1)]
    pub comment: String,
}

/// `POST /api/jira/instances/:id/tickets/:ticket/transition`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JiraTransition {
    #[schema(min_length = 1)]
    pub transition_id: String,
}

/// `POST /api/prompts`: a new prompt stage.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewStage {
    /// Letters, digits, `-`, `_` and `.`, not first.
    #[schema(pattern = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")]
    pub stage_name: String,
    pub name: String,
    pub description: Option<String>,
    pub model: Option<String>,
    pub returns_json: Option<bool>,
    pub variables: Option<Vec<String>>,
    pub template: Option<String>,
}

/// `POST /api/prompts/variables`: a new shared variable.
#[derive(utoipa::ToSchema)]
pub struct NewVariable {
    /// Letters, digits and `_`.
    #[schema(pattern = r"^[A-Za-z0-9_]{1,100}$")]
    pub key: String,
    pub content: String,
    pub name: Option<String>,
    pub category: Option<String>,
}
