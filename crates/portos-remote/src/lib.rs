//! One JSON-over-HTTP exchange, shared by the clients of remote services
//! (Moltbook, Moltworld, JIRA): the request (path segments percent-encoded one
//! by one, query, JSON body, bearer token), the transport (a timeout on every
//! call; TLS through rustls, with a private CA when a self-hosted service has
//! one, never by switching verification off), and what came back told apart —
//! no answer, no answer in time, or an HTTP status with the remote's own
//! message and `Retry-After`. Each client maps a [`Failure`] onto its own error
//! enum. A call may go through a [`Limiter`] first: refused locally when over a
//! limit, and given back when it never reached the remote.
//!
//! A bearer token is never part of a [`Failure`], a log line or a `Debug` output.
//! Must not depend on: the api server, the supervisor, or any service crate.

use std::time::Duration;

use portos_ratelimit::{LimitError, Limiter, Refused};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

/// How a call ended when it did not end in a 2xx answer.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("not reachable: {0}")]
    Network(String),
    #[error("no answer within {}s", .0.as_secs())]
    Timeout(Duration),
    /// The remote answered with a non-2xx status.
    #[error("answered {status}: {message}")]
    Status {
        status: u16,
        /// The body's `error`/`message` (or `errorMessages[0]`), else `HTTP <status>`.
        message: String,
        /// From the `Retry-After` header (seconds), when present.
        retry_after: Option<Duration>,
        body: Value,
        headers: Box<HeaderMap>,
    },
    /// Refused here, before sending: which limit, and when it frees.
    #[error("not sent: {0}")]
    Limited(#[from] Refused),
    /// The rate-limit state could not be read or written; nothing was sent.
    #[error("the rate-limit state: {0}")]
    Store(#[from] portos_ratelimit::StoreError),
    /// A base URL or certificate that cannot be used.
    #[error("{0}")]
    Config(String),
}

impl Failure {
    /// A failure that says nothing about the remote having handled the call
    /// (it never arrived, or the remote broke): the call does not spend a quota.
    pub fn never_handled(&self) -> bool {
        matches!(
            self,
            Failure::Network(_)
                | Failure::Timeout(_)
                | Failure::Status {
                    status: 500..=599,
                    ..
                }
        )
    }

    /// The HTTP status, when the remote answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Failure::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<LimitError> for Failure {
    fn from(e: LimitError) -> Self {
        match e {
            LimitError::Refused(r) => r.into(),
            LimitError::Store(s) => s.into(),
        }
    }
}

/// One request: method, path segments below the base, query, JSON body, token.
#[derive(Clone)]
pub struct Call<'a> {
    pub method: Method,
    pub path: &'a [&'a str],
    pub query: Vec<(&'a str, String)>,
    pub body: Option<Value>,
    pub bearer: Option<&'a str>,
}

impl std::fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("bearer", &self.bearer.map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl<'a> Call<'a> {
    pub fn new(method: Method, path: &'a [&'a str]) -> Self {
        Call {
            method,
            path,
            query: Vec::new(),
            body: None,
            bearer: None,
        }
    }
    pub fn get(path: &'a [&'a str]) -> Self {
        Self::new(Method::GET, path)
    }
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    pub fn query(mut self, key: &'a str, value: impl ToString) -> Self {
        self.query.push((key, value.to_string()));
        self
    }
    pub fn bearer(mut self, token: Option<&'a str>) -> Self {
        self.bearer = token;
        self
    }
}

/// A remote service at one base URL.
#[derive(Debug, Clone)]
pub struct Remote {
    base: Url,
    http: reqwest::Client,
    timeout: Duration,
}

impl Remote {
    /// A client of `base` (`http://` or `https://`), every call bounded by
    /// `timeout`. With `ca_pem`, TLS trusts exactly the certificates in it (a
    /// self-hosted service's private CA) instead of the public roots.
    pub fn new(base: &str, timeout: Duration, ca_pem: Option<&[u8]>) -> Result<Self, Failure> {
        let base = Url::parse(base.trim_end_matches('/'))
            .map_err(|e| Failure::Config(format!("base URL {base:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Failure::Config(format!(
                "base URL {base}: only http and https are supported"
            )));
        }
        // Calls carry keys and tokens: no redirect is followed, so a
        // credential never reaches a host it was not saved for.
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)));
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| Failure::Config(format!("CA certificate: {e}")))?;
            if certs.is_empty() {
                return Err(Failure::Config(
                    "CA certificate: no PEM certificate found".into(),
                ));
            }
            builder = builder.tls_certs_only(certs);
        }
        let http = builder
            .build()
            .map_err(|e| Failure::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            base,
            http,
            timeout,
        })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `base` joined with `path`, each segment percent-encoded.
    pub fn url(&self, path: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty().extend(path);
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// A failure of the connection itself: no answer in time, or none at all.
    fn transport(&self, e: reqwest::Error) -> Failure {
        if e.is_timeout() {
            Failure::Timeout(self.timeout)
        } else {
            // The chain of sources says why (refused, TLS, DNS).
            let e = e.without_url();
            let mut text = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                text.push_str(": ");
                text.push_str(&s.to_string());
                src = s.source();
            }
            Failure::Network(text)
        }
    }

    /// Sends `call`; a 2xx answer's body as JSON (a body that is not JSON as a
    /// string, none as `null`).
    pub async fn send(&self, call: Call<'_>) -> Result<Value, Failure> {
        let mut req = self
            .http
            .request(call.method, self.url(call.path, &call.query))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(t) = call.bearer {
            req = req.bearer_auth(t);
        }
        if let Some(b) = &call.body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| self.transport(e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        if status == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        let text = resp.text().await.map_err(|e| self.transport(e))?;
        let body: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok(body);
        }
        let message = body
            .get("error")
            .or_else(|| body.get("message"))
            .or_else(|| body.pointer("/errorMessages/0"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Err(Failure::Status {
            status: status.as_u16(),
            message,
            retry_after,
            body,
            headers: Box::new(headers),
        })
    }

    /// Sends `call` as `action` of `scope` under `limiter`: refused here when
    /// over a limit; given back when it never reached the remote; a 429 moves
    /// the local limit to the remote's wait (`retry_after` reads it from the
    /// failure, header or body as the platform puts it).
    pub async fn send_limited(
        &self,
        limiter: &Limiter,
        scope: &str,
        action: &str,
        call: Call<'_>,
        retry_after: impl Fn(&Failure) -> Option<Duration>,
    ) -> Result<Value, Failure> {
        let reservation = limiter.acquire(scope, action)?;
        let result = self.send(call).await;
        if let Err(f) = &result {
            if f.never_handled() {
                if let Some(r) = reservation {
                    limiter.release(r)?;
                }
            } else if f.status() == Some(429) {
                limiter.sync_from_remote(scope, action, retry_after(f))?;
            }
        }
        result
    }
}
