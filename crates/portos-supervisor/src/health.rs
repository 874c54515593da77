//! Health probes: one attempt each, bounded by a timeout, answering `Ok` or the
//! reason the process is not healthy, in words a person can act on.

use std::time::Duration;

use portos_config::HealthCheck;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// One probe, on a connection of its own. `Ok(())` is healthy; `Err` carries the reason.
pub async fn probe(check: &HealthCheck, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, attempt(check)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "health probe timed out after {}",
            humantime::format_duration(timeout)
        )),
    }
}

async fn attempt(check: &HealthCheck) -> Result<(), String> {
    match check {
        HealthCheck::None => Ok(()),
        HealthCheck::Tcp { port } => tokio::net::TcpStream::connect(("127.0.0.1", *port))
            .await
            .map(drop)
            .map_err(|e| format!("tcp 127.0.0.1:{port}: {e}")),
        HealthCheck::Http { port, path } => {
            let url = format!("http://127.0.0.1:{port}{path}");
            let (status, body) = http_get(*port, path)
                .await
                .map_err(|e| format!("GET {url}: {e}"))?;
            if status.is_success() {
                return Ok(());
            }
            Err(reason_from_body(&body).unwrap_or_else(|| format!("GET {url}: {status}")))
        }
        HealthCheck::Grpc { port, service } => {
            let endpoint =
                tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
                    .map_err(|e| e.to_string())?;
            let channel = endpoint
                .connect()
                .await
                .map_err(|e| format!("grpc 127.0.0.1:{port}: {}", source_text(&e)))?;
            let resp = HealthClient::new(channel)
                .check(HealthCheckRequest {
                    service: service.clone(),
                })
                .await
                .map_err(|s| format!("grpc health: {} {}", s.code(), s.message()))?;
            match resp.into_inner().status() {
                ServingStatus::Serving => Ok(()),
                other => Err(format!("grpc health: {}", other.as_str_name())),
            }
        }
    }
}

/// One HTTP/1.1 GET on a fresh loopback connection: status and body (first 64 KiB).
async fn http_get(port: u16, path: &str) -> Result<(hyper::StatusCode, String), String> {
    use http_body_util::BodyExt;
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, format!("127.0.0.1:{port}"))
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = http_body_util::Limited::new(resp.into_body(), 64 << 10)
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    conn.abort();
    Ok((status, body))
}

/// A JSON body's `reason` (our `/healthz`) or `error`, else the body's first line.
fn reason_from_body(body: &str) -> Option<String> {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body)
        && let Some(r) = ["reason", "error"].iter().find_map(|k| v.get(k)?.as_str())
    {
        return Some(r.to_string());
    }
    body.lines()
        .next()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.chars().take(300).collect())
}

fn source_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        last = s.to_string();
        cur = s.source();
    }
    last
}
