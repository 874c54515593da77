//! The skeleton every PortOS service binary shares.
//!
//! Owns: settings from the environment (`HOST`, `PORT`), single-line tracing,
//! the one shutdown path (SIGTERM or SIGINT → a [`CancellationToken`] → stop
//! accepting, let requests finish within a grace period → exit 0), and serving REST
//! and gRPC on one port (HTTP/1.1 and h2c) with `grpc.health.v1` and server
//! reflection always present, plus `GET /healthz` and `GET /` for people and probes.
//!
//! Must not depend on: the supervisor, the store or any domain crate. A service
//! brings its own routes; this crate only frames them.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

pub use tokio_util;

/// How long in-flight requests may run once shutdown has begun.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Errors a service frame reports before exiting non-zero.
#[derive(Debug, thiserror::Error)]
pub enum RtError {
    #[error("invalid {var}={value:?}: {why}")]
    Setting {
        var: &'static str,
        value: String,
        why: String,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(#[source] std::io::Error),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("{0}")]
    Service(Box<dyn std::error::Error + Send + Sync>),
    /// A setting that names files (the TLS certificate and key) that do not serve.
    #[error("{0}")]
    Config(String),
}

/// What a service is called and where it listens by default.
#[derive(Debug, Clone, Copy)]
pub struct ServiceInfo {
    /// Binary and tracing name, e.g. `portos-api`.
    pub name: &'static str,
    pub description: &'static str,
    pub default_host: &'static str,
    pub default_port: u16,
}

/// Whether the service can do its job, and if not, why. Backs both
/// `grpc.health.v1` (service "") and `GET /healthz`.
#[derive(Clone)]
pub struct Readiness {
    reporter: HealthReporter,
    reason: Arc<RwLock<Option<String>>>,
}

impl Readiness {
    pub async fn set_serving(&self) {
        *self.reason.write().unwrap_or_else(|e| e.into_inner()) = None;
        self.reporter
            .set_service_status("", ServingStatus::Serving)
            .await;
    }

    pub async fn set_not_serving(&self, reason: impl Into<String>) {
        let reason = reason.into();
        tracing::warn!(%reason, "not serving");
        *self.reason.write().unwrap_or_else(|e| e.into_inner()) = Some(reason);
        self.reporter
            .set_service_status("", ServingStatus::NotServing)
            .await;
    }

    /// `None` when serving, else the reason it is not.
    pub fn not_serving_reason(&self) -> Option<String> {
        self.reason
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Handed to a service when it builds its routes.
#[derive(Clone)]
pub struct Context {
    pub info: ServiceInfo,
    /// The address actually bound (the real port when `PORT=0`).
    pub addr: SocketAddr,
    pub readiness: Readiness,
    /// Cancelled once, when the process is asked to stop.
    pub shutdown: CancellationToken,
}

/// What a service serves besides the frame's own routes.
#[derive(Default)]
pub struct App {
    pub rest: Router,
    pub grpc: Option<Routes>,
    /// Full names of the services in `grpc`, as reflection advertises them.
    pub grpc_names: Vec<&'static str>,
    /// Applied last, around everything served on the port (REST, gRPC, health,
    /// reflection): where a service puts its access checks.
    pub wrap: Option<Box<dyn FnOnce(Router) -> Router + Send>>,
    /// Awaited once the server has stopped, before the process exits: where a
    /// service finishes its own work on the way out (the runner stops its agents).
    pub drain: Option<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// More fields of `GET /` (what this service is), beside its name,
    /// description and version.
    pub about: serde_json::Map<String, serde_json::Value>,
    /// The service answers `GET /` itself (the web UI's dashboard); the
    /// frame's description then lives at `GET /about` only.
    pub serves_root: bool,
}

/// Reads a variable, or its default.
pub fn env_or(var: &'static str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

/// Reads a port variable (`0` = any free port).
pub fn env_port(var: &'static str, default: u16) -> Result<u16, RtError> {
    match std::env::var(var) {
        Err(_) => Ok(default),
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|e: std::num::ParseIntError| RtError::Setting {
                var,
                value: v.clone(),
                why: e.to_string(),
            }),
    }
}

/// The listen address from `HOST` and `PORT`.
pub fn listen_addr(info: &ServiceInfo) -> Result<SocketAddr, RtError> {
    let host = env_or("HOST", info.default_host);
    let port = env_port("PORT", info.default_port)?;
    let ip = host
        .parse()
        .map_err(|e: std::net::AddrParseError| RtError::Setting {
            var: "HOST",
            value: host.clone(),
            why: e.to_string(),
        })?;
    Ok(SocketAddr::new(ip, port))
}

/// Single-line logs to stderr. Under the supervisor (`PORTOS_SUPERVISED=1`) the
/// supervisor stamps every line, so the service does not.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTOS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stderr);
    if std::env::var_os("PORTOS_SUPERVISED").is_some() {
        builder.without_time().init();
    } else {
        builder.init();
    }
}

/// A token cancelled at the first SIGTERM or SIGINT.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = int.recv() => tracing::info!("SIGINT: shutting down"),
        }
        t.cancel();
    });
    token
}

/// The whole life of a service binary: settings, bind, serve, shut down.
/// Returns the process exit code; errors are printed as one clear line.
pub fn main<F, Fut>(info: ServiceInfo, build: F) -> ExitCode
where
    F: FnOnce(Context) -> Fut,
    Fut: Future<Output = Result<App, RtError>>,
{
    // Before any thread: the runtime's threads take their arenas as they start.
    portos_heap::limit_arenas();
    init_tracing();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}: cannot start the runtime: {e}", info.name);
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(info, build)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("{}: {e}", info.name);
            ExitCode::FAILURE
        }
    }
}

/// Binds from the environment and serves until a stop signal.
pub async fn run<F, Fut>(info: ServiceInfo, build: F) -> Result<(), RtError>
where
    F: FnOnce(Context) -> Fut,
    Fut: Future<Output = Result<App, RtError>>,
{
    let addr = listen_addr(&info)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| RtError::Bind { addr, source })?;
    let shutdown = shutdown_on_signals();
    serve(info, listener, shutdown, build).await
}

/// Serves `build`'s routes and the frame's own on `listener` until `shutdown`.
pub async fn serve<F, Fut>(
    info: ServiceInfo,
    listener: TcpListener,
    shutdown: CancellationToken,
    build: F,
) -> Result<(), RtError>
where
    F: FnOnce(Context) -> Fut,
    Fut: Future<Output = Result<App, RtError>>,
{
    let addr = listener.local_addr().map_err(RtError::Serve)?;
    let tls = tls::acceptor_from_env()?;
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let readiness = Readiness {
        reporter,
        reason: Arc::new(RwLock::new(None)),
    };
    let ctx = Context {
        info,
        addr,
        readiness: readiness.clone(),
        shutdown: shutdown.clone(),
    };
    let app = build(ctx).await?;

    let grpc = with_reflection(
        app.grpc.unwrap_or_default().add_service(health_service),
        &app.grpc_names,
    )?;

    let about = Arc::new(app.about);
    let frame = Router::new()
        .route("/healthz", get(healthz))
        .with_state((info, readiness))
        .route(
            "/about",
            get({
                let about = about.clone();
                move || describe(info, about.clone())
            }),
        );
    let frame = if app.serves_root {
        frame
    } else {
        frame.route("/", get(move || describe(info, about.clone())))
    };
    let router = grpc.into_axum_router().merge(frame).merge(app.rest);
    let router = match app.wrap {
        Some(wrap) => wrap(router),
        None => router,
    };
    // Every request counts as work; once a burst of them ends, the heap's free
    // pages go back to the kernel (and at least every minute: `portos-heap`).
    let activity = portos_heap::Activity::default();
    let router = layered(
        router,
        tower::util::MapRequestLayer::new({
            let activity = activity.clone();
            move |req: axum::extract::Request| {
                activity.bump();
                req
            }
        }),
    );
    let trimmer = tokio::spawn(portos_heap::keep_trimmed(activity));
    let drain = app.drain;

    tracing::info!(%addr, https = tls.is_some(), "{} listening", info.name);
    let graceful = shutdown.clone();
    // The peer rides along with each request (throttling by address, https).
    let server = axum::serve(
        tls::Listener::new(listener, tls),
        router.into_make_service_with_connect_info::<tls::Peer>(),
    )
    .with_graceful_shutdown(async move {
        graceful.cancelled().await;
    });
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        r = server => r.map_err(RtError::Serve)?,
        () = deadline => tracing::warn!("grace period over; closing remaining connections"),
    }
    trimmer.abort();
    if let Some(drain) = drain {
        drain.await;
    }
    tracing::info!("{} stopped", info.name);
    Ok(())
}

/// `router` behind `layers` (a `tower::ServiceBuilder`'s stack, outermost
/// first), as the one endpoint of a new router: every request goes through
/// the stack once. `Router::layer` instead puts a boxed copy of a layer on
/// every route, and a request clones each box of its route's stack at every
/// level it passes (callgrind on the api server's history query: 62 boxed
/// clones a request, a third of its instructions).
pub fn layered<L>(router: Router, layers: L) -> Router
where
    L: tower::Layer<Router>,
    L::Service: tower::Service<
            axum::extract::Request,
            Response: IntoResponse + 'static,
            Error = std::convert::Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    Router::new().fallback_service(layers.layer(router))
}

/// Adds gRPC server reflection advertising `served` (full service names) and
/// `grpc.health.v1.Health`, in both `v1` and `v1alpha` (which grpcio's and older
/// grpcurl clients speak).
pub fn with_reflection(routes: Routes, served: &[&str]) -> Result<Routes, RtError> {
    let builder = || {
        let b = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(portos_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name("grpc.health.v1.Health")
            .with_service_name("grpc.reflection.v1.ServerReflection")
            .with_service_name("grpc.reflection.v1alpha.ServerReflection");
        served.iter().fold(b, |b, name| b.with_service_name(*name))
    };
    Ok(routes
        .add_service(builder().build_v1()?)
        .add_service(builder().build_v1alpha()?))
}

type FrameState = (ServiceInfo, Readiness);

async fn healthz(
    axum::extract::State((info, readiness)): axum::extract::State<FrameState>,
) -> impl IntoResponse {
    match readiness.not_serving_reason() {
        None => (
            StatusCode::OK,
            axum::Json(json!({ "status": "serving", "service": info.name })),
        ),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "not_serving", "service": info.name, "reason": reason })),
        ),
    }
}

async fn describe(
    info: ServiceInfo,
    about: Arc<serde_json::Map<String, serde_json::Value>>,
) -> impl IntoResponse {
    let mut body = serde_json::Map::new();
    body.insert("service".into(), json!(info.name));
    body.insert("description".into(), json!(info.description));
    body.insert("version".into(), json!(env!("CARGO_PKG_VERSION")));
    body.extend(about.iter().map(|(k, v)| (k.clone(), v.clone())));
    axum::Json(body)
}

pub mod child;
pub mod hosts;
pub mod internal;
pub mod tls;
