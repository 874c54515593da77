//! The host: keeps one Chromium running (or closed, when asked), connected
//! through chromiumoxide, and does what the control API asks of it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chromiumoxide::cdp::browser_protocol::browser::CloseParams;
use chromiumoxide::cdp::browser_protocol::network::{Cookie, CookieParam};
use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
use chromiumoxide::cdp::browser_protocol::target::{GetTargetsParams, TargetId};
use chromiumoxide::error::CdpError;
use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::{Browser, Page};
use futures_util::StreamExt;
use portos_rt::Readiness;
use portos_store::JsonStore;
use portos_store::types::BrowserConfig;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::chromium::{self, LaunchSpec};

/// How long Chromium may take to answer `/json/version` after launch.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(15);
/// Pause before launching again after Chromium died or failed to start.
const RELAUNCH_DELAY: Duration = Duration::from_secs(2);
/// How often the host looks again for a Chromium that is not installed.
const MISSING_RETRY: Duration = Duration::from_secs(30);
/// How long a page may take to load, a script to run, a screenshot to render.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a clean close may take before the process is signalled.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The not-serving reason after a Close.
const CLOSED: &str = "Chromium closed by request; Launch starts it again";

/// What went wrong with a browser call.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// Chromium is not running; the reason says why (not installed, closed, starting).
    #[error("the browser is not available: {0}")]
    Unavailable(String),
    #[error("no tab {0}")]
    NoTab(String),
    #[error("{0}")]
    Invalid(String),
    /// The page's script threw, or a navigation failed.
    #[error("{0}")]
    Page(String),
    #[error("timed out after {}s: {what}", PAGE_TIMEOUT.as_secs())]
    Timeout { what: &'static str },
    #[error("DevTools protocol: {0}")]
    Cdp(#[from] CdpError),
    #[error(transparent)]
    Store(#[from] portos_store::StoreError),
}

/// The host's settings from its environment.
#[derive(Clone, Debug)]
pub struct Settings {
    pub cdp_host: String,
    pub cdp_port: u16,
    /// The port of this host's own health and control server.
    pub health_port: u16,
    pub data_dir: PathBuf,
}

impl Settings {
    /// `ws://host:port`, as the original reported its endpoint.
    pub fn cdp_endpoint(&self) -> String {
        format!("ws://{}:{}", self.cdp_host, self.cdp_port)
    }

    pub fn cdp_http(&self) -> String {
        format!("http://{}:{}", self.cdp_host, self.cdp_port)
    }
}

/// What the host knows of the Chromium it runs.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub serving: bool,
    pub reason: String,
    pub headless: bool,
    pub version: String,
    pub pid: u32,
    pub launches: u32,
    pub binary: String,
    pub profile_dir: String,
    pub closed_by_request: bool,
}

#[derive(Default)]
struct State {
    pid: Option<u32>,
    launches: u32,
    version: String,
    binary: Option<PathBuf>,
    headless: bool,
    profile_dir: PathBuf,
    browser: Option<Arc<Browser>>,
}

/// A tab (page target).
#[derive(Clone, Debug, PartialEq)]
pub struct Tab {
    pub id: String,
    pub title: String,
    pub url: String,
    pub kind: String,
}

/// A saved screenshot.
#[derive(Debug)]
pub struct Shot {
    pub filename: String,
    pub path: PathBuf,
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub tab: Tab,
}

/// The browser host: one per process.
pub struct Host {
    pub settings: Settings,
    store: JsonStore,
    readiness: Readiness,
    state: Mutex<State>,
    /// Whether Chromium should run (false after a Close, until a Launch).
    wanted: watch::Sender<bool>,
    /// Wakes the keeper from a pause (a Launch retries a missing binary at once).
    poke: Notify,
    /// Launch attempts that ended (in success or not), so a Launch knows when
    /// the attempt it asked for has been made.
    attempts: AtomicU64,
    http: reqwest::Client,
}

impl Host {
    pub fn new(settings: Settings, readiness: Readiness) -> Arc<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .no_proxy()
            .build()
            .unwrap_or_default();
        Arc::new(Self {
            store: JsonStore::new(settings.data_dir.clone()),
            settings,
            readiness,
            state: Mutex::new(State::default()),
            wanted: watch::Sender::new(true),
            poke: Notify::new(),
            attempts: AtomicU64::new(0),
            http,
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn snapshot(&self) -> Snapshot {
        let reason = self.readiness.not_serving_reason();
        let s = self.state();
        Snapshot {
            serving: reason.is_none(),
            reason: reason.unwrap_or_default(),
            headless: s.headless,
            version: s.version.clone(),
            pid: s.pid.unwrap_or(0),
            launches: s.launches,
            binary: s
                .binary
                .as_ref()
                .map(|b| b.display().to_string())
                .unwrap_or_default(),
            profile_dir: s.profile_dir.display().to_string(),
            closed_by_request: !*self.wanted.borrow(),
        }
    }

    /// Chromium's own `/json/version`, when it answers.
    pub async fn cdp_version(&self) -> Option<serde_json::Value> {
        self.http
            .get(format!("{}/json/version", self.settings.cdp_http()))
            .send()
            .await
            .ok()?
            .error_for_status()
            .ok()?
            .json()
            .await
            .ok()
    }

    async fn config(&self) -> BrowserConfig {
        match self
            .store
            .load_opt::<BrowserConfig>("browser-config.json")
            .await
        {
            Ok(c) => c.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "browser-config.json unreadable; launching with the defaults");
                BrowserConfig::default()
            }
        }
    }

    /// Keeps Chromium running while it is wanted, until `shutdown`; closes it
    /// cleanly (profile flushed) on the way out.
    pub async fn keep(self: Arc<Self>, shutdown: CancellationToken) {
        let mut wanted = self.wanted.subscribe();
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            if !*wanted.borrow_and_update() {
                self.readiness.set_not_serving(CLOSED).await;
                tokio::select! {
                    _ = wanted.wait_for(|w| *w) => {}
                    () = shutdown.cancelled() => return,
                }
                continue;
            }
            if let Some(v) = self.cdp_version().await {
                self.adopt(v, &shutdown, &mut wanted).await;
                continue;
            }
            let pause = self.run_once(&shutdown, &mut wanted).await;
            self.attempts.fetch_add(1, Ordering::SeqCst);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.poke.notified() => {}
                () = shutdown.cancelled() => {}
            }
        }
    }

    /// Launches Chromium and holds it until it dies, is closed, or the host stops.
    /// Answers how long to wait before trying again.
    async fn run_once(
        &self,
        shutdown: &CancellationToken,
        wanted: &mut watch::Receiver<bool>,
    ) -> Duration {
        let config = self.config().await;
        let binary = match chromium::find(chromium::configured_binary(&config.chrome_path)) {
            Ok(b) => b,
            Err(reason) => {
                self.readiness.set_not_serving(reason).await;
                return MISSING_RETRY;
            }
        };
        let spec = LaunchSpec {
            binary,
            cdp_host: self.settings.cdp_host.clone(),
            cdp_port: self.settings.cdp_port,
            headless: config.headless,
            profile_dir: config.profile_dir(&self.settings.data_dir),
        };
        {
            let mut s = self.state();
            s.binary = Some(spec.binary.clone());
            s.headless = spec.headless;
            s.profile_dir = spec.profile_dir.clone();
        }
        let mut child = match chromium::launch(&spec) {
            Ok(c) => c,
            Err(e) => {
                self.readiness
                    .set_not_serving(format!("cannot start {}: {e}", spec.binary.display()))
                    .await;
                return MISSING_RETRY;
            }
        };
        self.state().launches += 1;
        let started = Instant::now();
        let version = loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.readiness
                    .set_not_serving(format!("Chromium exited during launch ({status})"))
                    .await;
                return RELAUNCH_DELAY;
            }
            if let Some(v) = self.cdp_version().await {
                break v;
            }
            if started.elapsed() > LAUNCH_TIMEOUT || shutdown.is_cancelled() {
                self.readiness
                    .set_not_serving(format!(
                        "Chromium did not answer on {} within {}s",
                        self.settings.cdp_http(),
                        LAUNCH_TIMEOUT.as_secs()
                    ))
                    .await;
                chromium::stop(&mut child, Duration::ZERO).await;
                return RELAUNCH_DELAY;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        if let Err(e) = self.connect(&version).await {
            self.readiness
                .set_not_serving(format!("cannot drive Chromium: {e}"))
                .await;
            chromium::stop(&mut child, Duration::ZERO).await;
            return RELAUNCH_DELAY;
        }
        self.state().pid = child.id();
        tracing::info!(browser = %self.state().version, pid = ?child.id(), endpoint = %self.settings.cdp_endpoint(), "Chromium ready");
        self.readiness.set_serving().await;
        let died = tokio::select! {
            status = child.wait() => Some(status),
            _ = wanted.wait_for(|w| !*w) => None,
            () = shutdown.cancelled() => None,
        };
        let browser = {
            let mut s = self.state();
            s.pid = None;
            s.browser.take()
        };
        match died {
            Some(status) => {
                let status = status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| e.to_string());
                self.readiness
                    .set_not_serving(format!("Chromium exited ({status}); relaunching"))
                    .await;
            }
            None => {
                // A clean close writes the profile (cookies) to disk.
                if let Some(b) = browser {
                    let _ = tokio::time::timeout(Duration::from_secs(2), b.execute(CloseParams {}))
                        .await;
                }
                chromium::stop(&mut child, CLOSE_GRACE).await;
                tracing::info!("Chromium closed");
                self.readiness.set_not_serving(CLOSED).await;
                return Duration::ZERO;
            }
        }
        RELAUNCH_DELAY
    }

    /// Drives a Chromium that already answered on the CDP port (started by
    /// someone else, or left from an earlier host) until it stops answering.
    async fn adopt(
        &self,
        version: serde_json::Value,
        shutdown: &CancellationToken,
        wanted: &mut watch::Receiver<bool>,
    ) {
        tracing::info!(endpoint = %self.settings.cdp_endpoint(), "reusing the Chromium already answering on the CDP port");
        if let Err(e) = self.connect(&version).await {
            self.readiness
                .set_not_serving(format!("cannot drive the Chromium on the CDP port: {e}"))
                .await;
            tokio::time::sleep(RELAUNCH_DELAY).await;
            return;
        }
        self.readiness.set_serving().await;
        loop {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = wanted.wait_for(|w| !*w) => break,
                () = shutdown.cancelled() => break,
            }
            if self.cdp_version().await.is_none() {
                self.readiness
                    .set_not_serving("the reused Chromium stopped answering")
                    .await;
                break;
            }
        }
        let browser = self.state().browser.take();
        if (shutdown.is_cancelled() || !*wanted.borrow())
            && let Some(b) = browser
        {
            let _ = tokio::time::timeout(Duration::from_secs(2), b.execute(CloseParams {})).await;
        }
    }

    /// Connects chromiumoxide to the Chromium described by `version`.
    async fn connect(&self, version: &serde_json::Value) -> Result<(), BrowserError> {
        let ws = version
            .get("webSocketDebuggerUrl")
            .and_then(|v| v.as_str())
            .ok_or_else(|| BrowserError::Page("no webSocketDebuggerUrl in /json/version".into()))?;
        let config = HandlerConfig {
            // Certificate errors stay errors; the default would ignore them.
            ignore_https_errors: false,
            // Pages keep the window's size instead of an emulated 800x600.
            viewport: None,
            request_timeout: PAGE_TIMEOUT,
            ..HandlerConfig::default()
        };
        let (browser, mut handler) =
            cdp("connecting", Browser::connect_with_config(ws, config)).await?;
        tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if let Err(e) = event {
                    tracing::debug!(error = %e, "DevTools protocol message");
                }
            }
        });
        let mut s = self.state();
        s.version = version
            .get("Browser")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        s.browser = Some(Arc::new(browser));
        Ok(())
    }

    /// The connected browser, or why there is none.
    fn browser(&self) -> Result<Arc<Browser>, BrowserError> {
        if let Some(b) = self.state().browser.clone() {
            return Ok(b);
        }
        Err(BrowserError::Unavailable(
            self.readiness
                .not_serving_reason()
                .unwrap_or_else(|| "Chromium is starting".into()),
        ))
    }

    /// Asks for Chromium to run and waits until it serves (or says why not).
    pub async fn launch(&self) -> Result<Snapshot, BrowserError> {
        let before = self.attempts.load(Ordering::SeqCst);
        self.wanted.send_replace(true);
        self.poke.notify_one();
        let started = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if self.state().browser.is_some() && self.readiness.not_serving_reason().is_none() {
                return Ok(self.snapshot());
            }
            // An attempt ended since the ask, and Chromium does not serve: say why now.
            let tried = self.attempts.load(Ordering::SeqCst) > before;
            if tried || started.elapsed() > LAUNCH_TIMEOUT + Duration::from_secs(2) {
                return Err(BrowserError::Unavailable(
                    self.readiness
                        .not_serving_reason()
                        .unwrap_or_else(|| "Chromium is starting".into()),
                ));
            }
        }
    }

    /// Closes Chromium cleanly and keeps it closed until the next launch.
    pub async fn close(&self) -> Snapshot {
        self.wanted.send_replace(false);
        let started = Instant::now();
        while self.readiness.not_serving_reason().as_deref() != Some(CLOSED)
            && started.elapsed() < CLOSE_GRACE + Duration::from_secs(5)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.snapshot()
    }

    /// The open tabs (page targets), in Chromium's order.
    pub async fn tabs(&self) -> Result<Vec<Tab>, BrowserError> {
        let browser = self.browser()?;
        let targets = cdp("listing tabs", browser.execute(GetTargetsParams::default())).await?;
        Ok(targets
            .result
            .target_infos
            .into_iter()
            .filter(|t| t.r#type == "page")
            .map(|t| Tab {
                id: t.target_id.inner().clone(),
                title: t.title,
                url: t.url,
                kind: t.r#type,
            })
            .collect())
    }

    /// The page of `tab_id`; the first tab when empty (a new one when there is none).
    async fn page(&self, tab_id: &str) -> Result<Page, BrowserError> {
        let browser = self.browser()?;
        let id = if tab_id.is_empty() {
            match self.tabs().await?.into_iter().next() {
                Some(t) => t.id,
                None => return cdp("opening a tab", browser.new_page("about:blank")).await,
            }
        } else {
            tab_id.to_string()
        };
        // A tab opened a moment ago may not be attached yet.
        for _ in 0..20 {
            match cdp(
                "finding the tab",
                browser.get_page(TargetId::from(id.clone())),
            )
            .await
            {
                Ok(p) => return Ok(p),
                Err(BrowserError::Cdp(CdpError::NotFound)) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(BrowserError::NoTab(id))
    }

    async fn tab_of(page: &Page) -> Result<Tab, BrowserError> {
        Ok(Tab {
            id: page.target_id().inner().clone(),
            title: cdp("reading the title", page.get_title())
                .await?
                .unwrap_or_default(),
            url: cdp("reading the URL", page.url())
                .await?
                .unwrap_or_default(),
            kind: "page".into(),
        })
    }

    /// Opens a tab on `url` and waits for it to load.
    pub async fn open_tab(&self, url: &str) -> Result<Tab, BrowserError> {
        let url = checked_url(url)?;
        let browser = self.browser()?;
        let page = cdp("opening a tab", browser.new_page("about:blank")).await?;
        if url != "about:blank" {
            Self::go(&page, url).await?;
        }
        Self::tab_of(&page).await
    }

    /// Loads `url` in a tab and waits for it to load.
    pub async fn navigate(&self, tab_id: &str, url: &str) -> Result<Tab, BrowserError> {
        let url = checked_url(url)?;
        let page = self.page(tab_id).await?;
        Self::go(&page, url).await?;
        Self::tab_of(&page).await
    }

    async fn go(page: &Page, url: &str) -> Result<(), BrowserError> {
        match cdp("loading the page", page.goto(url)).await {
            Err(BrowserError::Cdp(e)) => Err(BrowserError::Page(format!("cannot load {url}: {e}"))),
            Err(e) => Err(e),
            Ok(_) => Ok(()),
        }
    }

    pub async fn close_tab(&self, tab_id: &str) -> Result<(), BrowserError> {
        if tab_id.is_empty() {
            return Err(BrowserError::Invalid("tab_id is required".into()));
        }
        let page = self.page(tab_id).await?;
        cdp("closing the tab", page.close()).await?;
        Ok(())
    }

    /// A PNG of a tab, saved as `data/screenshots/<filename>`.
    pub async fn screenshot(
        &self,
        tab_id: &str,
        full_page: bool,
        filename: &str,
    ) -> Result<Shot, BrowserError> {
        let filename = screenshot_name(filename)?;
        let page = self.page(tab_id).await?;
        let params = ScreenshotParams::builder()
            .format(CaptureScreenshotFormat::Png)
            .full_page(full_page)
            .build();
        let png = cdp("the screenshot", page.screenshot(params)).await?;
        let (width, height) = chromium::png_size(&png)
            .ok_or_else(|| BrowserError::Page("Chromium answered no PNG".into()))?;
        let path = self.settings.data_dir.join("screenshots").join(&filename);
        let bytes = png.clone();
        let target = path.clone();
        tokio::task::spawn_blocking(move || portos_store::write_atomic(&target, &bytes))
            .await
            .map_err(|e| BrowserError::Page(e.to_string()))??;
        let tab = Self::tab_of(&page).await?;
        tracing::info!(file = %path.display(), width, height, "screenshot saved");
        Ok(Shot {
            filename,
            path,
            png,
            width,
            height,
            tab,
        })
    }

    /// Evaluates `expression` in a tab (promises awaited); answers the value as JSON.
    pub async fn evaluate(&self, tab_id: &str, expression: &str) -> Result<String, BrowserError> {
        if expression.trim().is_empty() {
            return Err(BrowserError::Invalid("expression is required".into()));
        }
        let page = self.page(tab_id).await?;
        let result = cdp("the script", page.evaluate(expression))
            .await
            .map_err(|e| match e {
                BrowserError::Cdp(CdpError::JavascriptException(ex)) => {
                    BrowserError::Page(format!(
                        "the script threw: {}",
                        ex.exception
                            .as_ref()
                            .and_then(|o| o.description.clone())
                            .unwrap_or(ex.text.clone())
                    ))
                }
                e => e,
            })?;
        Ok(result
            .value()
            .map(|v| v.to_string())
            .unwrap_or_else(|| "null".into()))
    }

    /// The cookies of the profile, for every site or only those sent to `urls`.
    pub async fn cookies(&self, urls: &[String]) -> Result<Vec<Cookie>, BrowserError> {
        let browser = self.browser()?;
        let all = cdp("reading cookies", browser.get_cookies()).await?;
        if urls.is_empty() {
            return Ok(all);
        }
        let hosts: Vec<String> = urls
            .iter()
            .map(|u| {
                reqwest::Url::parse(u)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    .ok_or_else(|| BrowserError::Invalid(format!("not a URL: {u:?}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(all
            .into_iter()
            .filter(|c| hosts.iter().any(|h| domain_matches(&c.domain, h)))
            .collect())
    }

    pub async fn set_cookies(&self, cookies: Vec<CookieParam>) -> Result<(), BrowserError> {
        if cookies.is_empty() {
            return Err(BrowserError::Invalid("no cookies given".into()));
        }
        for c in &cookies {
            if c.name.is_empty() {
                return Err(BrowserError::Invalid("a cookie needs a name".into()));
            }
            if c.url.is_none() && c.domain.is_none() {
                return Err(BrowserError::Invalid(format!(
                    "cookie {:?} needs a url or a domain",
                    c.name
                )));
            }
        }
        cdp("setting cookies", self.browser()?.set_cookies(cookies)).await?;
        Ok(())
    }
}

/// Whether a cookie of `domain` is sent to `host` (RFC 6265 domain matching).
fn domain_matches(domain: &str, host: &str) -> bool {
    let d = domain.trim_start_matches('.');
    host.eq_ignore_ascii_case(d)
        || (host.len() > d.len()
            && host.to_ascii_lowercase().ends_with(&d.to_ascii_lowercase())
            && host.as_bytes()[host.len() - d.len() - 1] == b'.')
}

/// A DevTools call with a deadline: a Chromium that died mid-call never
/// answers, and chromiumoxide checks its own deadlines only while messages flow.
async fn cdp<T>(
    what: &'static str,
    call: impl Future<Output = Result<T, CdpError>>,
) -> Result<T, BrowserError> {
    match tokio::time::timeout(PAGE_TIMEOUT, call).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(BrowserError::Timeout { what }),
    }
}

/// Only web pages and the blank page: `file:`, `chrome:`, `javascript:` and the
/// like would read the machine's files or the browser's own pages.
fn checked_url(url: &str) -> Result<&str, BrowserError> {
    let url = url.trim();
    if url.is_empty() || url == "about:blank" {
        return Ok("about:blank");
    }
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(url),
        Ok(u) => Err(BrowserError::Invalid(format!(
            "only http(s) URLs may be opened, not {}:",
            u.scheme()
        ))),
        Err(e) => Err(BrowserError::Invalid(format!("not a URL: {url:?} ({e})"))),
    }
}

/// The file name of a screenshot: letters, digits, `.`, `_`, `-`, not starting
/// with a dot, `.png` added when missing; empty → `screenshot-<uuid>.png`.
pub fn screenshot_name(name: &str) -> Result<String, BrowserError> {
    if name.is_empty() {
        return Ok(format!("screenshot-{}.png", uuid::Uuid::new_v4()));
    }
    let ok = name.len() <= 200
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        return Err(BrowserError::Invalid(format!(
            "filename {name:?}: use letters, digits, '.', '_' and '-' (at most 200, not starting with '.')"
        )));
    }
    Ok(if name.to_ascii_lowercase().ends_with(".png") {
        name.to_string()
    } else {
        format!("{name}.png")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_domains_match_as_browsers_do() {
        assert!(domain_matches(".example.com", "www.example.com"));
        assert!(domain_matches("example.com", "example.com"));
        assert!(!domain_matches("example.com", "badexample.com"));
        assert!(domain_matches("127.0.0.1", "127.0.0.1"));
    }

    #[test]
    fn only_web_urls_are_opened() {
        assert!(checked_url("http://127.0.0.1:3000/x").is_ok());
        assert_eq!(checked_url("").unwrap(), "about:blank");
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "chrome://settings",
            "nope",
        ] {
            assert!(
                matches!(checked_url(bad), Err(BrowserError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn screenshot_names_stay_in_their_folder() {
        assert_eq!(screenshot_name("shot").unwrap(), "shot.png");
        assert_eq!(screenshot_name("a.PNG").unwrap(), "a.PNG");
        assert!(screenshot_name("").unwrap().starts_with("screenshot-"));
        for bad in ["../x", "a/b", ".hidden", "a b"] {
            assert!(screenshot_name(bad).is_err(), "{bad}");
        }
    }
}
