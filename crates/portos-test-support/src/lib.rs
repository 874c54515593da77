//! Test helpers, for `[dev-dependencies]` only: a fake of a remote HTTP service
//! on 127.0.0.1 that records every request it gets (so a test can show that a
//! call was — or was not — sent), served plain or over TLS with a certificate
//! from a private CA made on the spot; and [`openapi`], answers checked
//! against an OpenAPI document.
//!
//! Must not depend on: any crate of ours (it is below them all).

pub mod openapi;

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde_json::Value;

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub method: Method,
    /// The path as sent (percent-encoding kept).
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    /// The JSON body (`null` when empty, a string when not JSON).
    pub body: Value,
}

impl Incoming {
    /// `METHOD /path?query body`, the line a test compares.
    pub fn line(&self, strip_prefix: &str) -> String {
        let path = self.path.strip_prefix(strip_prefix).unwrap_or(&self.path);
        let query = self
            .query
            .as_ref()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let body = if self.body.is_null() {
            String::new()
        } else {
            format!(" {}", self.body)
        };
        format!("{} {path}{query}{body}", self.method)
    }

    /// The bearer token, if any.
    pub fn bearer(&self) -> Option<&str> {
        self.headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
    }
}

/// What reached the fake.
#[derive(Debug, Default)]
pub struct Seen {
    requests: Mutex<Vec<Incoming>>,
    hits: AtomicUsize,
}

impl Seen {
    /// How many requests arrived.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
    /// Every request so far, as [`Incoming::line`]s.
    pub fn lines(&self, strip_prefix: &str) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| r.line(strip_prefix))
            .collect()
    }
    pub fn requests(&self) -> Vec<Incoming> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A running fake.
#[derive(Debug)]
pub struct Fake {
    pub seen: std::sync::Arc<Seen>,
    pub addr: SocketAddr,
}

fn app<F, Fut>(seen: std::sync::Arc<Seen>, handler: F) -> Router
where
    F: Fn(Incoming) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    Router::new().fallback(move |req: Request| {
        let seen = seen.clone();
        let handler = handler.clone();
        async move {
            seen.hits.fetch_add(1, Ordering::SeqCst);
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
            };
            let incoming = Incoming {
                method: parts.method,
                path: parts.uri.path().to_string(),
                query: parts.uri.query().map(str::to_string),
                headers: parts.headers,
                body,
            };
            seen.requests
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(incoming.clone());
            handler(incoming).await
        }
    })
}

/// Serves `handler` on 127.0.0.1 (a free port), recording each request.
pub async fn serve<F, Fut>(handler: F) -> Fake
where
    F: Fn(Incoming) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let seen = std::sync::Arc::new(Seen::default());
    let router = app(seen.clone(), handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Fake { seen, addr }
}

/// A private CA and a server certificate it signed for `localhost` and 127.0.0.1.
#[derive(Debug)]
pub struct PrivateCa {
    /// The CA's certificate, PEM: what a client must trust.
    pub ca_pem: String,
    /// The server's certificate and key, PEM (for a server under test).
    pub cert_pem: String,
    pub key_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

impl PrivateCa {
    pub fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "PortOS test private CA");
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
        Self {
            ca_pem: ca_cert.pem(),
            cert_pem: leaf_cert.pem(),
            key_pem: leaf_key.serialize_pem(),
            cert_der: leaf_cert.der().to_vec(),
            key_der: leaf_key.serialize_der(),
        }
    }
}

impl Default for PrivateCa {
    fn default() -> Self {
        Self::new()
    }
}

/// Serves `handler` over TLS on 127.0.0.1 with a certificate from `ca`.
pub async fn serve_tls<F, Fut>(ca: &PrivateCa, handler: F) -> Fake
where
    F: Fn(Incoming) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(ca.cert_der.clone())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ca.key_der.clone())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let seen = std::sync::Arc::new(Seen::default());
    let router = app(seen.clone(), handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                // A client that refuses our certificate ends here.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper_util::service::TowerToHyperService::new(router);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    Fake { seen, addr }
}

/// Runs `git ARGS` in `dir` as a fixed author (no global config needed) and
/// returns its stdout; panics with the arguments when git fails.
pub fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "T")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "T")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
