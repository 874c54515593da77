//! `portos-browser`: the browser host. Keeps one headless Chromium running with
//! its DevTools protocol on `CDP_HOST:CDP_PORT` (127.0.0.1:5556) and answers health
//! and control on `HOST:PORT` (127.0.0.1:5557).
//!
//! Without Chromium installed it stays up and reports `NOT_SERVING` with the
//! reason (gRPC health, `/healthz`, `/health`) instead of crash-looping. A Chromium
//! that dies is launched again. Chromium gets a parent-death signal, so it never
//! outlives the host.
//! Must not depend on: the supervisor or any other service crate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::StatusCode;
use axum::routing::get;
use portos_rt::{App, Context, Readiness, RtError, ServiceInfo};
use serde_json::json;

const INFO: ServiceInfo = ServiceInfo {
    name: "portos-browser",
    description: "PortOS browser host: a persistent headless Chromium",
    default_host: "127.0.0.1",
    default_port: 5557,
};

/// How long Chromium may take to answer `/json/version` after launch.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause before launching again after Chromium died or failed to start.
const RELAUNCH_DELAY: Duration = Duration::from_secs(2);

#[derive(Clone, Debug)]
struct Settings {
    cdp_host: String,
    cdp_port: u16,
    headless: bool,
    profile_dir: PathBuf,
}

impl Settings {
    fn from_env() -> Result<Self, RtError> {
        let data_dir = PathBuf::from(portos_rt::env_or("PORTOS_DATA_DIR", "data"));
        Ok(Self {
            cdp_host: portos_rt::env_or("CDP_HOST", "127.0.0.1"),
            cdp_port: portos_rt::env_port("CDP_PORT", 5556)?,
            headless: portos_rt::env_or("BROWSER_HEADLESS", "true") != "false",
            profile_dir: std::env::var_os("BROWSER_USER_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("browser-profile")),
        })
    }

    fn cdp_endpoint(&self) -> String {
        format!("http://{}:{}", self.cdp_host, self.cdp_port)
    }
}

fn main() -> ExitCode {
    portos_rt::main(INFO, |ctx| async move {
        let settings = Settings::from_env()?;
        ctx.readiness.set_not_serving("launching Chromium").await;
        tokio::spawn(keep_chromium(settings.clone(), ctx.clone()));
        let health = {
            let s = settings.clone();
            let r = ctx.readiness.clone();
            move || original_health(s.clone(), r.clone())
        };
        Ok(App {
            rest: axum::Router::new().route("/health", get(health)),
            ..App::default()
        })
    })
}

/// The original's `GET /health`: 200 `healthy` or 503 `unhealthy`, with the CDP facts.
async fn original_health(
    s: Settings,
    readiness: Readiness,
) -> (StatusCode, Json<serde_json::Value>) {
    let reason = readiness.not_serving_reason();
    let code = if reason.is_none() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({
            "status": if reason.is_none() { "healthy" } else { "unhealthy" },
            "reason": reason,
            "cdpPort": s.cdp_port,
            "cdpHost": s.cdp_host,
            "cdpEndpoint": s.cdp_endpoint(),
            "headless": s.headless,
        })),
    )
}

/// Finds the Chromium binary: `CHROME_PATH`, else the usual names on `PATH`.
fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROME_PATH") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|p| p.is_file())
}

/// Launches Chromium and keeps it running until shutdown, keeping readiness true to it.
async fn keep_chromium(s: Settings, ctx: Context) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .unwrap_or_default();
    loop {
        if ctx.shutdown.is_cancelled() {
            return;
        }
        if cdp_version(&http, &s).await.is_some() {
            tracing::info!(endpoint = %s.cdp_endpoint(), "reusing the Chromium already answering on the CDP port");
            ctx.readiness.set_serving().await;
            watch_foreign(&http, &s, &ctx).await;
            continue;
        }
        let Some(binary) = find_chromium() else {
            ctx.readiness
                .set_not_serving(
                    "Chromium not found: install the `chromium` package or set CHROME_PATH to a Chrome/Chromium binary",
                )
                .await;
            wait_or_stop(&ctx, Duration::from_secs(30)).await;
            continue;
        };
        match launch(&binary, &s) {
            Err(e) => {
                ctx.readiness
                    .set_not_serving(format!("cannot start {}: {e}", binary.display()))
                    .await;
            }
            Ok(mut child) => {
                let started = Instant::now();
                let mut ready = false;
                while started.elapsed() < LAUNCH_TIMEOUT && !ctx.shutdown.is_cancelled() {
                    if let Ok(Some(status)) = child.try_wait() {
                        ctx.readiness
                            .set_not_serving(format!("Chromium exited during launch ({status})"))
                            .await;
                        break;
                    }
                    if let Some(v) = cdp_version(&http, &s).await {
                        tracing::info!(browser = %v, endpoint = %s.cdp_endpoint(), "Chromium ready");
                        ready = true;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                if ready {
                    ctx.readiness.set_serving().await;
                    tokio::select! {
                        status = child.wait() => {
                            let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                            ctx.readiness.set_not_serving(format!("Chromium exited ({status}); relaunching")).await;
                        }
                        () = ctx.shutdown.cancelled() => {}
                    }
                } else if !ctx.shutdown.is_cancelled()
                    && ctx.readiness.not_serving_reason().is_some()
                {
                    ctx.readiness
                        .set_not_serving(format!(
                            "Chromium did not answer on {} within {}s",
                            s.cdp_endpoint(),
                            LAUNCH_TIMEOUT.as_secs()
                        ))
                        .await;
                }
                stop_child(&mut child).await;
            }
        }
        wait_or_stop(&ctx, RELAUNCH_DELAY).await;
    }
}

/// Watches a Chromium we did not start until it stops answering.
async fn watch_foreign(http: &reqwest::Client, s: &Settings, ctx: &Context) {
    loop {
        wait_or_stop(ctx, Duration::from_secs(2)).await;
        if ctx.shutdown.is_cancelled() {
            return;
        }
        if cdp_version(http, s).await.is_none() {
            ctx.readiness
                .set_not_serving("the reused Chromium stopped answering")
                .await;
            return;
        }
    }
}

async fn wait_or_stop(ctx: &Context, d: Duration) {
    tokio::select! {
        () = tokio::time::sleep(d) => {}
        () = ctx.shutdown.cancelled() => {}
    }
}

fn launch(binary: &Path, s: &Settings) -> std::io::Result<tokio::process::Child> {
    std::fs::create_dir_all(&s.profile_dir)?;
    let mut cmd = std::process::Command::new(binary);
    if s.headless {
        cmd.arg("--headless=new");
    }
    if nix::unistd::geteuid().is_root() {
        // Chromium refuses to run as root with its sandbox on.
        cmd.arg("--no-sandbox");
    }
    cmd.arg(format!("--remote-debugging-port={}", s.cdp_port))
        .arg(format!("--remote-debugging-address={}", s.cdp_host))
        .arg(format!("--user-data-dir={}", s.profile_dir.display()))
        .args([
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-background-timer-throttling",
            "--disable-backgrounding-occluded-windows",
            "--disable-renderer-backgrounding",
            "about:blank",
        ])
        .stdin(std::process::Stdio::null());
    portos_rt::child::die_with_parent(&mut cmd, nix::sys::signal::Signal::SIGKILL, false);
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    tracing::info!(binary = %binary.display(), "launching Chromium");
    cmd.spawn()
}

async fn stop_child(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let pid = nix::unistd::Pid::from_raw(pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        if tokio::time::timeout(Duration::from_secs(3), child.wait())
            .await
            .is_ok()
        {
            return;
        }
    }
    let _ = child.kill().await;
}

async fn cdp_version(http: &reqwest::Client, s: &Settings) -> Option<String> {
    let v: serde_json::Value = http
        .get(format!("{}/json/version", s.cdp_endpoint()))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    v.get("Browser")
        .and_then(|b| b.as_str())
        .map(str::to_string)
}
