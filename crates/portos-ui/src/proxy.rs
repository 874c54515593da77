//! `/api/*` and `/ws` passed through to the api server, bodies streamed both
//! ways. A request that changes something must come from a page of this UI
//! (its `Origin`, when sent, names the host it was sent to), so another site
//! open in the same browser cannot act through the UI server.

use axum::body::Body;
use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as Up;

/// The api server behind the UI. Having checked its visitor's session and
/// origin itself, the UI server calls it with the internal token, and never
/// passes the browser's cookies on.
#[derive(Clone, Debug)]
pub struct Upstream {
    base: String,
    http: reqwest::Client,
    bearer: Option<String>,
}

impl Upstream {
    /// `base`: `http://127.0.0.1:5554`; `internal`: the internal token.
    pub fn new(base: String, internal: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(std::time::Duration::from_secs(2))
            .build()
            .unwrap_or_default();
        Self {
            base: base.trim_end_matches('/').to_string(),
            http,
            bearer: internal.map(|t| format!("Bearer {t}")),
        }
    }
}

/// Headers that belong to one connection (or to the browser's credentials),
/// never passed on.
const HOP: [&str; 11] = [
    "cookie",
    portos_login::LOGIN_HEADER,
    "authorization",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "host",
];

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        axum::Json(json!({ "error": message, "code": code })),
    )
        .into_response()
}

/// The same-origin rule of `portos_login`, for this connection's scheme.
fn same_origin(extensions: &axum::http::Extensions, headers: &HeaderMap) -> bool {
    portos_login::same_origin_or_script(headers, portos_login::https(extensions, headers))
}

pub async fn http(State(up): State<Upstream>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
        && !same_origin(&parts.extensions, &parts.headers)
    {
        return error(
            StatusCode::FORBIDDEN,
            "CROSS_ORIGIN",
            "requests that change something must come from this UI's own pages".into(),
        );
    }
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut out = up
        .http
        .request(parts.method.clone(), format!("{}{path}", up.base))
        .body(reqwest::Body::wrap_stream(body.into_data_stream()));
    for (k, v) in &parts.headers {
        if !HOP.contains(&k.as_str()) && k != header::ORIGIN {
            out = out.header(k, v);
        }
    }
    if let Some(b) = &up.bearer {
        out = out.header(header::AUTHORIZATION, b);
    }
    if let Some(l) = parts.extensions.get::<portos_login::Login>() {
        out = out.header(portos_login::LOGIN_HEADER, &l.0);
    }
    match out.send().await {
        Ok(r) => {
            let mut resp = Response::builder().status(r.status());
            for (k, v) in r.headers() {
                if !HOP.contains(&k.as_str()) {
                    resp = resp.header(k, v);
                }
            }
            resp.body(Body::from_stream(r.bytes_stream()))
                .unwrap_or_else(|e| {
                    error(StatusCode::BAD_GATEWAY, "API_UNREACHABLE", e.to_string())
                })
        }
        Err(e) => error(
            StatusCode::BAD_GATEWAY,
            "API_UNREACHABLE",
            format!(
                "the api server does not answer at {}: {}",
                up.base,
                e.without_url()
            ),
        ),
    }
}

pub async fn ws(State(up): State<Upstream>, upgrade: WebSocketUpgrade, req: Request) -> Response {
    if !same_origin(req.extensions(), req.headers()) {
        return error(
            StatusCode::FORBIDDEN,
            "CROSS_ORIGIN",
            "the live socket is for this UI's own pages".into(),
        );
    }
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let url = format!("{}/ws{query}", up.base.replacen("http", "ws", 1));
    // A message over 1 MiB closes the socket (the api server's own limit is lower).
    let bearer = up.bearer.clone();
    // The visitor's login, so what belongs to it (a shell) stays its own.
    let login = req.extensions().get::<portos_login::Login>().cloned();
    upgrade
        .max_message_size(1 << 20)
        .max_frame_size(1 << 20)
        .on_upgrade(move |client| bridge(client, url, bearer, login))
}

/// Joins the browser's socket to one of the api server's, until either ends.
async fn bridge(
    mut client: WebSocket,
    url: String,
    bearer: Option<String>,
    login: Option<portos_login::Login>,
) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let Ok(mut request) = url.as_str().into_client_request() else {
        return;
    };
    if let Some(b) = bearer.as_deref().and_then(|b| b.parse().ok()) {
        request.headers_mut().insert(header::AUTHORIZATION, b);
    }
    if let Some(l) = login.and_then(|l| l.0.parse().ok()) {
        request.headers_mut().insert(portos_login::LOGIN_HEADER, l);
    }
    let upstream = match tokio_tungstenite::connect_async_with_config(request, None, true).await {
        Ok((s, _)) => s,
        Err(e) => {
            tracing::debug!(error = %e, "api server socket unreachable");
            let _ = client
                .send(ws::Message::Close(Some(ws::CloseFrame {
                    code: 1013,
                    reason: "the api server is not answering".into(),
                })))
                .await;
            return;
        }
    };
    let (mut up_tx, mut up_rx) = upstream.split();
    let (mut down_tx, mut down_rx) = client.split();
    let to_api = async {
        while let Some(Ok(m)) = down_rx.next().await {
            let m = match m {
                ws::Message::Text(t) => Up::Text(t.as_str().into()),
                ws::Message::Binary(b) => Up::Binary(b),
                ws::Message::Ping(p) => Up::Ping(p),
                ws::Message::Pong(p) => Up::Pong(p),
                ws::Message::Close(_) => break,
            };
            if up_tx.send(m).await.is_err() {
                break;
            }
        }
        let _ = up_tx.close().await;
    };
    let to_browser = async {
        while let Some(Ok(m)) = up_rx.next().await {
            let m = match m {
                Up::Text(t) => ws::Message::Text(t.as_str().into()),
                Up::Binary(b) => ws::Message::Binary(b),
                Up::Ping(p) => ws::Message::Ping(p),
                Up::Pong(p) => ws::Message::Pong(p),
                Up::Close(f) => ws::Message::Close(f.map(|f| ws::CloseFrame {
                    code: f.code.into(),
                    reason: f.reason.as_str().into(),
                })),
                Up::Frame(_) => continue,
            };
            if down_tx.send(m).await.is_err() {
                break;
            }
        }
        let _ = down_tx
            .send(ws::Message::Close(Some(ws::CloseFrame {
                code: 1012,
                reason: "the api server went away".into(),
            })))
            .await;
    };
    tokio::select! {
        () = to_api => {}
        () = to_browser => {}
    }
}
