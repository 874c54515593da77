//! The owner's login for the servers that show pages (the UI on 5555, the
//! autofixer UI on 5560). `GET /login?token=…` (the link `portos up` and
//! `portos pair` print) checks the owner token, opens a session, sets it as a
//! cookie — HttpOnly, SameSite=Strict, Secure under https, a year long — and
//! redirects to the dashboard, so the token does not stay in the address bar.
//! [`Gate::check`] stands in front of everything else: pages answer the login
//! page, `/api` and `/ws` a 401, until the browser has a session. Cookies do
//! not depend on the port, so one login serves every page server and the api.
//!
//! `PORTOS_AUTH=off` opens everything, and [`Gate::is_open`] lets each page
//! say so in red.
//! Must not depend on: the api server or any other service crate.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use portos_auth::Owner;
use serde::Deserialize;

/// The cookie that carries a browser session (the api server reads it too).
pub const SESSION_COOKIE: &str = "portos_session";

/// Who a request comes from, for what belongs to one login (a shell
/// session): `session:<digest prefix>` for a browser session, `token` for the
/// owner token, `open` with `PORTOS_AUTH=off`. Put in the request's
/// extensions by the gates that checked the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login(pub String);

/// The header a page server names its visitor's login in when it calls the
/// api server with the internal token; trusted only with that token, and
/// never passed on from a browser.
pub const LOGIN_HEADER: &str = "x-portos-login";

/// The login of a request's session cookie, if it is an open session.
pub fn login_of(owner: &Owner, headers: &HeaderMap) -> Option<Login> {
    cookie(headers, SESSION_COOKIE)
        .and_then(|id| owner.login_of(id))
        .map(Login)
}

/// Failed logins per address, and how long an address that keeps failing
/// waits: five are free, then 2, 4, … up to 64 seconds; a quiet quarter of
/// an hour forgives. `None` stands for an unknown address.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: std::sync::Mutex<std::collections::HashMap<Option<std::net::IpAddr>, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: std::time::Instant,
}

/// Failures an address may have before it waits.
const FREE_FAILURES: u32 = 5;

impl Throttle {
    /// Seconds `who` still waits, if it must.
    pub fn waiting(&self, who: Option<std::net::IpAddr>) -> Option<u64> {
        let f = *self.lock().get(&who)?;
        let over = f.count.checked_sub(FREE_FAILURES)?;
        let wait = std::time::Duration::from_secs(1u64 << over.min(6));
        wait.checked_sub(f.last.elapsed())
            .map(|left| left.as_secs().max(1))
    }

    /// One more failure of `who`.
    pub fn failed(&self, who: Option<std::net::IpAddr>) {
        let mut all = self.lock();
        let f = all.entry(who).or_insert(Failures {
            count: 0,
            last: std::time::Instant::now(),
        });
        if f.last.elapsed() > std::time::Duration::from_secs(900) {
            f.count = 0;
        }
        f.count += 1;
        f.last = std::time::Instant::now();
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<Option<std::net::IpAddr>, Failures>>
    {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The address a request came from, when the server records it.
pub fn peer(req: &Request) -> Option<std::net::IpAddr> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<portos_rt::tls::Peer>>()
        .map(|c| c.0.addr.ip())
}

/// Who may see the pages.
#[derive(Debug, Clone)]
pub struct Gate {
    /// `None`: auth is off (`PORTOS_AUTH=off`).
    owner: Option<Arc<Owner>>,
    /// Failed logins (a wrong token on `/login`).
    throttle: Arc<Throttle>,
}

/// Whether `PORTOS_AUTH=off` is set.
pub fn auth_off() -> bool {
    std::env::var("PORTOS_AUTH").is_ok_and(|v| v.eq_ignore_ascii_case("off"))
}

/// A value of the `Cookie` header by name.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The same-origin rule: the page's own origin, or a script's bearer without cookies.
pub fn same_origin_or_script(headers: &HeaderMap, https: bool) -> bool {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"same-origin")
    {
        return true;
    }
    let cookies = headers.contains_key(header::COOKIE);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.starts_with("Bearer "));
    if bearer && !cookies {
        return true;
    }
    match headers.get(header::ORIGIN) {
        Some(origin) => {
            let scheme = if https { "https" } else { "http" };
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default();
            origin.as_bytes() == format!("{scheme}://{host}").as_bytes()
        }
        // No Origin and no Sec-Fetch-Site: not a browser's request (every
        // current browser sends them); with a cookie, refused all the same.
        None => !cookies && !headers.contains_key("sec-fetch-site"),
    }
}

impl Gate {
    /// The owner of `PORTOS_DATA_DIR` (default `data`), or open with `PORTOS_AUTH=off`.
    pub fn from_env() -> Self {
        if auth_off() {
            return Self::new(None);
        }
        let data = std::path::PathBuf::from(portos_rt::env_or("PORTOS_DATA_DIR", "data"));
        Self::new(Some(Arc::new(Owner::new(&data))))
    }

    pub fn new(owner: Option<Arc<Owner>>) -> Self {
        Self {
            owner,
            throttle: Arc::default(),
        }
    }

    pub fn is_open(&self) -> bool {
        self.owner.is_none()
    }

    /// `/login`.
    pub fn routes(&self) -> Router {
        Router::new()
            .route("/login", get(login))
            .with_state(self.clone())
    }

    /// In front of everything but the login itself, the assets and the probe:
    /// pages answer the login page, the rest a 401.
    pub async fn check(State(gate): State<Gate>, mut req: Request, next: Next) -> Response {
        let login = match &gate.owner {
            None => Some(Login("open".into())),
            Some(owner) => login_of(owner, req.headers()),
        };
        let path = req.uri().path();
        let free = path == "/login" || path == "/healthz" || path.starts_with("/assets/");
        if let Some(login) = login {
            req.extensions_mut().insert(login);
            return next.run(req).await;
        }
        if free {
            return next.run(req).await;
        }
        if path.starts_with("/api/") || path == "/ws" || path == "/about" {
            let body = serde_json::json!({
                "error": "log in first: open the link `portos token` or `portos pair` prints on the machine",
                "code": "UNAUTHENTICATED",
            });
            return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
        }
        login_page(StatusCode::UNAUTHORIZED, None)
    }
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    token: Option<String>,
}

/// Whether the request came over https: on our own TLS, or as a TLS proxy in
/// front says.
pub fn https(extensions: &axum::http::Extensions, headers: &HeaderMap) -> bool {
    extensions
        .get::<axum::extract::ConnectInfo<portos_rt::tls::Peer>>()
        .is_some_and(|c| c.0.tls)
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes() == b"https")
}

async fn login(State(gate): State<Gate>, req: Request) -> Response {
    let Some(owner) = &gate.owner else {
        return redirect_home(None);
    };
    let who = peer(&req);
    let secure = https(req.extensions(), req.headers());
    let headers = req.headers().clone();
    let token = Query::<LoginQuery>::try_from_uri(req.uri())
        .ok()
        .and_then(|q| q.0.token)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return login_page(StatusCode::OK, None);
    };
    if let Some(secs) = gate.throttle.waiting(who) {
        let msg = format!("Too many wrong links from this address; try again in {secs} s.");
        return login_page(StatusCode::TOO_MANY_REQUESTS, Some(&msg));
    }
    if !owner.is_token(&token) {
        gate.throttle.failed(who);
        return login_page(
            StatusCode::UNAUTHORIZED,
            Some("That link is not (or no longer) valid. Get a fresh one on the machine."),
        );
    }
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match owner.open_session(agent) {
        Ok(id) => {
            let secure = if secure { "; Secure" } else { "" };
            let cookie = format!(
                "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000{secure}"
            );
            redirect_home(Some(cookie))
        }
        Err(e) => {
            tracing::error!("cannot open a session: {e}");
            login_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some("The session could not be saved; see the logs."),
            )
        }
    }
}

/// To the dashboard, without the token in the address.
fn redirect_home(cookie: Option<String>) -> Response {
    let mut resp = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    if let Some(v) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// The login page: how to get the link.
pub fn login_page(status: StatusCode, problem: Option<&str>) -> Response {
    let problem = problem
        .map(|p| format!("<p class=\"toast bad\" role=\"alert\">{p}</p>"))
        .unwrap_or_default();
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<title>Log in · PortOS</title>
<link rel="stylesheet" href="/assets/app.css">
</head>
<body data-page="login">
<main id="main" class="login">
<h1>PortOS</h1>
{problem}
<p>This PortOS belongs to one person. To log in, open the login link on this device:</p>
<ul>
<li>on the machine, run <code>portos pair</code> and scan its QR code with your phone, or</li>
<li>run <code>portos token</code> and open <code>http://&lt;this machine&gt;:5555/login?token=&lt;token&gt;</code>.</li>
</ul>
<p class="muted">The link sets a session on this browser; the token is not kept in the address.</p>
</main>
</body>
</html>
"#
    );
    (status, Html(html)).into_response()
}
