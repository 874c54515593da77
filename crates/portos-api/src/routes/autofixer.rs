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
use portos_proto::autofixer::v1 as pb;
use portos_rt::internal::{Auth, Authed};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::AppState;
use crate::error::ApiError;

fn url() -> String {
    std::env::var("PORTOS_AUTOFIXER_URL").unwrap_or_else(|_| "http://127.0.0.1:5559".into())
}

async fn client() -> Result<pb::autofixer_client::AutofixerClient<Authed>, ApiError> {
    let url = url();
    let channel = tonic::transport::Endpoint::from_shared(url.clone())
        .map_err(|e| ApiError::internal(format!("autofixer address {url}: {e}")))?
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "AUTOFIXER_UNREACHABLE",
                format!("the autofixer does not answer at {url} (is portos-autofixer running?)"),
            )
        })?;
    Ok(pb::autofixer_client::AutofixerClient::with_interceptor(
        channel,
        Auth::from_env(),
    ))
}

/// The one conversion of the autofixer's refusals.
fn refusal(s: tonic::Status) -> ApiError {
    let (status, code) = match s.code() {
        tonic::Code::InvalidArgument => (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
        tonic::Code::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        tonic::Code::AlreadyExists => (StatusCode::CONFLICT, "FIX_RUNNING"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "AUTOFIXER_UNAVAILABLE"),
    };
    ApiError::new(status, code, s.message().to_string())
}

fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn status_json(s: pb::Status) -> Value {
    json!({
        "enabled": s.enabled,
        "state": s.state,
        "fixing": s.fixing.iter().map(|f| json!({ "process": f.process, "sessionId": f.session_id, "startedMs": f.started_ms })).collect::<Vec<_>>(),
        "processes": s.processes.iter().map(|p| json!({ "process": p.process, "state": p.state, "untilMs": (p.until_ms > 0).then_some(p.until_ms), "crashesInWindow": p.crashes_in_window, "attemptsToday": p.attempts_today })).collect::<Vec<_>>(),
    })
}

/// `GET /api/autofixer`: `{ enabled, state, fixing, processes }`.
#[utoipa::path(get, operation_id = "autofixerStatus", path = "/api/autofixer", tag = "autofixer", responses((status = 200, description = "watching, fixing or paused; the fixes under way; each process seen crashing"), (status = 503, description = "the autofixer does not answer")))]
pub async fn status() -> Result<Json<Value>, ApiError> {
    let s = client()
        .await?
        .status(pb::StatusRequest {})
        .await
        .map_err(refusal)?;
    Ok(Json(status_json(s.into_inner())))
}

/// `GET /api/autofixer/history`: `data/autofixer/index.json`, newest first.
#[utoipa::path(get, operation_id = "autofixerHistory", path = "/api/autofixer/history", tag = "autofixer", responses((status = 200, description = "the fix sessions, as index.json holds them")))]
pub async fn history() -> Result<Json<Value>, ApiError> {
    let h = client()
        .await?
        .history(pb::HistoryRequest {})
        .await
        .map_err(refusal)?;
    Ok(Json(Value::Array(
        h.into_inner()
            .entries_json
            .iter()
            .map(|e| parsed(e))
            .collect(),
    )))
}

/// `GET /api/autofixer/sessions/:id`: one session with its prompt, output, diff and verdict.
#[utoipa::path(get, operation_id = "autofixerSession", path = "/api/autofixer/sessions/{id}", tag = "autofixer", params(("id" = String, Path, description = "session id")), responses((status = 200, description = "metadata.json with prompt and output"), (status = 404, description = "no such session")))]
pub async fn session(Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let s = client()
        .await?
        .get_session(pb::SessionRequest { session_id: id })
        .await
        .map_err(refusal)?;
    Ok(Json(parsed(&s.into_inner().json)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct FixBody {
    /// A process name, or `group:name`.
    process: String,
}

/// `POST /api/autofixer/fix {process}`: fix a process now; `{ sessionId }`.
#[utoipa::path(post, operation_id = "autofixerFix", path = "/api/autofixer/fix", tag = "autofixer", request_body = FixBody, responses((status = 202, description = "`{ sessionId }`: the fix started"), (status = 404, description = "not a registered app's process"), (status = 409, description = "a fix of its app runs")))]
pub async fn fix(Json(b): Json<FixBody>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let r = client()
        .await?
        .trigger(pb::TriggerRequest { process: b.process })
        .await
        .map_err(refusal)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "sessionId": r.into_inner().session_id })),
    ))
}

/// `POST /api/autofixer/pause`: no fix starts by itself (kept across restarts).
#[utoipa::path(post, operation_id = "autofixerPause", path = "/api/autofixer/pause", tag = "autofixer", responses((status = 200, description = "the status")))]
pub async fn pause() -> Result<Json<Value>, ApiError> {
    let s = client()
        .await?
        .pause(pb::PauseRequest {})
        .await
        .map_err(refusal)?;
    Ok(Json(status_json(s.into_inner())))
}

/// `POST /api/autofixer/resume`.
#[utoipa::path(post, operation_id = "autofixerResume", path = "/api/autofixer/resume", tag = "autofixer", responses((status = 200, description = "the status")))]
pub async fn resume() -> Result<Json<Value>, ApiError> {
    let s = client()
        .await?
        .resume(pb::PauseRequest {})
        .await
        .map_err(refusal)?;
    Ok(Json(status_json(s.into_inner())))
}

/// `GET /api/autofixer/config`: `data/autofixer/config.json` with its defaults.
#[utoipa::path(get, operation_id = "autofixerConfig", path = "/api/autofixer/config", tag = "autofixer", responses((status = 200, description = "the settings")))]
pub async fn get_config() -> Result<Json<Value>, ApiError> {
    let c = client()
        .await?
        .get_config(pb::ConfigRequest {})
        .await
        .map_err(refusal)?;
    Ok(Json(parsed(&c.into_inner().json)))
}

/// `PUT /api/autofixer/config`: the whole settings object; 400 naming an unknown key or a bad value.
#[utoipa::path(put, operation_id = "autofixerSetConfig", path = "/api/autofixer/config", tag = "autofixer", request_body = Object, responses((status = 200, description = "the settings as kept"), (status = 400, description = "an unknown key or a bad value, named")))]
pub async fn set_config(Json(v): Json<Value>) -> Result<Json<Value>, ApiError> {
    let c = client()
        .await?
        .set_config(pb::Config {
            json: v.to_string(),
        })
        .await
        .map_err(refusal)?;
    Ok(Json(parsed(&c.into_inner().json)))
}

/// The autofixer's events onto the live socket, until the shutdown; a lost
/// stream is opened again (the autofixer may be restarting).
pub async fn relay(app: AppState, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        if let Ok(mut c) = client().await
            && let Ok(stream) = c.events(pb::EventsRequest {}).await
        {
            let mut stream = stream.into_inner();
            loop {
                let next = tokio::select! {
                    m = stream.message() => m,
                    () = shutdown.cancelled() => return,
                };
                let Ok(Some(e)) = next else { break };
                let data = parsed(&e.json);
                app.hub.broadcast(&format!("autofixer:{}", e.kind), &data);
                if e.kind == "fix:finished" {
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
                        "timestamp": e.at_ms,
                        "context": data,
                        "canAutoFix": false,
                    });
                    app.hub.publish("errors", "error:notified", &note);
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = shutdown.cancelled() => return,
        }
    }
}
