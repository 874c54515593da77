//! Health probes: one attempt each, bounded by a timeout, answering `Ok` or the
//! reason the process is not healthy, in words a person can act on.

use std::time::Duration;

use portos_config::HealthCheck;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// Probes sharing one HTTP client.
#[derive(Debug, Clone)]
pub struct Prober {
    http: reqwest::Client,
}

impl Default for Prober {
    fn default() -> Self {
        Self {
            http: reqwest::Client::builder()
                .no_proxy()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap_or_default(),
        }
    }
}

impl Prober {
    /// One probe. `Ok(())` is healthy; `Err` carries the reason.
    pub async fn probe(&self, check: &HealthCheck, timeout: Duration) -> Result<(), String> {
        match tokio::time::timeout(timeout, self.attempt(check)).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "health probe timed out after {}",
                humantime::format_duration(timeout)
            )),
        }
    }

    async fn attempt(&self, check: &HealthCheck) -> Result<(), String> {
        match check {
            HealthCheck::None => Ok(()),
            HealthCheck::Tcp { port } => tokio::net::TcpStream::connect(("127.0.0.1", *port))
                .await
                .map(drop)
                .map_err(|e| format!("tcp 127.0.0.1:{port}: {e}")),
            HealthCheck::Http { port, path } => {
                let url = format!("http://127.0.0.1:{port}{path}");
                let resp = self.http.get(&url).send().await.map_err(|e| {
                    let e = std::error::Error::source(&e)
                        .map(ToString::to_string)
                        .unwrap_or(e.to_string());
                    format!("GET {url}: {e}")
                })?;
                let status = resp.status();
                if status.is_success() {
                    return Ok(());
                }
                let body = resp.text().await.unwrap_or_default();
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
