//! `/api/agents`: the AI agent processes of this user on this machine, over
//! `portos_ai::agent_processes` (only they may be ended).

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use portos_ai::agent_processes::{end, find, pid_of, scan};

use crate::AppState;
use crate::error::ApiError;

#[utoipa::path(get, path = "/api/agents", tag = "agents", operation_id = "listAgentProcesses", responses((status = 200, description = "`[{ pid, ppid, cpu, memory, runtime, runtimeFormatted, command, startTime, agentName, agentType }]`, newest first", body = Vec<crate::schemas::agents::AgentProcess>)))]
pub async fn list(State(_app): State<AppState>) -> Json<Value> {
    Json(json!(
        tokio::task::spawn_blocking(scan).await.unwrap_or_default()
    ))
}

#[utoipa::path(get, path = "/api/agents/{pid}", tag = "agents", operation_id = "getAgentProcess", params(("pid" = String, Path)), responses((status = 200, description = "the process", body = crate::schemas::agents::AgentProcess), (status = 400, description = "not a pid"), (status = 404, description = "no AI agent process with that pid")))]
pub async fn get(Path(pid): Path<String>) -> Result<Json<Value>, ApiError> {
    let pid = pid_of(&pid)?;
    Ok(Json(
        tokio::task::spawn_blocking(move || find(pid))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??,
    ))
}

#[utoipa::path(delete, path = "/api/agents/{pid}", tag = "agents", operation_id = "killAgentProcess", params(("pid" = String, Path)), responses((status = 200, description = "`{ success: true, pid }`: SIGTERM, then SIGKILL after 3 s", body = crate::schemas::writes::Signalled), (status = 400, description = "not a pid"), (status = 404, description = "not an AI agent process of this user: left alone")))]
pub async fn kill(
    State(app): State<AppState>,
    Path(pid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let pid = pid_of(&pid)?;
    let found = end(pid).await?;
    let _ = app
        .history
        .record(portos_history::NewEntry {
            action: "kill",
            target: Some("agent-process"),
            target_name: Some(&pid.to_string()),
            details: json!({ "agentType": found["agentType"] }),
            success: true,
            error: None,
        })
        .await;
    Ok(Json(json!({ "success": true, "pid": pid })))
}
