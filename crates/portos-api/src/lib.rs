//! The api server of PortOS (5554): the original's REST API under `/api`, live
//! events on `/ws`, and gRPC, all on one port.
//!
//! Owns: the HTTP edge (routes, the one error type and its JSON/gRPC faces, Host
//! checks, body limits, timeouts, request tracing), the live-event hub, and the
//! link to the supervisor's control socket. Data lives in `portos-store`; this
//! crate turns requests into store calls and back.
//! Must not depend on: the supervisor library (it is a client of its socket) or
//! any other service crate.

pub mod error;
pub mod events;
pub mod grpc;
pub mod guard;
pub mod redact;
pub mod routes;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use portos_store::JsonStore;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
use events::Hub;
use guard::HostPolicy;
use routes::processes::{AppAction, SupervisorLink};

/// The largest request body accepted (the original's JSON limit).
pub const BODY_LIMIT: usize = 50 << 20;
/// How long a plain request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything a handler may reach. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Arc<JsonStore>,
    pub hub: Arc<Hub>,
    pub supervisor: Arc<SupervisorLink>,
    pub hosts: Arc<HostPolicy>,
    pub tokens: Arc<guard::TokenPolicy>,
}

impl AppState {
    /// State over a data dir; the supervisor's socket is the data dir's.
    pub fn new(data_dir: PathBuf, hosts: HostPolicy, tokens: guard::TokenPolicy) -> Self {
        Self {
            tokens: Arc::new(tokens),
            supervisor: Arc::new(SupervisorLink {
                socket: data_dir.join("supervisor.sock"),
            }),
            store: Arc::new(JsonStore::new(data_dir)),
            hub: Arc::new(Hub::default()),
            hosts: Arc::new(hosts),
        }
    }
}

/// The REST and WebSocket routes, with every layer.
pub fn router(state: AppState) -> Router {
    use routes::{files, history, processes, settings};
    let api = Router::new()
        .route("/history", get(history::list).delete(history::clear))
        .route("/history/stats", get(history::stats))
        .route("/history/actions", get(history::actions))
        .route("/history/{id}", delete(history::delete_one))
        .route("/settings", get(settings::get).put(settings::put))
        .route("/logs/processes", get(processes::list_processes))
        .route("/logs/{process}", get(processes::process_logs))
        .route("/apps", get(processes::list_apps))
        .route("/apps/{id}", get(processes::get_app))
        .route("/apps/{id}/start", post(app_start))
        .route("/apps/{id}/stop", post(app_stop))
        .route("/apps/{id}/restart", post(app_restart))
        .merge(file_routes("/uploads", files::UPLOADS))
        .merge(file_routes("/screenshots", files::SCREENSHOTS))
        .merge(file_routes("/attachments", files::ATTACHMENTS))
        .route("/uploads", delete(files::clear_uploads))
        .fallback(not_found)
        .with_state(state.clone());
    Router::new()
        .nest("/api", api)
        .route("/ws", get(events::ws_handler).with_state(state.hub.clone()))
        .layer(middleware::from_fn_with_state(
            state.hub.clone(),
            publish_errors,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // The path only: a query may carry a token.
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
        }))
}

/// The access checks around everything the api server serves (REST, `/ws`,
/// gRPC, reflection): the Host allow-list, then the bearer token when one is set.
pub fn guarded(state: &AppState, router: Router) -> Router {
    router
        .layer(middleware::from_fn_with_state(
            state.tokens.clone(),
            guard::check_token,
        ))
        .layer(middleware::from_fn_with_state(
            state.hosts.clone(),
            guard::check_host,
        ))
}

/// List, create, download and delete for one file folder.
fn file_routes(base: &str, folder: routes::files::Folder) -> Router<AppState> {
    use axum::extract::{Path, Request};
    use routes::files;
    Router::new()
        .route(
            base,
            get(move |s: State<AppState>| files::list(s, folder))
                .post(move |s: State<AppState>, req: Request| files::create(s, folder, req)),
        )
        .route(
            &format!("{base}/{{filename}}"),
            get(move |s: State<AppState>, p: Path<String>| files::download(s, folder, p))
                .delete(move |s: State<AppState>, p: Path<String>| files::remove(s, folder, p)),
        )
}

async fn app_start(
    State(app): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    routes::processes::act_on_app(app, id, AppAction::Start).await
}

async fn app_stop(
    State(app): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    routes::processes::act_on_app(app, id, AppAction::Stop).await
}

async fn app_restart(
    State(app): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    routes::processes::act_on_app(app, id, AppAction::Restart).await
}

async fn not_found() -> ApiError {
    ApiError::not_found("Not found")
}

/// Every error answer is also an event: `error:occurred` to everyone and
/// `error:notified` to the `errors` channel, as the original does. Rejections
/// from extractors (bad JSON, wrong types, too large) are turned into our JSON
/// shape here too.
async fn publish_errors(State(hub): State<Arc<Hub>>, req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || status == StatusCode::FORBIDDEN {
        return resp;
    }
    let err = match resp.extensions().get::<ApiError>() {
        Some(e) => e.clone(),
        None => {
            // An axum rejection: plain text. Re-shape it.
            let code = match status {
                StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
                StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
                StatusCode::UNPROCESSABLE_ENTITY => "VALIDATION_ERROR",
                StatusCode::REQUEST_TIMEOUT => "REQUEST_TIMEOUT",
                StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
                StatusCode::NOT_FOUND => "NOT_FOUND",
                s if s.is_server_error() => "INTERNAL_ERROR",
                _ => "BAD_REQUEST",
            };
            let body = axum::body::to_bytes(resp.into_body(), 64 << 10)
                .await
                .unwrap_or_default();
            let message = String::from_utf8_lossy(&body).trim().to_string();
            let message = if message.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                message
            };
            let e = ApiError::new(status, code, message);
            hub.publish_error(status.as_u16(), e.code, &e.message, None);
            return e.into_response();
        }
    };
    hub.publish_error(
        status.as_u16(),
        err.code,
        &err.message,
        err.context.as_ref(),
    );
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), code = err.code, "{}", err.message);
    }
    resp
}
