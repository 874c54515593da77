//! Who may talk to the api server: a Host allow-list against DNS rebinding, and
//! an optional bearer token from settings.
//!
//! The token, when set (`PORTOS_API_TOKEN`, or `security.apiToken` in
//! `settings.json`), is required on every route and gRPC method but the probes
//! (`/healthz`, `grpc.health.v1`): `Authorization: Bearer <token>`, or
//! `?token=` on the WebSocket (browsers cannot set its headers).
//!
//! DNS rebinding needs a domain name that resolves to this machine, so a Host that
//! is an IP literal is always fine (that is how a phone on the LAN reaches it);
//! names must be `localhost`, this machine's name (also with `.local`), a Tailscale
//! name (`*.ts.net`), or listed in `PORTOS_ALLOWED_HOSTS` (comma-separated).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

pub use portos_rt::hosts::{HostPolicy, check_host};

/// Cross-origin requests are allowed from the web UI only: an origin
/// `http://<allowed host>:<ui port>` (`PORTOS_UI_PORT`, default 5555).
pub fn cors(hosts: Arc<HostPolicy>) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let ui_port = std::env::var("PORTOS_UI_PORT").unwrap_or_else(|_| "5555".to_string());
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin_allowed(&hosts, &ui_port, origin.to_str().unwrap_or_default())
        }))
        .allow_methods(tower_http::cors::Any)
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
}

fn origin_allowed(hosts: &HostPolicy, ui_port: &str, origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let Some((host, port)) = rest.rsplit_once(':') else {
        return false;
    };
    port == ui_port && hosts.allows(host)
}

/// The bearer token every request must carry, when one is set.
#[derive(Debug, Clone, Default)]
pub struct TokenPolicy {
    token: Option<String>,
}

impl TokenPolicy {
    pub fn new(token: Option<String>) -> Self {
        Self {
            token: token.filter(|t| !t.is_empty()),
        }
    }

    /// `PORTOS_API_TOKEN`, else `security.apiToken` of `settings.json`.
    pub fn from_env_or_settings(settings: &serde_json::Map<String, serde_json::Value>) -> Self {
        let from_settings = settings
            .get("security")
            .and_then(|s| s.get("apiToken"))
            .and_then(|t| t.as_str())
            .map(str::to_string);
        Self::new(std::env::var("PORTOS_API_TOKEN").ok().or(from_settings))
    }

    fn accepts(&self, req: &Request) -> bool {
        use subtle::ConstantTimeEq;
        let Some(want) = &self.token else { return true };
        let path = req.uri().path();
        if path == "/healthz" || path.starts_with("/grpc.health.v1.Health/") {
            return true;
        }
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::to_string);
        let query = || {
            req.uri().query().and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("token="))
                    .map(str::to_string)
            })
        };
        bearer
            .or_else(|| if path == "/ws" { query() } else { None })
            .is_some_and(|given| bool::from(given.as_bytes().ct_eq(want.as_bytes())))
    }
}

/// Refuses requests without the token (401 JSON, or gRPC `UNAUTHENTICATED`).
pub async fn check_token(
    State(policy): State<Arc<TokenPolicy>>,
    req: Request,
    next: Next,
) -> Response {
    if policy.accepts(&req) {
        return next.run(req).await;
    }
    let grpc = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc {
        return tonic::Status::unauthenticated("a bearer token is required").into_http();
    }
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "a bearer token is required: Authorization: Bearer <token>",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::HostPolicy;

    #[test]
    fn only_the_ui_origin_may_cross() {
        let p = HostPolicy::new(Vec::new());
        assert!(super::origin_allowed(&p, "5555", "http://localhost:5555"));
        assert!(super::origin_allowed(&p, "5555", "http://192.168.1.9:5555"));
        assert!(!super::origin_allowed(&p, "5555", "http://localhost:3000"));
        assert!(!super::origin_allowed(
            &p,
            "5555",
            "https://evil.example.com:5555"
        ));
        assert!(!super::origin_allowed(&p, "5555", "null"));
    }

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
