//! `/api/lmstudio`: a local LM Studio server, over `portos-ai`'s client (the
//! work is there).

use axum::Json;
use axum::extract::State;
use portos_ai::lmstudio::{self, ModelAction};
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;

/// `GET /api/lmstudio/status`.
#[utoipa::path(get, operation_id = "lmStudioStatus", path = "/api/lmstudio/status", tag = "lmstudio", responses((status = 200, description = "`{ available, baseUrl, loadedModels, models, recommendedThinkingModel, lastCheckAt, lastSuccessAt, lastError, consecutiveErrors }`", body = crate::schemas::runs::LmStudioStatus)))]
pub async fn status(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(lmstudio::status(&app.ai).await?))
}

/// `GET /api/lmstudio/models`: 503 when LM Studio is not there.
#[utoipa::path(get, operation_id = "lmStudioModels", path = "/api/lmstudio/models", tag = "lmstudio", responses((status = 200, description = "`{ available, count, models, recommendedThinkingModel }`", body = crate::schemas::runs::LmStudioModels), (status = 503, description = "LM Studio not available")))]
pub async fn list_models(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(lmstudio::list_models(&app.ai).await?))
}

macro_rules! model_route {
    ($fn:ident, $action:literal, $kind:expr) => {
        #[utoipa::path(post, operation_id = concat!("lmStudio_", $action), path = concat!("/api/lmstudio/", $action), tag = "lmstudio", request_body(content = Object, description = "`{ modelId }`"), responses((status = 200, description = "`{ success, modelId, error? }`", body = crate::schemas::writes::ModelAction), (status = 400, description = "modelId is required")))]
        pub async fn $fn(State(app): State<AppState>, Json(body): Json<Value>) -> Result<Json<Value>, ApiError> {
            Ok(Json(lmstudio::model_action(&app.ai, &body, $kind).await?))
        }
    };
}
model_route!(download, "download", ModelAction::Download);
model_route!(load, "load", ModelAction::Load);
model_route!(unload, "unload", ModelAction::Unload);

/// `POST /api/lmstudio/completion`: `{ prompt, model?, maxTokens?, temperature?, systemPrompt? }`.
#[utoipa::path(post, operation_id = "lmStudioCompletion", path = "/api/lmstudio/completion", tag = "lmstudio", request_body(content = Object, description = "`{ prompt, model?, maxTokens? (512), temperature? (0.7), systemPrompt? }`"), responses((status = 200, description = "`{ success, content, model, usage }` or `{ success: false, error }`"), (status = 400, description = "prompt is required")))]
pub async fn completion(
    State(app): State<AppState>,
    Json(b): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(lmstudio::completion(&app.ai, &b).await?))
}

/// `POST /api/lmstudio/embeddings`: `{ text, model? }`.
#[utoipa::path(post, operation_id = "lmStudioEmbeddings", path = "/api/lmstudio/embeddings", tag = "lmstudio", request_body(content = Object, description = "`{ text, model? }`"), responses((status = 200, description = "`{ success, embedding, model, dimensions }` or `{ success: false, error }`"), (status = 400, description = "text is required")))]
pub async fn embeddings(
    State(app): State<AppState>,
    Json(b): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(lmstudio::embeddings(&app.ai, &b).await?))
}

/// `PUT /api/lmstudio/config`: `{ baseUrl?, timeout?, defaultThinkingModel? }`, kept in settings.
#[utoipa::path(put, operation_id = "lmStudioConfig", path = "/api/lmstudio/config", tag = "lmstudio", request_body(content = Object, description = "`{ baseUrl?, timeout?, defaultThinkingModel? }`"), responses((status = 200, description = "`{ success, config }`"), (status = 400, description = "a bad baseUrl or timeout")))]
pub async fn set_config(
    State(app): State<AppState>,
    Json(b): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(lmstudio::set_config(&app.ai, &b).await?))
}

/// `POST /api/lmstudio/reset-cache`.
#[utoipa::path(post, operation_id = "lmStudioResetCache", path = "/api/lmstudio/reset-cache", tag = "lmstudio", responses((status = 200, description = "`{ success, message }`")))]
pub async fn reset_cache(State(app): State<AppState>) -> Json<Value> {
    Json(lmstudio::reset_cache(&app.ai).await)
}

/// `POST /api/lmstudio/analyze-task`: `{ description, id?, metadata? }`.
#[utoipa::path(post, operation_id = "lmStudioAnalyzeTask", path = "/api/lmstudio/analyze-task", tag = "lmstudio", request_body(content = Object, description = "`{ description, id?, metadata? }`"), responses((status = 200, description = "`{ complexity, escalateToCloud, reason, localAnalysis, suggestions, … }`"), (status = 400, description = "description is required")))]
pub async fn analyze_task(
    State(app): State<AppState>,
    Json(b): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(lmstudio::analyze_task(&app.ai, &b).await?))
}

/// `POST /api/lmstudio/classify-memory`: `{ content }`.
#[utoipa::path(post, operation_id = "lmStudioClassifyMemory", path = "/api/lmstudio/classify-memory", tag = "lmstudio", request_body(content = Object, description = "`{ content }`"), responses((status = 200, description = "`{ success, type, category, tags, importance }` or `{ success: false, error, rawResponse? }`"), (status = 400, description = "content is required")))]
pub async fn classify_memory(
    State(app): State<AppState>,
    Json(b): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(lmstudio::classify_memory(&app.ai, &b).await?))
}

/// `GET /api/lmstudio/thinking-stats`.
#[utoipa::path(get, operation_id = "lmStudioThinkingStats", path = "/api/lmstudio/thinking-stats", tag = "lmstudio", responses((status = 200, description = "`{ localAnalyses, cloudEscalations, localSuccesses, localFailures, localSuccessRate, escalationRate }`", body = crate::schemas::runs::ThinkingStats)))]
pub async fn thinking_stats(State(app): State<AppState>) -> Json<Value> {
    Json(lmstudio::thinking_stats(&app.ai).await)
}
