//! `/api/autofixer`: the autofixer (`portos.autofixer.v1`, 127.0.0.1:5559, or
//! `PORTOS_AUTOFIXER_URL`) for the main UI — status, history, one session,
//! fix now, pause and resume, its settings — and [`relay`], which passes the
//! autofixer's events to the live socket (`autofixer:*` to everyone; a
//! finished fix also as an `error:notified` on the `errors` channel, until
//! notifications have a store of their own).

use std::time::Duration;

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use portos_autofixer_client::{AutofixerLink, Code, Failure};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::AppState;
use crate::error::ApiError;

fn link() -> AutofixerLink {
    AutofixerLink::new(
        portos_core::siblings::url("PORTOS_AUTOFIXER_URL", "portos-autofixer", "api", 5559),
        portos_rt::internal::Auth::from_env(),
    )
}

/// The one conversion of the autofixer's failures.
impl From<Failure> for ApiError {
    fn from(f: Failure) -> Self {
        let (status, code) = match &f {
            Failure::Unreachable(_) => (StatusCode::SERVICE_UNAVAILABLE, "AUTOFIXER_UNREACHABLE"),
            Failure::Refused(s) => match s.code() {
                Code::InvalidArgument => (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
                Code::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
                Code::AlreadyExists => (StatusCode::CONFLICT, "FIX_RUNNING"),
                _ => (StatusCode::SERVICE_UNAVAILABLE, "AUTOFIXER_UNAVAILABLE"),
            },
        };
        ApiError::new(status, code, f.to_string())
    }
}

/// `GET /api/autofixer`: `{ enabled, state, fixing, processes }`.
#[utoipa::path(get, operation_id = "autofixerStatus", path = "/api/autofixer", tag = "autofixer", responses((status = 200, description = "watching, fixing or paused; the fixes under way; each process seen crashing", body = crate::schemas::services::AutofixerStatus), (status = 503, description = "the autofixer does not answer")))]
pub async fn status() -> Result<Json<Value>, ApiError> {
    Ok(Json(link().status().await?))
}

/// `GET /api/autofixer/history`: `data/autofixer/index.json`, newest first.
#[utoipa::path(get, operation_id = "autofixerHistory", path = "/api/autofixer/history", tag = "autofixer", responses((status = 200, description = "the fix sessions, as index.json holds them", body = Vec<BTreeMap<String,serde_json::Value>>)))]
pub async fn history() -> Result<Json<Value>, ApiError> {
    Ok(Json(link().history().await?))
}

/// `GET /api/autofixer/sessions/:id`: one session with its prompt, output, diff and verdict.
#[utoipa::path(get, operation_id = "autofixerSession", path = "/api/autofixer/sessions/{id}", tag = "autofixer", params(("id" = String, Path, description = "session id")), responses((status = 200, description = "metadata.json with prompt and output"), (status = 404, description = "no such session")))]
pub async fn session(Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(link().session(id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct FixBody {
    /// A process name, or `group:name`.
    process: String,
}

/// `POST /api/autofixer/fix {process}`: fix a process now; `{ sessionId }`.
#[utoipa::path(post, operation_id = "autofixerFix", path = "/api/autofixer/fix", tag = "autofixer", request_body = FixBody, responses((status = 202, description = "`{ sessionId }`: the fix started"), (status = 404, description = "not a registered app's process"), (status = 409, description = "a fix of its app runs")))]
pub async fn fix(Json(b): Json<FixBody>) -> Result<(StatusCode, Json<Value>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(link().trigger(b.process).await?)))
}

/// `POST /api/autofixer/pause`: no fix starts by itself (kept across restarts).
#[utoipa::path(post, operation_id = "autofixerPause", path = "/api/autofixer/pause", tag = "autofixer", responses((status = 200, description = "the status", body = crate::schemas::services::AutofixerStatus)))]
pub async fn pause() -> Result<Json<Value>, ApiError> {
    Ok(Json(link().set_enabled(false).await?))
}

/// `POST /api/autofixer/resume`.
#[utoipa::path(post, operation_id = "autofixerResume", path = "/api/autofixer/resume", tag = "autofixer", responses((status = 200, description = "the status", body = crate::schemas::services::AutofixerStatus)))]
pub async fn resume() -> Result<Json<Value>, ApiError> {
    Ok(Json(link().set_enabled(true).await?))
}

/// `GET /api/autofixer/config`: `data/autofixer/config.json` with its defaults.
#[utoipa::path(get, operation_id = "autofixerConfig", path = "/api/autofixer/config", tag = "autofixer", responses((status = 200, description = "the settings", body = crate::schemas::services::AutofixerConfig)))]
pub async fn get_config() -> Result<Json<Value>, ApiError> {
    Ok(Json(link().config().await?))
}

/// `PUT /api/autofixer/config`: the whole settings object; 400 naming an unknown key or a bad value.
#[utoipa::path(put, operation_id = "autofixerSetConfig", path = "/api/autofixer/config", tag = "autofixer", request_body = Object, responses((status = 200, description = "the settings as kept", body = crate::schemas::services::AutofixerConfig), (status = 400, description = "an unknown key or a bad value, named")))]
pub async fn set_config(Json(v): Json<Value>) -> Result<Json<Value>, ApiError> {
    Ok(Json(link().set_config(&v).await?))
}

/// The autofixer's events onto the live socket, until the shutdown; a lost
/// stream is opened again (the autofixer may be restarting).
pub async fn relay(app: AppState, shutdown: CancellationToken) {
    let link = link();
    while !shutdown.is_cancelled() {
        if let Ok(mut events) = link.events().await {
            loop {
                let next = tokio::select! {
                    e = events.next() => e,
                    () = shutdown.cancelled() => return,
                };
                let Some((kind, data, at_ms)) = next else {
                    break;
                };
                app.hub.broadcast(&format!("autofixer:{kind}"), &data);
                if kind == "fix:finished" {
                    let good = data["success"] == true;
                    let note = json!({
                        "message": format!(
                            "autofixer: {} {}: {}",
                            data["process"].as_str().unwrap_or(""),
                            if good { "fixed" } else { "not fixed" },
                            data["verdict"].as_str().unwrap_or("")
                        ),
                        "code": if good { "AUTOFIX_SUCCEEDED" } else { "AUTOFIX_FAILED" },
                        "severity": if good { "info" } else { "error" },
                        "timestamp": at_ms,
                        "context": data,
                        "canAutoFix": false,
                    });
                    app.hub.publish("errors", "error:notified", &note);
                    let (process, verdict) = (
                        data["process"].as_str().unwrap_or(""),
                        data["verdict"].as_str().unwrap_or(""),
                    );
                    let session = data["sessionId"].as_str().unwrap_or("");
                    if let Err(e) = app
                        .notifications
                        .fix_finished(process, good, verdict, session)
                        .await
                    {
                        tracing::warn!(error = %e, "no notification for a finished fix");
                    }
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = shutdown.cancelled() => return,
        }
    }
}
