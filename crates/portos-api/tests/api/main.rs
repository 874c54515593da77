//! The api server in-process on port 0, over a temp copy of a data dir in the
//! original's format, driven by real clients (reqwest, tokio-tungstenite).

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use portos_api::guard::{HostPolicy, TokenPolicy};
use portos_api::{AppState, guarded, router};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

struct Server {
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

async fn start() -> Server {
    start_with(TokenPolicy::default()).await
}

async fn start_with(tokens: TokenPolicy) -> Server {
    let data = tempfile::tempdir().unwrap();
    copy_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data"),
        data.path(),
    );
    let state = AppState::new(
        data.path().to_path_buf(),
        HostPolicy::new(Vec::new()),
        tokens,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = guarded(&state, router(state.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server {
        base: format!("http://{addr}"),
        addr,
        data,
        state,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    }
}

impl Server {
    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&str>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
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
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", self.addr))
            .await
            .unwrap();
        ws
    }
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
#[allow(unused_imports)]
pub(crate) use files_grpc::*;
mod openapi_apps_providers;
#[allow(unused_imports)]
pub(crate) use openapi_apps_providers::*;
mod updates_detection;
#[allow(unused_imports)]
pub(crate) use updates_detection::*;
mod holes;
