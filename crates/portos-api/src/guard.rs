//! Who may talk to the api server, checked before any handler runs:
//!
//! - **Host**: an allow-list against DNS rebinding (`portos_rt::hosts`).
//! - **Credential** on everything but `/healthz` and `grpc.health.v1`: the
//!   owner's session cookie, or `Authorization: Bearer` with the owner token or
//!   the internal token (the UI server, having checked its visitor, passes
//!   requests on with it). Without one: 401 `UNAUTHENTICATED`, gRPC
//!   `UNAUTHENTICATED`; an address that keeps failing is slowed down (429).
//! - **Same origin** for every request that changes state and every WebSocket
//!   upgrade: an `Origin` equal to the request's own scheme, host and port, or
//!   `Sec-Fetch-Site: same-origin`, or a Bearer token and no cookie (a script,
//!   not a browser tab). Anything else: 403 `CROSS_ORIGIN`. CORS lets no
//!   foreign origin read answers unless listed exactly in `PORTOS_CORS_ORIGINS`.
//!
//! - **Peer calls** (`portos.instances.v1.Peer`): only a peer credential this
//!   instance issued (`portos token --peer`, or a pairing's way back), never
//!   the owner's; without one `UNAUTHENTICATED`, logged with the caller's
//!   address. A peer credential opens nothing else.
//!
//! `PORTOS_AUTH=off` gives the credential check up (the original's open mode,
//! for a closed network); the Host and same-origin checks stay.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use portos_login::{LOGIN_HEADER, Login, auth_off, same_origin_or_script};
use portos_rt::internal::{bearer, is_grpc};

pub use portos_rt::hosts::{HostPolicy, check_host};

/// CORS: only the origins listed exactly in `PORTOS_CORS_ORIGINS`
/// (comma-separated) may read answers from another origin.
pub fn cors() -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let listed: Vec<String> = std::env::var("PORTOS_CORS_ORIGINS")
        .unwrap_or_default()
        .split(',')
        .map(|o| o.trim().trim_end_matches('/').to_string())
        .filter(|o| !o.is_empty())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            listed.iter().any(|o| o.as_bytes() == origin.as_bytes())
        }))
        .allow_methods(tower_http::cors::Any)
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
}

/// The credentials the api server accepts, and who keeps failing.
#[derive(Debug, Default)]
pub struct Access {
    /// `None`: auth is off.
    owner: Option<Arc<portos_auth::Owner>>,
    internal: Option<String>,
    failures: portos_login::Throttle,
    /// The peer credentials this instance issued; `None`: no peer may call.
    peers: Option<portos_instances::PeerKeys>,
}

impl Access {
    pub fn new(owner: Option<Arc<portos_auth::Owner>>, internal: Option<String>) -> Self {
        Self {
            owner,
            internal: internal.filter(|t| !t.is_empty()),
            failures: Default::default(),
            peers: None,
        }
    }

    /// Lets peers holding one of `keys`' issued credentials call the peer service.
    pub fn with_peers(mut self, keys: portos_instances::PeerKeys) -> Self {
        self.peers = Some(keys);
        self
    }

    /// The owner of `data_dir` (its token made now if there is none), the
    /// internal token from the environment, or open with `PORTOS_AUTH=off`.
    pub fn from_env(data_dir: &std::path::Path) -> Result<Self, portos_auth::AuthError> {
        if auth_off() {
            tracing::warn!("PORTOS_AUTH=off: every route answers without a credential");
            return Ok(Self::new(None, None).with_peers(portos_instances::PeerKeys::new(data_dir)));
        }
        let owner = portos_auth::Owner::new(data_dir);
        owner.ensure_token()?;
        Ok(
            Self::new(Some(Arc::new(owner)), portos_rt::internal::token())
                .with_peers(portos_instances::PeerKeys::new(data_dir)),
        )
    }

    pub fn is_open(&self) -> bool {
        self.owner.is_none()
    }

    /// Whether the request carries the internal token.
    fn is_internal(&self, req: &Request) -> bool {
        use subtle::ConstantTimeEq;
        match (bearer(req), self.internal.as_deref()) {
            (Some(given), Some(t)) => bool::from(given.as_bytes().ct_eq(t.as_bytes())),
            _ => false,
        }
    }

    /// Who the request comes from, if it carries a credential (or needs
    /// none); `internal`: it carries the internal token, and a page server
    /// names its visitor's login in [`LOGIN_HEADER`].
    fn login(&self, req: &Request, internal: bool) -> Option<Login> {
        let named = || {
            req.headers()
                .get(LOGIN_HEADER)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty() && v.len() <= 100)
                .map_or_else(|| Login("internal".into()), |v| Login(v.to_string()))
        };
        let Some(owner) = &self.owner else {
            return Some(if internal {
                named()
            } else {
                Login("open".into())
            });
        };
        let path = req.uri().path();
        if path == "/healthz" || path.starts_with("/grpc.health.v1.Health/") {
            return Some(Login("anonymous".into()));
        }
        if let Some(given) = bearer(req) {
            return if internal {
                Some(named())
            } else {
                owner.is_token(given).then(|| Login("token".into()))
            };
        }
        portos_login::login_of(owner, req.headers())
    }
}

/// Whether a request changes state (or opens a socket), so must be same-origin.
fn changes_state(req: &Request) -> bool {
    let upgrade = req.headers().contains_key(header::UPGRADE);
    upgrade
        || !matches!(
            *req.method(),
            axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
        )
}

/// Refuses what has no credential (401) or comes from another origin (403).
pub async fn check_access(
    State(access): State<Arc<Access>>,
    mut req: Request,
    next: Next,
) -> Response {
    let who = portos_login::peer(&req);
    let grpc = is_grpc(&req);
    let internal = access.is_internal(&req);
    // The UI server's calls (the internal token) never wait for others' failures.
    if !internal && let Some(secs) = access.failures.waiting(who) {
        let msg = format!("too many failed logins from this address; try again in {secs} s");
        if grpc {
            return tonic::Status::resource_exhausted(msg).into_http();
        }
        return ApiError::new(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS", msg)
            .into_response();
    }
    if req.uri().path().starts_with(portos_peer_grpc::PATH_PREFIX) {
        return peer_call(&access, who, req, next).await;
    }
    let Some(login) = access.login(&req, internal) else {
        access.failures.failed(who);
        let msg = "a credential is required: the session of a login link (`portos token` or `portos pair` on the machine), or Authorization: Bearer <owner token>";
        if grpc {
            return tonic::Status::unauthenticated(msg).into_http();
        }
        return ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", msg).into_response();
    };
    req.extensions_mut().insert(login);
    if changes_state(&req)
        && !grpc
        && !same_origin_or_script(
            req.headers(),
            portos_login::https(req.extensions(), req.headers()),
        )
    {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "CROSS_ORIGIN",
            "requests that change something must come from PortOS's own pages",
        )
        .into_response();
    }
    next.run(req).await
}

/// A call of the peer service: on with the caller's credential named, or
/// refused (and logged with the caller's address).
async fn peer_call(
    access: &Access,
    who: Option<std::net::IpAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let credential = bearer(&req).and_then(|t| access.peers.as_ref()?.check(t));
    let address = who.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
    let Some(credential) = credential else {
        access.failures.failed(who);
        tracing::warn!(caller = %address, path = req.uri().path(), "peer call refused: no valid peer credential");
        return tonic::Status::unauthenticated(
            "a peer credential is required (`portos token --peer NAME` on this machine)",
        )
        .into_http();
    };
    req.extensions_mut().insert(portos_peer_grpc::PeerCall {
        credential,
        address,
    });
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::HostPolicy;

    #[test]
    fn names_and_addresses() {
        let p = HostPolicy::new(vec!["devbox".to_string()]);
        for ok in [
            "localhost",
            "localhost:5554",
            "127.0.0.1:5554",
            "[::1]:5554",
            "192.168.1.20:5554",
            "devbox:5554",
            "mac.tail1234.ts.net",
            "app.localhost:5555",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example.com",
            "evil.example.com:5554",
            "localhost.evil.com",
            "127.0.0.1.nip.io:5554",
        ] {
            assert!(!p.allows(bad), "{bad}");
        }
    }
}
