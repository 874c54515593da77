//! The api server in-process on port 0, over a temp copy of a data dir in the
//! original's format, driven by real clients (reqwest, tokio-tungstenite).

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use portos_api::guard::{Access, HostPolicy};
use portos_api::{AppState, guarded, router};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

struct Server {
    /// The owner token of this server's data dir; `http` sends it.
    token: String,
    base: String,
    addr: std::net::SocketAddr,
    data: tempfile::TempDir,
    state: AppState,
    http: reqwest::Client,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A data dir in the original's format, with an owner token made for it.
fn fixture_data() -> (tempfile::TempDir, Access, String) {
    let data = tempfile::tempdir().unwrap();
    copy_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data"),
        data.path(),
    );
    let owner = portos_auth::Owner::new(data.path());
    let token = owner.ensure_token().unwrap();
    (
        data,
        Access::new(Some(std::sync::Arc::new(owner)), None),
        token,
    )
}

/// A client that sends `token` as its bearer, as a script would.
fn client_with(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .no_proxy()
        .default_headers(headers)
        .build()
        .unwrap()
}

async fn start() -> Server {
    let (data, access, token) = fixture_data();
    let state = AppState::new(
        data.path().to_path_buf(),
        HostPolicy::new(Vec::new()),
        access,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = guarded(&state, router(state.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server {
        http: client_with(&token),
        token,
        base: format!("http://{addr}"),
        addr,
        data,
        state,
    }
}

impl Server {
    async fn get(&self, path: &str) -> (u16, Value) {
        answer(self.http.get(format!("{}{path}", self.base))).await
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&str>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        answer(req).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    async fn post(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, None).await
    }

    async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(&body.to_string()))
            .await
    }

    async fn ws(
        &self,
    ) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>
    {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("ws://{}/ws", self.addr)
            .into_client_request()
            .unwrap();
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {}", self.token).parse().unwrap(),
        );
        let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        ws
    }
}

/// A request's status and JSON body (null when it has none), checked
/// against the OpenAPI document ([`conformance::document`]).
async fn answer(req: reqwest::RequestBuilder) -> (u16, Value) {
    let (client, req) = req.build_split();
    let req = req.unwrap();
    let (method, path) = (req.method().to_string(), req.url().path().to_string());
    let r = client.execute(req).await.unwrap();
    let status = r.status().as_u16();
    let body = r.json::<Value>().await.ok();
    conformance::document().check(&method, &path, status, body.as_ref());
    (status, body.unwrap_or(Value::Null))
}

/// `method path` with the owner's session cookie, sent as another site's
/// page would send it: the status and body.
async fn from_another_site(
    s: &Server,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
) -> (u16, Value) {
    let id = portos_auth::Owner::new(s.data.path())
        .open_session("test")
        .unwrap();
    let mut req = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .request(method, format!("{}{path}", s.base))
        .header("cookie", format!("portos_session={id}"))
        .header("origin", "http://evil.example")
        .header("sec-fetch-site", "cross-site");
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    answer(req).await
}

fn assert_error_shape(body: &Value, code: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert!(body["timestamp"].as_u64().is_some(), "{body}");
}

mod history_settings_events;
#[allow(unused_imports)]
pub(crate) use history_settings_events::*;
mod files_grpc;
mod git_ports;
#[allow(unused_imports)]
pub(crate) use files_grpc::*;
mod openapi_apps_providers;
#[allow(unused_imports)]
pub(crate) use openapi_apps_providers::*;
mod updates_detection;
#[allow(unused_imports)]
pub(crate) use updates_detection::*;
mod access;
mod brain;
mod commands;
mod conformance;
mod cos;
mod documented;
mod holes;
mod instances;
mod notifications;
mod panics;
mod usage;
