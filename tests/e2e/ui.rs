//! The web UI in real Chromium (Debian's, driven with chromiumoxide) against
//! the real stack started by `portos up` on a temp data dir: every page loads
//! without console errors, has labelled controls (read from the accessibility
//! tree) and can be walked with the keyboard alone; a provider created in the
//! UI runs a prompt against llama.cpp's OpenAI-compatible server and the output
//! streams in; a process restarted from its tile (by keyboard) gets a new pid;
//! the offline banner comes and goes with the api server. Screenshots of every
//! page at desktop and phone widths are saved as artifacts.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chromiumoxide::cdp::browser_protocol::accessibility::GetFullAxTreeParams;
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use chromiumoxide::cdp::browser_protocol::input::{DispatchKeyEventParams, DispatchKeyEventType};
use chromiumoxide::cdp::browser_protocol::log::EventEntryAdded;
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EventConsoleApiCalled, EventExceptionThrown,
};
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::{Browser, BrowserConfig, Page};
use futures_util::StreamExt;
use portos_e2e::{LlmServer, Stack, free_port};
use serde_json::Value;

const PAGES: [&str; 14] = [
    "/cos",
    "/",
    "/apps",
    "/logs",
    "/providers",
    "/runs",
    "/prompts",
    "/browser",
    "/screenshots",
    "/uploads",
    "/agents",
    "/schedules",
    "/jira",
    "/history",
];

/// Where the page screenshots go: `<target>/tmp/ui-screenshots/`.
fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The api server and the UI server on `api` and `ui`, as a table (more
/// processes may follow).
pub(crate) fn api_and_ui(api: u16, ui: u16) -> String {
    format!(
        "[[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\", PORTOS_PROVIDER_CHECK_SECS = \"3600\", PORTOS_UI_PORT = \"{ui}\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n\n\
         [[process]]\nname = \"portos-ui\"\ncommand = \"portos-ui\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{ui}\", PORTOS_API_PORT = \"{api}\" }}\n\
         ports = {{ ui = {ui} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n\n"
    )
}

/// llama.cpp's server with the test model, the api and UI servers up, and
/// the model registered as API providers `(id, name)`.
pub(crate) struct LlmStack {
    pub llm: portos_e2e::LlmServer,
    pub stack: portos_e2e::Stack,
    pub api_port: u16,
    pub ui: u16,
}

impl LlmStack {
    pub fn up() -> Self {
        let llm = portos_e2e::LlmServer::start("");
        let (api_port, ui) = (portos_e2e::free_port(), portos_e2e::free_port());
        let stack = portos_e2e::Stack::new(&api_and_ui(api_port, ui));
        stack.ok(&["up", "-d"]);
        Self {
            llm,
            stack,
            api_port,
            ui,
        }
    }

    /// The owner's client of the api server, with `providers` added.
    pub async fn api_with(&self, providers: &[(&str, &str)]) -> crate::http::Api {
        let api = crate::http::Api::new(self.api_port, &self.stack.owner_token());
        for (id, name) in providers {
            let (st, body) = api
                .post("/api/providers", serde_json::json!({ "id": id, "name": name, "type": "api", "endpoint": self.llm.endpoint(), "defaultModel": "smollm2" }))
                .await;
            assert_eq!(st, 201, "{body}");
        }
        api
    }
}

pub(crate) async fn chromium() -> (Browser, tempfile::TempDir) {
    chromium_with(&[]).await
}

/// Chromium with extra command-line flags.
pub(crate) async fn chromium_with(flags: &[&str]) -> (Browser, tempfile::TempDir) {
    let profile = tempfile::tempdir().unwrap();
    let binary = [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).is_file())
    .expect("Chromium is installed (.ci/run installs Debian's `chromium`)");
    let config = BrowserConfig::builder()
        .chrome_executable(binary)
        .no_sandbox()
        .user_data_dir(profile.path())
        .window_size(1280, 800)
        .viewport(None)
        .arg("--disable-gpu")
        .arg("--disable-dev-shm-usage")
        .args(flags.iter().copied())
        .build()
        .unwrap();
    let (browser, mut handler) = Browser::launch(config).await.unwrap();
    tokio::spawn(async move { while handler.next().await.is_some() {} });
    (browser, profile)
}

/// Console errors, uncaught exceptions and failed loads of a page, as they come.
pub(crate) async fn watch_console(page: &Page) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    page.enable_log().await.unwrap();
    let mut console = page
        .event_listener::<EventConsoleApiCalled>()
        .await
        .unwrap();
    let mut thrown = page.event_listener::<EventExceptionThrown>().await.unwrap();
    let mut log = page.event_listener::<EventEntryAdded>().await.unwrap();
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let line = tokio::select! {
                Some(e) = console.next() => (e.r#type == ConsoleApiCalledType::Error).then(|| format!("console.error: {:?}", e.args.iter().map(|a| a.value.clone()).collect::<Vec<_>>())),
                Some(e) = thrown.next() => Some(format!("exception: {}", e.exception_details.text)),
                Some(e) = log.next() => (format!("{:?}", e.entry.level) == "Error").then(|| format!("log: {} {}", e.entry.text, e.entry.url.clone().unwrap_or_default())),
                else => break,
            };
            if let Some(l) = line {
                s.lock().unwrap().push(l);
            }
        }
    });
    seen
}

pub(crate) async fn eval(page: &Page, js: &str) -> Value {
    page.evaluate(js)
        .await
        .unwrap_or_else(|e| panic!("evaluate {js}: {e}"))
        .value()
        .cloned()
        .unwrap_or(Value::Null)
}

pub(crate) async fn until(page: &Page, what: &str, secs: u64, js: &str) -> Value {
    let start = Instant::now();
    loop {
        let v = eval(page, js).await;
        if !v.is_null() && v != Value::Bool(false) {
            return v;
        }
        if start.elapsed() >= Duration::from_secs(secs) {
            // What the page said (its toasts) tells why, e.g. a refused save.
            let said = eval(
                page,
                "(document.getElementById('toasts') || {}).textContent || ''",
            )
            .await;
            panic!("timed out waiting for {what}; the page's messages: {said}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn key(page: &Page, key: &str, code: i64) {
    for kind in [DispatchKeyEventType::KeyDown, DispatchKeyEventType::KeyUp] {
        let mut p = DispatchKeyEventParams::new(kind);
        p.key = Some(key.into());
        p.code = Some(key.into());
        p.windows_virtual_key_code = Some(code);
        p.native_virtual_key_code = Some(code);
        if key == "Enter" && matches!(p.r#type, DispatchKeyEventType::KeyDown) {
            p.text = Some("\r".into());
        }
        page.execute(p).await.unwrap();
    }
}

/// Every control that can act has a name in the accessibility tree.
pub(crate) async fn assert_labelled(page: &Page, path: &str) {
    let tree = page.execute(GetFullAxTreeParams::default()).await.unwrap();
    let mut unnamed = Vec::new();
    let mut controls = 0;
    for n in &tree.result.nodes {
        if n.ignored {
            continue;
        }
        let role = n
            .role
            .as_ref()
            .and_then(|r| r.value.as_ref())
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        if ![
            "button",
            "textbox",
            "combobox",
            "checkbox",
            "link",
            "searchbox",
            "spinbutton",
            "listbox",
            "slider",
        ]
        .contains(&role.as_str())
        {
            continue;
        }
        controls += 1;
        let name = n
            .name
            .as_ref()
            .and_then(|r| r.value.as_ref())
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        if name.trim().is_empty() {
            unnamed.push(role);
        }
    }
    assert!(
        controls > 0,
        "{path}: no controls in the accessibility tree"
    );
    assert!(
        unnamed.is_empty(),
        "{path}: controls without a name: {unnamed:?}"
    );
}

/// Tab alone reaches every visible control of the page, in order, and no control traps focus.
pub(crate) async fn assert_keyboard_walk(page: &Page, path: &str) {
    let count = eval(
        page,
        "(() => { const els = [...document.querySelectorAll('a[href],button:not([disabled]),input:not([disabled]),select:not([disabled]),textarea:not([disabled])')].filter(e => e.offsetParent !== null || e.type === 'file'); els.forEach((e, i) => e.dataset.kb = i); return els.length; })()",
    )
    .await
    .as_u64()
    .unwrap();
    eval(
        page,
        "document.activeElement && document.activeElement.blur(); window.scrollTo(0,0); true",
    )
    .await;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..count + 5 {
        key(page, "Tab", 9).await;
        if let Some(i) = eval(
            page,
            "document.activeElement && document.activeElement.dataset.kb",
        )
        .await
        .as_str()
        {
            seen.insert(i.parse::<u64>().unwrap());
        }
    }
    let missed: Vec<Value> = {
        let still = eval(
            page,
            "[...document.querySelectorAll('[data-kb]')].map(e => Number(e.dataset.kb))",
        )
        .await;
        still
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| !seen.contains(&i.as_u64().unwrap()))
            .cloned()
            .collect()
    };
    assert!(
        missed.is_empty(),
        "{path}: controls Tab never reached: {missed:?} of {count}"
    );
}

pub(crate) async fn shoot(page: &Page, name: &str) {
    for (label, w, h, mobile) in [("desktop", 1280, 800, false), ("phone", 390, 844, true)] {
        page.execute(SetDeviceMetricsOverrideParams::new(
            w,
            h,
            if mobile { 3.0 } else { 1.0 },
            mobile,
        ))
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let png = page
            .screenshot(ScreenshotParams::builder().full_page(true).build())
            .await
            .unwrap();
        assert!(png.len() > 1000);
        std::fs::write(artifacts().join(format!("{name}-{label}.png")), png).unwrap();
    }
    page.execute(
        chromiumoxide::cdp::browser_protocol::emulation::ClearDeviceMetricsOverrideParams::default(
        ),
    )
    .await
    .unwrap();
}

#[test]
fn the_web_ui_in_a_real_browser() {
    let llm = LlmServer::start("");
    let (api, ui, fixer, fixer_ui) = (free_port(), free_port(), free_port(), free_port());
    // Moltworld is nowhere: the seeded schedule's run fails, and says so.
    let closed = free_port();
    let stack = Stack::new(&format!(
        "[[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\", PORTOS_PROVIDER_CHECK_SECS = \"3600\", PORTOS_UI_PORT = \"{ui}\", PORTOS_MOLTWORLD_URL = \"http://127.0.0.1:{closed}\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n\n\
         [[process]]\nname = \"portos-ui\"\ncommand = \"portos-ui\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{ui}\", PORTOS_API_PORT = \"{api}\", PORTOS_AUTOFIXER_UI_PORT = \"{fixer_ui}\" }}\n\
         ports = {{ ui = {ui} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n\n\
         [[process]]\nname = \"portos-autofixer\"\ncommand = \"portos-autofixer\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{fixer}\" }}\nports = {{ api = {fixer} }}\n\
         health = {{ check = \"grpc\", interval = \"200ms\" }}\n\n\
         [[process]]\nname = \"portos-autofixer-ui\"\ncommand = \"portos-autofixer-ui\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{fixer_ui}\", PORTOS_AUTOFIXER_PORT = \"{fixer}\", PORTOS_UI_PORT = \"{ui}\" }}\n\
         ports = {{ ui = {fixer_ui} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n\n\
         [[process]]\nname = \"sleeper\"\ncommand = \"sh\"\nargs = [\"-c\", \"echo sleeper up; exec sleep 100000\"]\n"
    ));
    stack.ok(&["up", "-d"]);
    let base = format!("http://127.0.0.1:{ui}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (mut browser, _profile) = chromium().await;
        let page = browser.new_page("about:blank").await.unwrap();
        // Before logging in, a page is the login page; the login link sets
        // the session and lands on the dashboard without the token in the address.
        page.goto(format!("{base}/providers")).await.unwrap();
        let text = eval(&page, "document.body.textContent").await;
        assert!(text.as_str().unwrap().contains("portos pair"), "{text}");
        let owner = stack.owner_token();
        page.goto(format!("{base}/login?token={owner}")).await.unwrap();
        until(&page, "the dashboard after login", 10, "document.body.dataset.page === 'dashboard'").await;
        let url = eval(&page, "location.href").await;
        assert_eq!(url, format!("{base}/"), "the token left the address bar");
        assert_eq!(eval(&page, "document.cookie").await, "", "the session cookie is HttpOnly");
        let console = watch_console(&page).await;

        // An agent, an account and a schedule whose run failed, for the integrations' pages.
        let rest = crate::http::Api::new(api, &stack.owner_token());
        let (_, agent) = rest
            .post("/api/agents/personalities", serde_json::json!({ "userId": "me", "name": "Ada", "personality": { "style": "witty", "topics": ["rust"] } }))
            .await;
        let (_, account) = rest
            .post("/api/agents/accounts", serde_json::json!({ "agentId": agent["id"], "platform": "moltworld", "status": "active",
                "credentials": { "apiKey": "mw-ui-key-1234", "username": "ada", "agentId": "mw-ui" } }))
            .await;
        let (st, schedule) = rest
            .post("/api/agents/schedules", serde_json::json!({ "agentId": agent["id"], "accountId": account["id"],
                "action": { "type": "mw_think", "params": { "thought": "hi" } }, "schedule": { "type": "cron", "cron": "0 9 * * 1-5" } }))
            .await;
        assert_eq!(st, 201, "{schedule}");
        rest.post(&format!("/api/agents/schedules/{}/run", schedule["id"].as_str().unwrap()), serde_json::json!({}))
            .await;

        // Every page: loads clean, labelled, walkable by keyboard; pictures at two widths.
        for path in PAGES {
            page.goto(format!("{base}{path}")).await.unwrap();
            until(&page, "the live socket", 10, "document.getElementById('offline').hidden && document.readyState === 'complete'").await;
            tokio::time::sleep(Duration::from_millis(700)).await;
            if path == "/logs" {
                // "All processes" tails every process, each line naming its own.
                until(&page, "the sleeper's line among all processes", 15, "[...document.querySelectorAll('#logs-out > div')].some(d => d.textContent.startsWith('sleeper ') && d.textContent.includes('sleeper up'))").await;
            }
            if path == "/schedules" {
                // The failed run is a red dot on the day's line, and the key shows masked only.
                until(&page, "the run on the timeline", 15, "document.querySelector('#sc-timeline .dot.failed') !== null").await;
            }
            if path == "/agents" {
                until(&page, "the masked key", 10, "document.getElementById('acc-list').textContent.includes('***1234')").await;
                assert_eq!(eval(&page, "document.body.textContent.includes('mw-ui-key-1234')").await, Value::Bool(false));
            }
            let title = eval(&page, "document.title").await;
            assert!(title.as_str().unwrap().ends_with("· PortOS"), "{path}: {title}");
            assert_labelled(&page, path).await;
            assert_keyboard_walk(&page, path).await;
            let name = if path == "/" { "dashboard" } else { path.trim_start_matches('/') };
            shoot(&page, name).await;
            let errors = console.lock().unwrap().clone();
            assert!(errors.is_empty(), "{path}: console errors: {errors:?}");
        }

        // The autofixer's page (its frame for now): reached from the nav, its status shown.
        let link = eval(&page, "document.getElementById('autofixer-link').href").await;
        assert_eq!(link, format!("http://127.0.0.1:{fixer_ui}/"));
        page.goto(link.as_str().unwrap()).await.unwrap();
        assert_eq!(eval(&page, "document.title").await, "Autofixer · PortOS");
        assert_eq!(eval(&page, "document.querySelector('.badge').textContent").await, "watching");
        assert_labelled(&page, "autofixer").await;
        assert_keyboard_walk(&page, "autofixer").await;
        let back = eval(&page, "document.querySelector('nav a').href").await;
        assert_eq!(back, format!("http://127.0.0.1:{ui}/"));
        shoot(&page, "autofixer").await;
        let errors = console.lock().unwrap().clone();
        assert!(errors.is_empty(), "autofixer page: console errors: {errors:?}");

        // A provider created in the UI, then a run whose output streams in.
        page.goto(format!("{base}/providers")).await.unwrap();
        // The list is filled in after the page loads and moves the form down:
        // typing starts once it is in place, as a person would wait.
        until(&page, "the providers list", 10, "!document.querySelector('#prov-list[aria-busy]')").await;
        page.find_element("#p-name").await.unwrap().click().await.unwrap().type_str("Llama UI").await.unwrap();
        page.find_element("#p-endpoint").await.unwrap().click().await.unwrap().type_str(&llm.endpoint()).await.unwrap();
        page.find_element("#p-save").await.unwrap().click().await.unwrap();
        until(&page, "the new provider's card", 10, "!!document.querySelector('[data-provider=\"llama-ui\"]')").await;

        page.goto(format!("{base}/runs")).await.unwrap();
        until(&page, "the provider in the list", 10, "!!document.querySelector('#run-provider option[value=\"llama-ui\"]')").await;
        eval(&page, "document.getElementById('run-provider').value = 'llama-ui'; true").await;
        page.find_element("#run-prompt").await.unwrap().click().await.unwrap()
            .type_str("Count from 1 to 100, one number per line.").await.unwrap();
        // Seen while the run is still going: some output, then more. Every
        // change of the output is watched (a poll can miss a short run's
        // whole stream between two looks).
        eval(&page, "window.__streamed = []; new MutationObserver(() => { const t = document.getElementById('run-output').textContent; if (t.length > 0 && document.getElementById('run-state').textContent === 'running') window.__streamed.push(t.length); }).observe(document.getElementById('run-output'), { childList: true, subtree: true, characterData: true }); true").await;
        page.find_element("#run-start").await.unwrap().click().await.unwrap();
        let first = until(&page, "the first output", 120, "window.__streamed.length ? window.__streamed[0] : null").await;
        let state = until(&page, "the run's end", 180, "(() => { const s = document.getElementById('run-state').textContent; return s === 'running' ? null : s })()").await;
        assert_eq!(state, "succeeded");
        let shown = eval(&page, "document.getElementById('run-output').textContent").await;
        assert!(shown.as_str().unwrap().len() as u64 > first.as_u64().unwrap(), "output grew while streaming");
        shoot(&page, "runs-after-a-run").await;

        // Restart a process from its tile, by keyboard alone; its pid changes.
        page.goto(format!("{base}/")).await.unwrap();
        let old_pid = until(&page, "the sleeper's pid", 10, "(() => { const d = document.querySelector('#tile-sleeper [data-fact=pid]'); return d && d.textContent !== '–' ? d.textContent : null })()").await;
        assert_eq!(old_pid.as_str().unwrap().parse::<i32>().ok(), stack.pid_of("sleeper"));
        let mut reached = false;
        for _ in 0..200 {
            key(&page, "Tab", 9).await;
            if eval(&page, "document.activeElement.getAttribute('aria-label')").await == "Restart sleeper" {
                reached = true;
                break;
            }
        }
        assert!(reached, "Tab reaches the sleeper's Restart button");
        key(&page, "Enter", 13).await;
        let new_pid = until(&page, "a new pid on the tile", 20, &format!("(() => {{ const t = document.querySelector('#tile-sleeper [data-fact=pid]').textContent; return t !== '–' && t !== '{}' ? t : null }})()", old_pid.as_str().unwrap())).await;
        assert_eq!(new_pid.as_str().unwrap().parse::<i32>().ok(), stack.pid_of("sleeper"));
        let errors = console.lock().unwrap().clone();
        assert!(errors.is_empty(), "console errors: {errors:?}");

        // The api server goes away: the banner says so; it comes back: the banner goes.
        stack.ok(&["stop", "portos-server"]);
        until(&page, "the offline banner", 15, "!document.getElementById('offline').hidden").await;
        shoot(&page, "offline").await;
        stack.ok(&["start", "portos-server"]);
        until(&page, "the banner gone", 30, "document.getElementById('offline').hidden").await;
        until(&page, "the tiles refreshed", 10, "document.querySelector('#tile-portos-server [data-role=state]').textContent === 'healthy'").await;

        browser.close().await.unwrap();
        let _ = browser.wait().await;
    });
    eprintln!("page screenshots: {}", artifacts().display());
}
