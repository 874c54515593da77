//! The internal token: how PortOS's own services know a gRPC call comes from
//! another of them. The supervisor makes one per run and hands it to its
//! children through [`ENV`] (never on a command line); an internal service
//! (the runner, the browser host, the autofixer) takes gRPC calls only with
//! `authorization: Bearer <token>`, health and reflection aside. REST on those
//! ports (health pages) stays as it is.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

pub use portos_core::secrets::INTERNAL_TOKEN_ENV as ENV;

/// A new token: 256 random bits, hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    // The OS's generator; it only fails on a system without one.
    getrandom::fill(&mut bytes).expect("the OS random number generator");
    hex::encode(bytes)
}

/// This process's internal token, from [`ENV`].
pub fn token() -> Option<String> {
    std::env::var(ENV).ok().filter(|t| !t.is_empty())
}

/// [`crate::App::wrap`] for an internal service: the Host allow-list and the
/// internal token on every gRPC method but health and reflection.
pub fn wrap_from_env() -> Box<dyn FnOnce(Router) -> Router + Send> {
    let policy = Arc::new(crate::hosts::HostPolicy::from_env());
    let token = Arc::new(token());
    Box::new(move |all| {
        crate::layered(
            all,
            tower::ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(
                    policy,
                    crate::hosts::check_host,
                ))
                .layer(axum::middleware::from_fn_with_state(token, check)),
        )
    })
}

/// Whether a request is a gRPC call.
pub fn is_grpc(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
}

/// Whether `req` may pass: not gRPC, a health or reflection call, or one that
/// carries the token.
pub fn allows(token: Option<&str>, req: &Request) -> bool {
    use subtle::ConstantTimeEq;
    let path = req.uri().path();
    if !is_grpc(req)
        || path.starts_with("/grpc.health.v1.")
        || path.starts_with("/grpc.reflection.")
    {
        return true;
    }
    match (token, bearer(req)) {
        (Some(want), Some(given)) => bool::from(given.as_bytes().ct_eq(want.as_bytes())),
        _ => false,
    }
}

async fn check(State(token): State<Arc<Option<String>>>, req: Request, next: Next) -> Response {
    if allows(token.as_deref(), &req) {
        return next.run(req).await;
    }
    let why = if token.is_some() {
        "this service takes calls from PortOS's own services only: the internal token is missing or wrong"
    } else {
        "this service has no internal token (PORTOS_INTERNAL_TOKEN): it takes calls only when started by portos"
    };
    tonic::Status::unauthenticated(why).into_http()
}

/// Adds this process's internal token to every call of a gRPC client.
#[derive(Debug, Clone)]
pub struct Auth(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl Auth {
    /// With `token` (none: calls go without, and an internal service refuses them).
    pub fn new(token: Option<&str>) -> Self {
        Self(token.and_then(|t| format!("Bearer {t}").parse().ok()))
    }

    /// With this process's token, from [`ENV`].
    pub fn from_env() -> Self {
        Self::new(token().as_deref())
    }
}

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// A channel whose calls carry the internal token.
pub type Authed = tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Auth>;
