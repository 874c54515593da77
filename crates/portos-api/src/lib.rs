//! The api server of PortOS (5554): the original's REST API under `/api`, live
//! events on `/ws`, and gRPC, all on one port.
//!
//! Owns: the edge — routes and gRPC methods that parse a request, call one
//! domain function and shape the answer; the one error type and its JSON/gRPC
//! faces; Host checks, body limits, timeouts, request tracing; the live-event
//! hub; and the link to the supervisor's control socket. The domain lives in
//! `portos-ai`, `portos-apps`, `portos-history`, `portos-agents`,
//! `portos-commands`, `portos-notifications` and the other domain crates; data in
//! `portos-store`.
//! Must not depend on: the supervisor library (it is a client of its socket) or
//! any other service crate.

pub mod error;
pub mod events;
pub mod grpc;
pub mod guard;
mod openapi;
mod peers;
pub mod rendered;
pub mod routes;
mod schemas;
mod shell;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use portos_store::JsonStore;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
use events::Hub;
use guard::HostPolicy;
use portos_supervisor_client::SupervisorLink;

/// The largest request body accepted (the original's JSON limit).
pub const BODY_LIMIT: usize = 50 << 20;
/// How long a plain request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything a handler may reach: the domain services and the edge's own
/// parts, behind one `Arc`. A clone is one reference count: every layer and
/// handler of every request takes one (cloning the parts themselves, with
/// their gRPC clients, was a fifth of the CPU time of a cached read).
#[derive(Clone, Debug)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What an [`AppState`] holds.
#[derive(Debug)]
pub struct Services {
    pub store: Arc<JsonStore>,
    pub hub: Arc<Hub>,
    pub supervisor: Arc<SupervisorLink>,
    pub hosts: Arc<HostPolicy>,
    /// Who may call: the owner's credential, the internal token, failures.
    pub access: Arc<guard::Access>,
    /// Read answers kept per version of their data.
    pub rendered: Arc<rendered::Rendered>,
    /// The HTTP client for the edge's own outbound calls (the browser host).
    pub http: reqwest::Client,
    /// Providers, runs, prompts, provider status, LM Studio.
    pub ai: portos_ai::Ai,
    /// The apps registry and its processes.
    pub apps: portos_apps::Apps,
    /// The action history.
    pub history: portos_history::ActionLog,
    /// Personalities, platform accounts, schedules and their scheduler.
    pub agents: Arc<portos_agents::Agents>,
    /// The JIRA instances and their tickets.
    pub jira: portos_jira_instances::JiraInstances,
    /// The runner's terminal sessions, for the web shell on `/ws`.
    pub shells: portos_runner_client::shell::ShellLink,
    /// Allow-listed commands run for the owner (`/api/commands`).
    pub commands: portos_commands::Commands,
    /// What needs the owner's attention (`/api/notifications`, the bell).
    pub notifications: portos_notifications::Notifications,
    /// The second brain (`/api/brain`) and its scheduler.
    pub brain: portos_brain::Brain,
    /// This instance and its peers (`/api/instances`), and their poll.
    pub instances: portos_instances::Instances,
    /// The chief of staff (`/api/cos`): task queues, agents, learning.
    pub cos: portos_cos::Cos,
    /// When this api server started (its uptime in the health answers).
    pub started: std::time::Instant,
}

impl AppState {
    /// State over a data dir; the supervisor's socket is the data dir's.
    pub fn new(data_dir: PathBuf, hosts: HostPolicy, access: guard::Access) -> Self {
        let platforms = routes::agents::platforms(&data_dir);
        Self::with_platforms(data_dir, hosts, access, platforms)
    }

    /// As [`AppState::new`], with the Moltbook and Moltworld clients given
    /// (tests point them at fakes).
    pub fn with_platforms(
        data_dir: PathBuf,
        hosts: HostPolicy,
        access: guard::Access,
        platforms: portos_agents::Platforms,
    ) -> Self {
        let store = Arc::new(JsonStore::new(data_dir.clone()));
        let hub = Arc::new(Hub::default());
        let notifications = portos_notifications::Notifications::new(store.clone(), hub.clone());
        let agents = {
            let (hub, notes) = (hub.clone(), notifications.clone());
            portos_agents::Agents::new(
                store.clone(),
                Arc::new(portos_ratelimit::SystemClock),
                platforms,
                move |event: &str, data: serde_json::Value| {
                    routes::notifications::agents_event(&hub, &notes, event, data);
                },
            )
        };
        let supervisor = Arc::new(SupervisorLink::in_data_dir(&data_dir));
        let history = portos_history::ActionLog::new(store.clone());
        let producers = Arc::new(routes::notifications::Producers {
            hub: hub.clone(),
            notes: notifications.clone(),
        });
        let ai = portos_ai::Ai::new(
            store.clone(),
            Arc::new(portos_runner_client::GrpcRunner::from_env()),
            producers.clone(),
        );
        let brain = portos_brain::Brain::new(
            store.clone(),
            Arc::new(portos_brain::RunsModel(ai.clone())),
            producers,
            Arc::new(portos_ratelimit::SystemClock),
        );
        let apps = portos_apps::Apps::new(
            store.clone(),
            supervisor.clone(),
            history.clone(),
            hub.clone(),
        );
        agents.set_author(Arc::new(portos_agents::author::RunsAuthor(ai.clone())));
        let instances = portos_instances::Instances::new(
            store.clone(),
            Arc::new(portos_peer_grpc::client::GrpcLink),
            hub.clone(),
        );
        let cos = portos_cos::Cos::new(ai.clone(), apps.clone(), hub.clone());
        Self(Arc::new(Services {
            instances,
            cos,
            jira: portos_jira_instances::JiraInstances::new(store.clone(), history.clone()),
            shells: portos_runner_client::shell::ShellLink::from_env(),
            commands: portos_commands::Commands::new(store.clone(), history.clone(), hub.clone()),
            notifications,
            brain,
            started: std::time::Instant::now(),
            agents,
            access: Arc::new(access),
            supervisor,
            store,
            hub,
            hosts: Arc::new(hosts),
            rendered: Arc::default(),
            http: ai.http.clone(),
            ai,
            apps,
            history,
        }))
    }
}

/// The OpenAPI document's frame; the paths come from the handlers' annotations.
#[derive(utoipa::OpenApi)]
#[openapi(info(
    title = "PortOS api",
    description = "The api server of PortOS-rs: the original PortOS REST API, kept path for path."
))]
struct ApiDoc;

/// The REST routes and the OpenAPI document built from the same list, so the
/// document cannot miss a route.
pub fn api_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use routes::{apps, files, history, processes, providers, settings};
    use utoipa::OpenApi;
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;
    let parts = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(history::list, history::clear))
        .routes(routes!(history::stats))
        .routes(routes!(history::actions))
        .routes(routes!(history::delete_one))
        .routes(routes!(settings::get, settings::put))
        .routes(routes!(providers::list, providers::create))
        .routes(routes!(providers::active, providers::put_active))
        .routes(routes!(
            providers::get_one,
            providers::update,
            providers::delete
        ))
        .routes(routes!(providers::test))
        .routes(routes!(providers::statuses))
        .routes(routes!(providers::status))
        .routes(routes!(providers::recover))
        .routes(routes!(
            routes::runs::list,
            routes::runs::create,
            routes::runs::delete_failed
        ))
        .routes(routes!(routes::runs::get, routes::runs::delete))
        .routes(routes!(routes::runs::output))
        .routes(routes!(routes::runs::prompt))
        .routes(routes!(routes::runs::stop))
        .routes(routes!(routes::lmstudio::status))
        .routes(routes!(routes::lmstudio::list_models))
        .routes(routes!(routes::lmstudio::download))
        .routes(routes!(routes::lmstudio::load))
        .routes(routes!(routes::lmstudio::unload))
        .routes(routes!(routes::lmstudio::completion))
        .routes(routes!(routes::lmstudio::embeddings))
        .routes(routes!(routes::lmstudio::set_config))
        .routes(routes!(routes::lmstudio::reset_cache))
        .routes(routes!(routes::lmstudio::analyze_task))
        .routes(routes!(routes::lmstudio::classify_memory))
        .routes(routes!(routes::lmstudio::thinking_stats))
        .routes(routes!(routes::prompts::list, routes::prompts::create))
        .routes(routes!(routes::prompts::reload))
        .routes(routes!(
            routes::prompts::list_variables,
            routes::prompts::create_variable
        ))
        .routes(routes!(
            routes::prompts::get_variable,
            routes::prompts::update_variable,
            routes::prompts::delete_variable
        ))
        .routes(routes!(
            routes::prompts::get,
            routes::prompts::update,
            routes::prompts::delete
        ))
        .routes(routes!(routes::prompts::usage))
        .routes(routes!(routes::prompts::preview))
        .routes(routes!(routes::prompts::versions))
        .routes(routes!(routes::prompts::version))
        .routes(routes!(processes::list_processes))
        .routes(routes!(processes::process_logs))
        .routes(routes!(processes::control_process))
        .routes(routes!(apps::list, apps::create))
        .routes(routes!(apps::get, apps::update, apps::delete))
        .routes(routes!(apps::archive))
        .routes(routes!(apps::unarchive))
        .routes(routes!(apps::task_types))
        .routes(routes!(apps::set_task_type))
        .routes(routes!(apps::open_editor))
        .routes(routes!(apps::open_folder))
        .routes(routes!(apps::refresh_config))
        .routes(routes!(apps::update_code))
        .routes(routes!(apps::status))
        .routes(routes!(apps::logs))
        .routes(routes!(apps::logs_of_app))
        .routes(routes!(apps::start))
        .routes(routes!(apps::stop))
        .routes(routes!(apps::restart))
        .routes(routes!(apps::preview))
        .routes(routes!(routes::ports::scan))
        .routes(routes!(routes::ports::check))
        .routes(routes!(routes::ports::allocate))
        .routes(routes!(routes::git::app_info, routes::git::act))
        .routes(routes!(
            routes::notifications::list,
            routes::notifications::clear
        ))
        .routes(routes!(routes::notifications::count))
        .routes(routes!(routes::notifications::counts))
        .routes(routes!(routes::notifications::read))
        .routes(routes!(routes::notifications::read_all))
        .routes(routes!(routes::notifications::remove))
        .routes(routes!(routes::system::health))
        .routes(routes!(routes::system::details))
        .routes(routes!(routes::instances::list))
        .routes(routes!(
            routes::instances::get_self,
            routes::instances::rename_self
        ))
        .routes(routes!(routes::instances::add_peer))
        .routes(routes!(
            routes::instances::update_peer,
            routes::instances::remove_peer
        ))
        .routes(routes!(routes::instances::connect))
        .routes(routes!(routes::instances::probe))
        .routes(routes!(routes::instances::query))
        .routes(routes!(routes::instances::agents))
        .merge(routes::cos::routes())
        .routes(routes!(routes::brain::capture))
        .routes(routes!(routes::brain::inbox))
        .routes(routes!(
            routes::brain::entry,
            routes::brain::edit_entry,
            routes::brain::delete_entry
        ))
        .routes(routes!(routes::brain::retry))
        .routes(routes!(routes::brain::done))
        .routes(routes!(routes::brain::resolve))
        .routes(routes!(routes::brain::fix))
        .routes(routes!(routes::brain::latest_digest))
        .routes(routes!(routes::brain::digests))
        .routes(routes!(routes::brain::run_digest))
        .routes(routes!(routes::brain::latest_review))
        .routes(routes!(routes::brain::reviews))
        .routes(routes!(routes::brain::run_review))
        .routes(routes!(
            routes::brain::settings,
            routes::brain::put_settings
        ))
        .routes(routes!(routes::brain::summary))
        .routes(routes!(routes::brain::schedule))
        .routes(routes!(routes::brain::links, routes::brain::create_link))
        .routes(routes!(
            routes::brain::link,
            routes::brain::update_link,
            routes::brain::delete_link
        ))
        .routes(routes!(routes::brain::clone_link))
        .routes(routes!(routes::brain::pull_link))
        .routes(routes!(routes::brain::open_link_folder))
        .routes(routes!(
            routes::brain::records,
            routes::brain::create_record
        ))
        .routes(routes!(
            routes::brain::record,
            routes::brain::update_record,
            routes::brain::delete_record
        ))
        .routes(routes!(routes::usage::summary, routes::usage::reset))
        .routes(routes!(routes::usage::raw))
        .routes(routes!(routes::usage::daily))
        .routes(routes!(routes::usage::session))
        .routes(routes!(routes::usage::messages))
        .routes(routes!(routes::usage::tokens))
        .routes(routes!(routes::commands::execute))
        .routes(routes!(routes::commands::stop))
        .routes(routes!(routes::commands::allowed))
        .routes(routes!(routes::commands::processes))
        .routes(routes!(routes::commands::monit))
        .routes(routes!(
            uploads::list,
            uploads::create,
            files::clear_uploads
        ))
        .routes(routes!(uploads::download, uploads::remove))
        .routes(routes!(screenshots::list, screenshots::create))
        .routes(routes!(screenshots::download, screenshots::remove))
        .routes(routes!(attachments::list, attachments::create))
        .routes(routes!(attachments::download, attachments::remove))
        .routes(routes!(routes::autofixer::status))
        .routes(routes!(routes::autofixer::history))
        .routes(routes!(routes::autofixer::session))
        .routes(routes!(routes::autofixer::fix))
        .routes(routes!(routes::autofixer::pause))
        .routes(routes!(routes::autofixer::resume))
        .routes(routes!(
            routes::autofixer::get_config,
            routes::autofixer::set_config
        ))
        .routes(routes!(routes::browser::full_status))
        .routes(routes!(
            routes::browser::get_config,
            routes::browser::update_config
        ))
        .routes(routes!(routes::browser::launch))
        .routes(routes!(routes::browser::stop))
        .routes(routes!(routes::browser::restart))
        .routes(routes!(routes::browser::navigate))
        .routes(routes!(routes::browser::get_health))
        .routes(routes!(routes::browser::get_process))
        .routes(routes!(routes::browser::get_pages))
        .routes(routes!(routes::browser::close_page))
        .routes(routes!(routes::browser::version))
        .routes(routes!(routes::browser::logs))
        .routes(routes!(routes::browser::screenshot))
        .routes(routes!(routes::browser::cookies))
        .routes(routes!(routes::agent_processes::list))
        .routes(routes!(
            routes::agent_processes::get,
            routes::agent_processes::kill
        ))
        .routes(routes!(
            routes::agents::list_personalities,
            routes::agents::create_personality
        ))
        .routes(routes!(
            routes::agents::get_personality,
            routes::agents::update_personality,
            routes::agents::delete_personality
        ))
        .routes(routes!(routes::agents::toggle_personality))
        .routes(routes!(
            routes::agents::list_accounts,
            routes::agents::create_account
        ))
        .routes(routes!(
            routes::agents::get_account,
            routes::agents::delete_account
        ))
        .routes(routes!(routes::agents::test_account))
        .routes(routes!(routes::agents::claim_account))
        .routes(routes!(
            routes::agents::list_schedules,
            routes::agents::create_schedule
        ))
        .routes(routes!(routes::agents::schedule_stats))
        .routes(routes!(
            routes::agents::get_schedule,
            routes::agents::update_schedule,
            routes::agents::delete_schedule
        ))
        .routes(routes!(routes::agents::toggle_schedule))
        .routes(routes!(routes::agents::run_schedule))
        .routes(routes!(routes::agents::agent_activity))
        .routes(routes!(routes::agents::publish_post))
        .routes(routes!(routes::agents::publish_comment))
        .routes(routes!(routes::agents::feed))
        .routes(routes!(routes::agents::rate_limits))
        .routes(routes!(routes::agents::mw_join))
        .routes(routes!(routes::agents::mw_build))
        .routes(routes!(routes::agents::mw_explore))
        .routes(routes!(routes::agents::mw_think))
        .routes(routes!(routes::agents::mw_say))
        .routes(routes!(routes::agents::mw_balance))
        .routes(routes!(
            routes::jira::list_instances,
            routes::jira::upsert_instance
        ))
        .routes(routes!(routes::jira::delete_instance))
        .routes(routes!(routes::jira::test_instance))
        .routes(routes!(routes::jira::projects))
        .routes(routes!(routes::jira::create_ticket))
        .routes(routes!(
            routes::jira::update_ticket,
            routes::jira::delete_ticket
        ))
        .routes(routes!(routes::jira::comment))
        .routes(routes!(routes::jira::transitions))
        .routes(routes!(routes::jira::transition))
        .routes(routes!(routes::jira::my_sprint_tickets))
        .routes(routes!(routes::jira::sprints))
        .routes(routes!(routes::jira::epics))
        .route("/api/openapi.json", get(openapi_json))
        .split_for_parts();
    let (router, mut doc) = parts;
    openapi::complete(&mut doc);
    (router, doc)
}

/// `GET /api/openapi.json`: the document, generated from the code.
async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(api_routes().1)
}

/// The REST and WebSocket routes, with every layer.
pub fn router(state: AppState) -> Router {
    let (api, _) = api_routes();
    let routes = api
        .route("/api/{*rest}", axum::routing::any(not_found))
        .with_state(state.clone())
        .route("/ws", get(events::ws_handler).with_state(state.clone()));
    with_rest_layers(&state, routes)
}

/// The layers every REST route and `/ws` gets: tracing span, body limit,
/// timeout, errors published as events, and a panicking handler answered
/// with a 500 instead of a dropped connection.
pub fn with_rest_layers(state: &AppState, routes: Router) -> Router {
    // The layers as one stack: each route gets one boxed copy of it,
    // where a `.layer` call each would nest boxes that a request clones
    // at every level it passes (see `portos_rt::layered`).
    let rest = tower::ServiceBuilder::new()
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // The path only: a query may carry a token.
                    tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
                })
                // The one line per request is `log_request`'s.
                .on_request(())
                .on_response(())
                .on_failure(()),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), publish_errors))
        .layer(CatchPanicLayer::custom(error::panic_answer));
    routes.layer(rest)
}

/// A request slower than this is logged whatever it was.
const SLOW_REQUEST: std::time::Duration = std::time::Duration::from_secs(1);

/// One line per request on the port (REST, `/ws`, gRPC) that changed,
/// opened or was refused something: method, path (never the query: it may
/// carry a token), status and time taken. Every write, every refusal and
/// failure, every socket opened and every slow request is an `info` line;
/// a read answered well (a dashboard polls several a second) is a `debug`
/// line (`PORTOS_LOG=debug`). Health probes are left out altogether.
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    if path == "/healthz" || path.starts_with("/grpc.health.v1.") {
        return resp;
    }
    let taken = started.elapsed();
    let status = resp.status();
    let quiet_read = method.is_safe()
        && (status.is_success() || status.is_redirection())
        && taken < SLOW_REQUEST;
    let ms = taken.as_secs_f64() * 1e3;
    if quiet_read {
        tracing::debug!("{method} {path} {} {ms:.1}ms", status.as_u16());
    } else {
        tracing::info!("{method} {path} {} {ms:.1}ms", status.as_u16());
    }
    resp
}

/// The access checks around everything the api server serves (REST, `/ws`,
/// gRPC, reflection): the Host allow-list, CORS, then the credential and the
/// same-origin rule (`guard`).
pub fn guarded(state: &AppState, router: Router) -> Router {
    portos_rt::layered(
        router,
        tower::ServiceBuilder::new()
            .layer(middleware::from_fn(log_request))
            .layer(middleware::from_fn_with_state(
                state.hosts.clone(),
                guard::check_host,
            ))
            .layer(guard::cors())
            .layer(middleware::from_fn_with_state(
                state.access.clone(),
                guard::check_access,
            )),
    )
}

/// Named handlers for one file folder (list, create, download, delete), so each
/// has its place in the OpenAPI document.
macro_rules! file_folder {
    ($module:ident, $folder:path, $tag:literal, $base:literal, $item:literal, $listed:ty) => {
        mod $module {
            use axum::Json;
            use axum::extract::{Path, Request, State};
            use axum::response::Response;
            use serde_json::Value;

            use crate::routes::files;
            use crate::{ApiError, AppState};

            #[utoipa::path(get, path = $base, tag = $tag, operation_id = concat!("list_", stringify!($module)), responses((status = 200, description = "the files, newest first", body = $listed)))]
            pub async fn list(s: State<AppState>) -> Result<Json<Value>, ApiError> {
                files::list(s, $folder).await
            }

            #[utoipa::path(post, path = $base, tag = $tag, operation_id = concat!("create_", stringify!($module)),
                request_body(content = Object, description = "`{ data: <base64>, filename }` (uploads also take multipart with a `file` part)"),
                responses((status = 200, description = "stored"), (status = 201, description = "stored"), (status = 400, description = "bad data, name, type or size")))]
            pub async fn create(s: State<AppState>, req: Request) -> Result<Response, ApiError> {
                files::create(s, $folder, req).await
            }

            #[utoipa::path(get, path = $item, tag = $tag, operation_id = concat!("download_", stringify!($module)), params(("filename" = String, Path)),
                responses((status = 200, description = "the bytes"), (status = 400, description = "INVALID_FILENAME"), (status = 404, description = "no such file")))]
            pub async fn download(s: State<AppState>, p: Path<String>) -> Result<Response, ApiError> {
                files::download(s, $folder, p).await
            }

            #[utoipa::path(delete, path = $item, tag = $tag, operation_id = concat!("remove_", stringify!($module)), params(("filename" = String, Path)),
                responses((status = 200, description = "`{ success, filename }`", body = crate::schemas::writes::FileRemoved), (status = 404, description = "no such file")))]
            pub async fn remove(s: State<AppState>, p: Path<String>) -> Result<Json<Value>, ApiError> {
                files::remove(s, $folder, p).await
            }
        }
    };
}

file_folder!(
    uploads,
    portos_files::UPLOADS,
    "uploads",
    "/api/uploads",
    "/api/uploads/{filename}",
    crate::schemas::system::Uploads
);
file_folder!(
    screenshots,
    portos_files::SCREENSHOTS,
    "screenshots",
    "/api/screenshots",
    "/api/screenshots/{filename}",
    crate::schemas::system::Screenshots
);
file_folder!(
    attachments,
    portos_files::ATTACHMENTS,
    "attachments",
    "/api/attachments",
    "/api/attachments/{filename}",
    crate::schemas::system::Attachments
);

async fn not_found() -> ApiError {
    ApiError::not_found("Not found")
}

/// Every error answer is also an event: `error:occurred` to everyone and
/// `error:notified` to the `errors` channel, as the original does. Rejections
/// from extractors (bad JSON, wrong types, too large) are turned into our JSON
/// shape here too. A failure of the server itself (500) also rings the bell,
/// once per error code while unread.
async fn publish_errors(State(app): State<AppState>, req: Request, next: Next) -> Response {
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
            app.hub
                .publish_error(status.as_u16(), e.code, &e.message, None);
            return e.into_response();
        }
    };
    app.hub.publish_error(
        status.as_u16(),
        err.code,
        &err.message,
        err.context.as_ref(),
    );
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), code = err.code, "{}", err.message);
    }
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        app.notifications.ring_server_error(err.code, &err.message);
    }
    resp
}
