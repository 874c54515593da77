//! A small client of the api server for the tests: JSON in, status and JSON out.

use serde_json::Value;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Api {
    pub base: String,
    http: reqwest::Client,
    token: String,
}

impl Api {
    /// The api server on `port`, called as a script with the owner `token`.
    pub fn new(port: u16, token: &str) -> Self {
        let auth = [(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        )]
        .into_iter()
        .collect();
        Api {
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .no_proxy()
                .default_headers(auth)
                .build()
                .unwrap(),
            token: token.to_string(),
        }
    }

    /// The owner token this client calls with.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Any request, or why it got no answer (for a server being killed).
    pub async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.map_err(|e| e.to_string())?;
        Ok((r.status().as_u16(), r.json().await.unwrap_or(Value::Null)))
    }

    /// Any request; (status, JSON body or null).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.try_call(method, path, body).await.unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    /// A GET that must succeed; its JSON.
    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, path, None).await;
        assert!(status < 400, "GET {path}: {status} {body}");
        body
    }

    pub async fn text(&self, path: &str) -> String {
        String::from_utf8_lossy(&self.bytes(path).await.1).into_owned()
    }

    /// A GET's status and raw bytes.
    pub async fn bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
    }

    pub async fn ws(&self) -> Ws {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = self.base.replacen("http://", "ws://", 1) + "/ws";
        let mut req = url.into_client_request().unwrap();
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {}", self.token).parse().unwrap(),
        );
        tokio_tungstenite::connect_async(req).await.unwrap().0
    }
}
