//! The Host allow-list every server on 0.0.0.0 applies against DNS rebinding.
//!
//! DNS rebinding needs a domain name that resolves to this machine, so a Host that
//! is an IP literal is always fine (that is how a phone on the LAN reaches it);
//! names must be `localhost`, this machine's name (also with `.local`), a Tailscale
//! name (`*.ts.net`), or listed in `PORTOS_ALLOWED_HOSTS` (comma-separated).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The names the server answers to.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    names: Vec<String>,
}

impl HostPolicy {
    /// `localhost`, this machine's names and `extra`.
    pub fn new(extra: impl IntoIterator<Item = String>) -> Self {
        let mut names = vec!["localhost".to_string()];
        if let Ok(h) = nix::unistd::gethostname() {
            let h = h.to_string_lossy().to_ascii_lowercase();
            if !h.is_empty() {
                names.push(format!("{h}.local"));
                names.push(h);
            }
        }
        names.extend(
            extra
                .into_iter()
                .map(|n| n.trim().to_ascii_lowercase())
                .filter(|n| !n.is_empty()),
        );
        Self { names }
    }

    /// From the environment (`PORTOS_ALLOWED_HOSTS`).
    pub fn from_env() -> Self {
        let extra = std::env::var("PORTOS_ALLOWED_HOSTS").unwrap_or_default();
        Self::new(extra.split(',').map(str::to_string).collect::<Vec<_>>())
    }

    /// Whether a `Host` header value (with or without port) is allowed.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let name = if let Some(rest) = host.strip_prefix('[') {
            // [v6]:port
            rest.split(']').next().unwrap_or_default().to_string()
        } else {
            host.rsplit_once(':')
                .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
                .map(|(h, _)| h.to_string())
                .unwrap_or(host)
        };
        if name.parse::<IpAddr>().is_ok() {
            return true;
        }
        let name = name.trim_end_matches('.');
        name.ends_with(".ts.net")
            || name.ends_with(".localhost")
            || self.names.iter().any(|n| n == name)
    }
}

/// Refuses requests whose Host is not allowed (HTTP/1.1 `Host`, or the h2 authority).
pub async fn check_host(
    State(policy): State<Arc<HostPolicy>>,
    req: Request,
    next: Next,
) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    match host {
        Some(h) if policy.allows(&h) => next.run(req).await,
        Some(h) => (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({
                "error": format!("Host {h:?} is not allowed; add it to PORTOS_ALLOWED_HOSTS to reach PortOS by that name"),
                "code": "HOST_NOT_ALLOWED",
                "timestamp": std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64),
            })),
        )
            .into_response(),
        // A request that names no host cannot be checked, so it does not pass.
        None => (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({
                "error": "a request without a Host header is refused",
                "code": "HOST_NOT_ALLOWED",
                "timestamp": std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64),
            })),
        )
            .into_response(),
    }
}

/// [`App::wrap`](crate::App::wrap) for a server that only needs the Host
/// allow-list (`PORTOS_ALLOWED_HOSTS`) around everything it serves.
pub fn wrap_from_env() -> Box<dyn FnOnce(axum::Router) -> axum::Router + Send> {
    let policy = Arc::new(HostPolicy::from_env());
    Box::new(move |all| {
        crate::layered(
            all,
            axum::middleware::from_fn_with_state(policy, check_host),
        )
    })
}

/// The Content-Security-Policy of PortOS's own pages: only this origin's
/// scripts, styles, images and connections, no inline script, never framed.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// Puts [`PAGE_CSP`], `X-Frame-Options: DENY`, `nosniff` and
/// `Referrer-Policy: no-referrer` on every answer that does not carry a CSP
/// of its own (a stored file keeps its `sandbox`).
pub async fn page_headers(req: Request, next: Next) -> Response {
    use axum::http::HeaderValue;
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        );
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}
