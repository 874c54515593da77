//! The autofixer UI's routes: the original's (`/api/apps`, `/api/history`,
//! `/api/status`, `/api/restart/:process`, `/api/stop/:process`, `/logs` as
//! SSE) and ours (`/api/sessions/:id`, `/api/autofixer`, `/api/fix/:process`),
//! each a thin call into the healer's history, the supervisor or the autofixer.
//! A change must come from this page's own origin (403 `CROSS_ORIGIN`).

use std::convert::Infallible;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{Stream, StreamExt};
use portos_apps::ProcessInfo;
use portos_autofixer_client::{AutofixerLink, Code, Failure};
use portos_healer::sessions::Sessions;
use portos_supervisor_client::SupervisorLink;
use serde::Deserialize;
use serde_json::{Value, json};

pub struct Ctx {
    pub fixer: AutofixerLink,
    pub ui_port: String,
    pub sessions: Sessions,
    pub store: Arc<portos_store::JsonStore>,
    pub link: SupervisorLink,
}

type Shared = State<Arc<Ctx>>;

pub fn router(ctx: Arc<Ctx>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/assets/autofixer.css", get(stylesheet))
        .route("/assets/app.css", get(stylesheet))
        .route("/assets/autofixer.js", get(script))
        .route("/api/apps", get(apps))
        .route("/api/history", get(history))
        .route("/api/sessions/{id}", get(session))
        .route("/api/status", get(status))
        .route("/api/autofixer", get(autofixer))
        .route("/api/restart/{process}", post(restart))
        .route("/api/stop/{process}", post(stop))
        .route("/api/fix/{process}", post(fix))
        .route("/logs", get(logs))
        .layer(axum::middleware::from_fn(same_origin))
        .with_state(ctx)
}

/// Changes only from this page's own origin (or a script's bearer without cookies).
async fn same_origin(req: Request, next: Next) -> Response {
    let reads = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let https = portos_login::https(req.extensions(), req.headers());
    if reads || portos_login::same_origin_or_script(req.headers(), https) {
        return next.run(req).await;
    }
    refuse(
        StatusCode::FORBIDDEN,
        "CROSS_ORIGIN",
        "changes come only from this page's own origin".into(),
    )
}

fn refuse(status: StatusCode, code: &str, error: String) -> Response {
    (
        status,
        Json(json!({ "success": false, "error": error, "code": code })),
    )
        .into_response()
}

fn problem(p: &portos_core::Problem) -> Response {
    let status = match p.kind {
        portos_core::Kind::NotFound => StatusCode::NOT_FOUND,
        portos_core::Kind::Invalid => StatusCode::BAD_REQUEST,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    refuse(status, p.code, p.message.clone())
}

#[derive(Template)]
#[template(path = "autofixer-ui.html")]
struct Page {
    dashboard: String,
    address: String,
    serving: bool,
    state: String,
}

/// The page's styles and script, served from this origin (the page's CSP
/// allows no inline style or script).
async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../../templates/autofixer-ui.css"),
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../../templates/autofixer-ui.js"),
    )
}

async fn page(State(ctx): Shared, headers: HeaderMap) -> Response {
    let (serving, state) = match ctx.fixer.status().await {
        Ok(s) => (true, s["state"].as_str().unwrap_or_default().to_string()),
        Err(why) => (false, why.to_string()),
    };
    // The dashboard is on the same machine, under the name this page was reached by.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let name = match host.rsplit_once(':') {
        Some((n, p)) if p.chars().all(|c| c.is_ascii_digit()) => n,
        _ => host,
    };
    let page = Page {
        dashboard: format!("http://{name}:{}/", ctx.ui_port),
        address: ctx.fixer.url.clone(),
        serving,
        state,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `data/apps.json`'s apps as an array `[{id, ...app}]`.
async fn apps(State(ctx): Shared) -> Response {
    match portos_apps::registry::stored(&ctx.store).await {
        Ok(apps) => Json(
            apps.into_iter()
                .map(|(id, mut a)| {
                    a["id"] = json!(id);
                    a
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "STORE_ERROR",
            e.to_string(),
        ),
    }
}

/// `data/autofixer/index.json` as it is.
async fn history(State(ctx): Shared) -> Response {
    match ctx.sessions.index().await {
        Ok(v) => Json(v).into_response(),
        Err(e) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "STORE_ERROR",
            e.to_string(),
        ),
    }
}

async fn session(State(ctx): Shared, Path(id): Path<String>) -> Response {
    match ctx.sessions.get(&id).await {
        Ok(v) => Json(v).into_response(),
        Err(portos_healer::HealerError::Problem(p)) => problem(&p),
        Err(e) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "STORE_ERROR",
            e.to_string(),
        ),
    }
}

/// The processes of registered apps, in the original's shape plus ours.
async fn app_processes(ctx: &Ctx) -> Result<Vec<(ProcessInfo, String)>, portos_core::Problem> {
    let apps = portos_apps::registry::stored(&ctx.store)
        .await
        .map_err(|e| {
            portos_core::Problem::new(portos_core::Kind::Internal, "STORE_ERROR", e.to_string())
        })?;
    let list = portos_healer::Supervision::processes(&ctx.link).await?;
    Ok(list
        .into_iter()
        .filter_map(|p| {
            let app = apps
                .iter()
                .find(|(id, a)| {
                    **id == p.group || portos_apps::registry::process_names(id, a).contains(&p.name)
                })
                .map(|(id, a)| a["name"].as_str().unwrap_or(id).to_string())?;
            Some((p, app))
        })
        .collect())
}

async fn status(State(ctx): Shared) -> Response {
    match app_processes(&ctx).await {
        Ok(list) => Json(
            list.iter()
                .map(|(p, app)| {
                    json!({
                        "name": p.name, "app": app, "group": p.group,
                        "status": p.state.pm2_status(), "state": p.state.name(),
                        "pid": (p.pid != 0).then_some(p.pid), "restarts": p.restarts,
                        "uptime": (p.pid != 0).then(|| portos_core::time::now_ms().saturating_sub(p.uptime_ms)),
                        "memory": p.memory_bytes, "cpu": p.cpu_percent, "reason": p.reason,
                    })
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        // The original answered [] when PM2 could not be asked.
        Err(_) => Json(Vec::<Value>::new()).into_response(),
    }
}

async fn autofixer(State(ctx): Shared) -> Response {
    match ctx.fixer.status().await {
        Ok(s) => Json(s).into_response(),
        Err(why) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            why.to_string(),
        ),
    }
}

/// A process of a registered app, or the original's 400 "Unknown process".
async fn known(ctx: &Ctx, process: &str) -> Result<String, Response> {
    match app_processes(ctx).await {
        Ok(list) if list.iter().any(|(p, _)| p.name == process) => Ok(process.to_string()),
        Ok(_) => Err(refuse(
            StatusCode::BAD_REQUEST,
            "UNKNOWN_PROCESS",
            "Unknown process".into(),
        )),
        Err(p) => Err(problem(&p)),
    }
}

async fn control(ctx: &Ctx, process: &str, action: portos_apps::AppAction) -> Response {
    let name = match known(ctx, process).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    match portos_apps::Supervisor::control(&ctx.link, &name, action).await {
        Ok(()) => Json(json!({ "success": true })).into_response(),
        Err(e) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "CONTROL_FAILED",
            e.to_string(),
        ),
    }
}

async fn restart(State(ctx): Shared, Path(process): Path<String>) -> Response {
    control(&ctx, &process, portos_apps::AppAction::Restart).await
}

async fn stop(State(ctx): Shared, Path(process): Path<String>) -> Response {
    control(&ctx, &process, portos_apps::AppAction::Stop).await
}

async fn fix(State(ctx): Shared, Path(process): Path<String>) -> Response {
    let name = match known(&ctx, &process).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    match ctx.fixer.trigger(name).await {
        Ok(mut r) => {
            r["success"] = json!(true);
            Json(r).into_response()
        }
        Err(Failure::Unreachable(why)) => {
            refuse(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", why)
        }
        Err(Failure::Refused(s)) => {
            let (status, code) = match s.code() {
                Code::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
                Code::AlreadyExists => (StatusCode::CONFLICT, "FIX_RUNNING"),
                _ => (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
            };
            refuse(status, code, s.message().to_string())
        }
    }
}

#[derive(Deserialize)]
struct LogsQuery {
    process: Option<String>,
}

/// The original's SSE: `: connected`, the last 50 lines, then each new one,
/// as `{type: "log", message, stream, timestamp}`. Only a registered app's process.
async fn logs(State(ctx): Shared, Query(q): Query<LogsQuery>) -> Response {
    let Some(process) = q.process.filter(|p| !p.is_empty()) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "process is required".into(),
        );
    };
    let name = match known(&ctx, &process).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    let lines = match ctx.link.logs(&name, 50, true).await {
        Ok(s) => s,
        Err(p) => return problem(&p),
    };
    let first = futures_util::stream::once(async {
        Ok::<_, Infallible>(Event::default().comment("connected"))
    });
    let rest = lines.filter_map(|l| async move {
        let l = l.ok()?;
        let stream = if l.stream == portos_proto::supervisor::v1::Stream::Stderr as i32 {
            "err"
        } else {
            "out"
        };
        let data =
            json!({ "type": "log", "message": l.text, "stream": stream, "timestamp": l.timestamp });
        Some(Ok(Event::default().data(data.to_string())))
    });
    let s: std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>> =
        Box::pin(first.chain(rest));
    (
        [("x-accel-buffering", "no")],
        Sse::new(s).keep_alive(KeepAlive::default()),
    )
        .into_response()
}
