//! `/api/browser`: the persistent Chromium of the browser host, asked over its
//! gRPC API (`portos.browser.v1`, 127.0.0.1:<healthPort>) — status, launch,
//! close, tabs, navigation, screenshots — plus its config file
//! (`browser-config.json`, read through the store's shared cache, so an edit
//! is seen on the next request) and its process and logs from the supervisor.
//! Better than the original: bad config and bad URLs are 400s naming the
//! field, only http(s) pages open, `processRunning` is true whenever the host
//! answers, and cookie values never leave the machine through this API.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use portos_proto::browser::v1 as pb;
use portos_store::types::{BrowserConfig, files};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_stream::StreamExt;

use crate::AppState;
use crate::error::ApiError;
use portos_apps::{AppAction, Supervisor};

use crate::routes::processes;

/// The supervisor's name for the browser host.
const PROCESS: &str = "portos-browser";

async fn config(app: &AppState) -> Result<BrowserConfig, ApiError> {
    Ok((*app
        .store
        .load_shared::<BrowserConfig>(files::BROWSER_CONFIG)
        .await?)
        .clone())
}

/// Where the host listens: `PORTOS_BROWSER_URL`, else the `portos-browser`
/// process's `health` port of the supervisor's table, else the config's
/// `healthPort` (outside a supervisor).
fn host_url(c: &BrowserConfig) -> String {
    portos_core::siblings::url(
        "PORTOS_BROWSER_URL",
        "portos-browser",
        "health",
        c.health_port,
    )
}

/// A client of the browser host.
async fn host(
    app: &AppState,
) -> Result<pb::browser_client::BrowserClient<portos_rt::internal::Authed>, ApiError> {
    let url = host_url(&config(app).await?);
    let channel = tonic::transport::Endpoint::from_shared(url.clone())
        .map_err(|e| ApiError::internal(format!("browser host address {url}: {e}")))?
        .connect_timeout(Duration::from_secs(2))
        // A page may take 30 s to load; the host answers by then.
        .timeout(Duration::from_secs(40))
        .connect()
        .await
        .map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "BROWSER_HOST_UNREACHABLE",
                format!("the browser host does not answer at {url} (is portos-browser running?)"),
            )
        })?;
    Ok(pb::browser_client::BrowserClient::with_interceptor(
        channel,
        portos_rt::internal::Auth::from_env(),
    ))
}

/// A browser host error as the api server's error.
fn host_error(s: tonic::Status) -> ApiError {
    use axum::http::StatusCode as H;
    let (status, code) = match s.code() {
        tonic::Code::InvalidArgument => (H::BAD_REQUEST, "VALIDATION_ERROR"),
        tonic::Code::NotFound => (H::NOT_FOUND, "NOT_FOUND"),
        tonic::Code::FailedPrecondition => (H::UNPROCESSABLE_ENTITY, "PAGE_ERROR"),
        tonic::Code::DeadlineExceeded => (H::GATEWAY_TIMEOUT, "BROWSER_TIMEOUT"),
        _ => (H::SERVICE_UNAVAILABLE, "BROWSER_UNAVAILABLE"),
    };
    ApiError::new(status, code, s.message().to_string())
}

/// The original's health object, from the host's status (or why it is unreachable).
async fn health(app: &AppState) -> Result<Value, ApiError> {
    let c = config(app).await?;
    // The ports the table gave the host, where there is a table.
    let health_port =
        portos_core::siblings::port("portos-browser", "health").unwrap_or(c.health_port);
    let cdp_port = portos_core::siblings::port("portos-browser", "cdp").unwrap_or(c.cdp_port);
    let status = match host(app).await {
        Ok(mut h) => h.status(pb::StatusRequest {}).await.map_err(host_error),
        Err(e) => Err(e),
    };
    Ok(match status {
        Ok(s) => {
            let s = s.into_inner();
            json!({
                "connected": s.serving,
                "processRunning": true,
                "cdpPort": s.cdp_port,
                "cdpHost": s.cdp_host,
                "healthPort": health_port,
                "cdpEndpoint": s.cdp_endpoint,
                "headless": s.headless,
                "status": if s.serving { "healthy" } else { "unhealthy" },
                "reason": (!s.serving).then_some(s.reason),
                "browser": s.version,
                "pid": (s.pid != 0).then_some(s.pid),
                "launches": s.launches,
                "closedByRequest": s.closed_by_request,
            })
        }
        Err(e) => json!({
            "connected": false,
            "processRunning": false,
            "cdpPort": cdp_port,
            "cdpHost": c.cdp_host,
            "healthPort": health_port,
            "cdpEndpoint": format!("ws://{}:{cdp_port}", c.cdp_host),
            "error": e.message,
        }),
    })
}

fn tab_json(t: pb::Tab, empty_title: &str) -> Value {
    json!({
        "id": t.id,
        "title": if t.title.is_empty() { empty_title.to_string() } else { t.title },
        "url": t.url,
        "type": t.r#type,
    })
}

/// `GET /api/browser/health`: `{ connected, processRunning, cdpPort, cdpHost, healthPort, cdpEndpoint, headless?, status?, reason?, error? }`.
#[utoipa::path(get, operation_id = "browserHealth", path = "/api/browser/health", tag = "browser", responses((status = 200, description = "the health object", body = crate::schemas::services::BrowserHealth)))]
pub async fn get_health(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(health(&app).await?))
}

/// `GET /api/browser`: health, process, pages, version and config in one answer.
#[utoipa::path(get, operation_id = "browserStatus", path = "/api/browser", tag = "browser", responses((status = 200, description = "`{ ...health, process, pages, pageCount, version, config }`", body = crate::schemas::services::BrowserStatus)))]
pub async fn full_status(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (health, process, pages, version, config) = tokio::join!(
        health(&app),
        process(&app),
        pages(&app),
        cdp_version(&app),
        config(&app)
    );
    let mut out = health?;
    let pages = pages.unwrap_or_default();
    out["process"] = process?;
    out["pageCount"] = json!(pages.len());
    out["pages"] = Value::Array(pages);
    out["version"] = version.unwrap_or(Value::Null);
    out["config"] = json!(config?);
    Ok(Json(out))
}

/// `GET /api/browser/config`.
#[utoipa::path(get, operation_id = "browserConfig", path = "/api/browser/config", tag = "browser", responses((status = 200, description = "the config, defaults filled in", body = portos_store::types::BrowserConfig)))]
pub async fn get_config(State(app): State<AppState>) -> Result<Json<BrowserConfig>, ApiError> {
    Ok(Json(config(&app).await?))
}

/// Checks one field of a config update and sets it.
fn apply(c: &mut BrowserConfig, key: &str, v: &Value) -> Result<(), String> {
    let port = |v: &Value| {
        v.as_u64()
            .filter(|p| (1024..=65535).contains(p))
            .map(|p| p as u16)
            .ok_or_else(|| format!("{key} must be an integer from 1024 to 65535"))
    };
    let flag = |v: &Value| {
        v.as_bool()
            .ok_or_else(|| format!("{key} must be true or false"))
    };
    let path = |v: &Value| {
        let s = v
            .as_str()
            .ok_or_else(|| format!("{key} must be a string"))?;
        if s.len() > 1024 || s.split(['/', '\\']).any(|part| part == "..") {
            return Err(format!(
                "{key} must not contain `..` (at most 1024 characters)"
            ));
        }
        if !s.is_empty() && !s.starts_with('/') {
            return Err(format!(
                "{key} must be an absolute path (or empty for the default)"
            ));
        }
        Ok(s.to_string())
    };
    match key {
        "cdpPort" => c.cdp_port = port(v)?,
        "healthPort" => c.health_port = port(v)?,
        "cdpHost" => match v.as_str() {
            Some(h @ ("127.0.0.1" | "localhost" | "::1")) => c.cdp_host = h.to_string(),
            _ => return Err("cdpHost must be 127.0.0.1, localhost or ::1 (loopback only)".into()),
        },
        "autoConnect" => c.auto_connect = flag(v)?,
        "headless" => c.headless = flag(v)?,
        "userDataDir" => c.user_data_dir = path(v)?,
        "chromePath" => {
            let p = path(v)?;
            if !p.is_empty() && !is_executable_file(std::path::Path::new(&p)) {
                return Err(format!("chromePath {p}: not an executable file"));
            }
            c.chrome_path = p;
        }
        // The original stripped keys it did not know; so do we.
        _ => {}
    }
    Ok(())
}

/// A regular file with an execute bit: what `chromePath` must name.
fn is_executable_file(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `PUT /api/browser/config`: any of `cdpPort, cdpHost, healthPort, autoConnect, headless, userDataDir, chromePath`; the saved config back. `headless`, `userDataDir` and `chromePath` apply at the next launch (`POST /api/browser/restart`).
#[utoipa::path(put, operation_id = "updateBrowserConfig", path = "/api/browser/config", tag = "browser", responses((status = 200, description = "the saved config", body = portos_store::types::BrowserConfig), (status = 400, description = "VALIDATION_ERROR naming the field")))]
pub async fn update_config(
    State(app): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<BrowserConfig>, ApiError> {
    let Value::Object(updates) = body else {
        return Err(ApiError::validation("the body must be a JSON object"));
    };
    let saved = app
        .store
        .update(files::BROWSER_CONFIG, |c: &mut BrowserConfig| {
            for (k, v) in &updates {
                apply(c, k, v)?;
            }
            Ok::<_, String>(c.clone())
        })
        .await?
        .map_err(ApiError::validation)?;
    Ok(Json(saved))
}

/// `POST /api/browser/launch`: Chromium started (the host too, through the supervisor, if it is not running); the health object.
#[utoipa::path(post, operation_id = "launchBrowser", path = "/api/browser/launch", tag = "browser", responses((status = 200, description = "the health object", body = crate::schemas::services::BrowserHealth), (status = 503, description = "the reason it cannot start")))]
pub async fn launch(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let mut h = match host(&app).await {
        Ok(h) => h,
        Err(_) => {
            app.supervisor.control(PROCESS, AppAction::Start).await?;
            wait_for_host(&app).await?
        }
    };
    h.launch(pb::LaunchRequest {}).await.map_err(host_error)?;
    Ok(Json(health(&app).await?))
}

async fn wait_for_host(
    app: &AppState,
) -> Result<pb::browser_client::BrowserClient<portos_rt::internal::Authed>, ApiError> {
    let started = std::time::Instant::now();
    loop {
        match host(app).await {
            Ok(h) => return Ok(h),
            Err(e) if started.elapsed() > Duration::from_secs(15) => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// `POST /api/browser/stop`: Chromium closed cleanly (its profile saved) and kept closed until a launch; the health object.
#[utoipa::path(post, operation_id = "stopBrowser", path = "/api/browser/stop", tag = "browser", responses((status = 200, description = "the health object", body = crate::schemas::services::BrowserHealth)))]
pub async fn stop(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    host(&app)
        .await?
        .close(pb::CloseRequest {})
        .await
        .map_err(host_error)?;
    Ok(Json(health(&app).await?))
}

/// `POST /api/browser/restart`: Chromium closed and launched again (config changes apply); the health object.
#[utoipa::path(post, operation_id = "restartBrowser", path = "/api/browser/restart", tag = "browser", responses((status = 200, description = "the health object", body = crate::schemas::services::BrowserHealth)))]
pub async fn restart(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let mut h = host(&app).await?;
    h.close(pb::CloseRequest {}).await.map_err(host_error)?;
    h.launch(pb::LaunchRequest {}).await.map_err(host_error)?;
    Ok(Json(health(&app).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NavigateBody {
    url: Option<Value>,
}

/// `POST /api/browser/navigate` `{ url }`: opens the page in a new tab; `{ id, title, url, type }`.
#[utoipa::path(post, operation_id = "navigateBrowser", path = "/api/browser/navigate", tag = "browser", responses((status = 200, description = "the new tab"), (status = 400, description = "not an http(s) URL"), (status = 503, description = "the browser is not running")))]
pub async fn navigate(
    State(app): State<AppState>,
    Json(body): Json<NavigateBody>,
) -> Result<Json<Value>, ApiError> {
    let url = match body.url {
        Some(Value::String(u)) if !u.trim().is_empty() => u,
        _ => {
            return Err(ApiError::validation(
                "url is required (an http or https URL)",
            ));
        }
    };
    let tab = host(&app)
        .await?
        .open_tab(pb::OpenTabRequest { url })
        .await
        .map_err(host_error)?
        .into_inner();
    Ok(Json(tab_json(tab, "(loading)")))
}

async fn pages(app: &AppState) -> Result<Vec<Value>, ApiError> {
    let tabs = host(app)
        .await?
        .list_tabs(pb::ListTabsRequest {})
        .await
        .map_err(host_error)?
        .into_inner()
        .tabs;
    Ok(tabs
        .into_iter()
        .map(|t| tab_json(t, "(untitled)"))
        .collect())
}

/// `GET /api/browser/pages`: the open tabs `[{ id, title, url, type }]` (`[]` when the browser is down).
#[utoipa::path(get, operation_id = "browserPages", path = "/api/browser/pages", tag = "browser", responses((status = 200, description = "the open tabs", body = Vec<crate::schemas::services::BrowserTab>)))]
pub async fn get_pages(State(app): State<AppState>) -> Json<Value> {
    Json(Value::Array(pages(&app).await.unwrap_or_default()))
}

/// `DELETE /api/browser/pages/:id`: closes a tab.
#[utoipa::path(delete, operation_id = "closeBrowserPage", path = "/api/browser/pages/{id}", tag = "browser", params(("id" = String, Path)), responses((status = 204, description = "closed"), (status = 404, description = "no such tab")))]
pub async fn close_page(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    host(&app)
        .await?
        .close_tab(pb::TabRequest { tab_id: id })
        .await
        .map_err(host_error)?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

async fn cdp_version(app: &AppState) -> Option<Value> {
    let url = format!("{}/json/version", host_url(&config(app).await.ok()?));
    let r = app
        .http
        .get(url)
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .ok()?;
    r.status().is_success().then_some(())?;
    r.json().await.ok()
}

/// `GET /api/browser/version`: Chromium's own `/json/version`.
#[utoipa::path(get, operation_id = "browserVersion", path = "/api/browser/version", tag = "browser", responses((status = 200, description = "Chromium's /json/version"), (status = 503, description = "Browser not reachable")))]
pub async fn version(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    cdp_version(&app).await.map(Json).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "BROWSER_UNAVAILABLE",
            "Browser not reachable",
        )
    })
}

async fn process(app: &AppState) -> Result<Value, ApiError> {
    let all = app.supervisor.list().await.unwrap_or_default();
    Ok(match all.iter().find(|p| p.name == PROCESS) {
        None => json!({ "exists": false, "status": "not_found", "pm2_id": Value::Null }),
        Some(p) => {
            let s = p.summary();
            json!({
                "exists": true,
                "status": s["status"],
                "state": s["state"],
                "pm2_id": Value::Null,
                "pid": s["pid"],
                "memory": s["memory"],
                "cpu": s["cpu"],
                "uptime": s["uptime"],
                "restarts": s["restarts"],
                "unstableRestarts": 0,
            })
        }
    })
}

/// `GET /api/browser/process`: the host's process as the supervisor sees it.
#[utoipa::path(get, operation_id = "browserProcess", path = "/api/browser/process", tag = "browser", responses((status = 200, description = "`{ exists, status, pid, memory, cpu, uptime, restarts }`", body = crate::schemas::services::BrowserProcess)))]
pub async fn get_process(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(process(&app).await?))
}

#[derive(Debug, Default, Deserialize)]
pub struct LinesQuery {
    lines: Option<String>,
}

/// `GET /api/browser/logs?lines=50`: `{ stdout, stderr }` of the host.
#[utoipa::path(get, operation_id = "browserLogs", path = "/api/browser/logs", tag = "browser", params(("lines" = Option<u32>, Query)), responses((status = 200, description = "`{ stdout, stderr }`", body = crate::schemas::system::BrowserLogs)))]
pub async fn logs(State(app): State<AppState>, Query(q): Query<LinesQuery>) -> Json<Value> {
    let lines = processes::lines_param(q.lines.as_deref(), 50);
    let (mut out, mut err) = (String::new(), String::new());
    // The original answered empty strings when PM2 failed; so do we.
    if let Ok(mut stream) = processes::log_tail(&app, PROCESS, lines).await {
        while let Some(Ok(l)) = stream.next().await {
            let to = if processes::stream_name(l.stream) == "stderr" {
                &mut err
            } else {
                &mut out
            };
            processes::push_line(to, &l);
        }
    }
    Json(json!({ "stdout": out, "stderr": err }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScreenshotBody {
    #[serde(default)]
    tab_id: String,
    #[serde(default)]
    full_page: bool,
    #[serde(default)]
    filename: String,
}

/// `POST /api/browser/screenshot` `{ tabId?, fullPage?, filename? }`: a PNG of a tab saved in `data/screenshots/` (listed by `/api/screenshots`); `{ filename, path, size, width, height, url, tab }`.
#[utoipa::path(post, operation_id = "browserScreenshot", path = "/api/browser/screenshot", tag = "browser", responses((status = 200, description = "the saved screenshot"), (status = 400, description = "a bad filename"), (status = 503, description = "the browser is not running")))]
pub async fn screenshot(
    State(app): State<AppState>,
    Json(body): Json<ScreenshotBody>,
) -> Result<Json<Value>, ApiError> {
    let shot = host(&app)
        .await?
        .screenshot(pb::ScreenshotRequest {
            tab_id: body.tab_id,
            full_page: body.full_page,
            filename: body.filename,
            include_data: false,
        })
        .await
        .map_err(host_error)?
        .into_inner();
    Ok(Json(json!({
        "filename": shot.filename,
        "path": shot.path,
        "size": shot.size,
        "width": shot.width,
        "height": shot.height,
        "url": format!("/api/screenshots/{}", shot.filename),
        "tab": shot.tab.map(|t| tab_json(t, "(untitled)")),
    })))
}

#[derive(Debug, Default, Deserialize)]
pub struct CookiesQuery {
    url: Option<String>,
}

/// `GET /api/browser/cookies?url=`: the profile's cookies (for one site with `url`), values withheld: `{ cookies: [{ name, domain, path, expires, httpOnly, secure, session, sameSite, valueLength }] }`.
#[utoipa::path(get, operation_id = "browserCookies", path = "/api/browser/cookies", tag = "browser", params(("url" = Option<String>, Query)), responses((status = 200, description = "the cookies, without their values")))]
pub async fn cookies(
    State(app): State<AppState>,
    Query(q): Query<CookiesQuery>,
) -> Result<Json<Value>, ApiError> {
    let cookies = host(&app)
        .await?
        .get_cookies(pb::GetCookiesRequest {
            urls: q.url.into_iter().collect(),
        })
        .await
        .map_err(host_error)?
        .into_inner()
        .cookies;
    let list: Vec<Value> = cookies
        .into_iter()
        .map(|c| {
            json!({
                "name": c.name,
                "domain": c.domain,
                "path": c.path,
                "expires": c.expires,
                "httpOnly": c.http_only,
                "secure": c.secure,
                "session": c.session,
                "sameSite": c.same_site,
                "valueLength": c.value.len(),
            })
        })
        .collect();
    Ok(Json(json!({ "cookies": list })))
}
