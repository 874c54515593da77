//! The Instances page in real Chromium (issue 21): the owner pairs this
//! machine with another by pasting the token it issued; the peer's card turns
//! online with the link mutual, shows its apps with links and its agent's
//! output as it runs; the dashboard lists the machine; the page fits a phone.

use chromiumoxide::cdp::browser_protocol::emulation::{
    ClearDeviceMetricsOverrideParams, SetDeviceMetricsOverrideParams,
};
use serde_json::json;

use crate::http::Api;
use crate::instances::{agent_script, one, one_with_ui};
use crate::ui::{assert_labelled, chromium, eval, shoot, until, watch_console};

#[test]
fn the_owner_pairs_a_machine_and_watches_its_agent_on_the_page() {
    let ui = portos_e2e::free_port();
    let (a, b) = (one_with_ui(Some(ui)), one());
    let agent = agent_script(&b.stack, 3);
    let app_dir = b.stack.dir.path().join("site");
    std::fs::create_dir_all(&app_dir).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let api_b = Api::new(b.api, &b.stack.owner_token());
        let (st, app) = api_b
            .post("/api/apps", json!({ "name": "Site", "repoPath": app_dir.display().to_string(), "uiPort": 4321 }))
            .await;
        assert_eq!(st, 201, "{app}");
        let token = b.stack.ok(&["token", "--peer", "laptop"]).trim().to_string();

        let (mut browser, _profile) = chromium().await;
        let page = browser.new_page("about:blank").await.unwrap();
        page.goto(format!("http://127.0.0.1:{ui}/login?token={}", a.stack.owner_token())).await.unwrap();
        until(&page, "the dashboard", 10, "document.body.dataset.page === 'dashboard'").await;
        let console = watch_console(&page).await;
        page.goto(format!("http://127.0.0.1:{ui}/instances")).await.unwrap();
        until(&page, "the page", 10, "document.body.dataset.peersLoaded").await;
        let empty = eval(&page, "document.getElementById('inst-summary').textContent").await;
        assert!(empty.as_str().unwrap().starts_with("No peers"), "{empty}");
        assert_labelled(&page, "/instances").await;

        // The owner pastes B's token.
        eval(&page, &format!(
            "document.getElementById('inst-address').value = '127.0.0.1';\
             document.getElementById('inst-peer-port').value = '{}';\
             document.getElementById('inst-peer-name').value = 'studio';\
             document.getElementById('inst-token').value = '{token}';\
             document.getElementById('inst-add').requestSubmit(); true",
            b.api
        ))
        .await;
        let card = "document.querySelector('#inst-peers [data-peer]')";
        until(&page, "B's card online and mutual", 20, &format!(
            "(() => {{ const c = {card}; if (!c) return null;\
               const dirs = [...c.querySelectorAll('[data-role=direction]')].map((d) => d.textContent);\
               return c.querySelector('[data-role=status]').textContent === 'online' && dirs.includes('inbound') && dirs.includes('outbound') || null }})()"
        ))
        .await;
        assert_eq!(eval(&page, &format!("{card}.querySelector('h3').textContent")).await, "studio");
        assert_eq!(eval(&page, "document.getElementById('inst-token').value").await, "", "the token field is cleared");
        let html = eval(&page, "document.documentElement.outerHTML").await;
        assert!(!html.as_str().unwrap().contains(&token[12..]), "no credential on the page");
        // B's app, with a link to its UI on B's address.
        let site = until(&page, "B's app", 10, &format!(
            "(() => {{ const a = [...{card}.querySelectorAll('[data-role=apps] a')].find((a) => a.textContent === 'Site'); return a ? a.href : null }})()"
        ))
        .await;
        assert_eq!(site, "http://127.0.0.1:4321/");
        let facts = eval(&page, &format!("{card}.querySelector('.facts').textContent")).await;
        let facts = facts.as_str().unwrap();
        assert!(facts.contains("Memory") && facts.contains("Processes"), "B's health on its card: {facts}");

        // An agent on B: its output arrives on A's page while it runs.
        let (st, _) = api_b
            .post("/api/providers", json!({ "id": "script", "name": "script", "type": "cli", "command": agent.display().to_string() }))
            .await;
        assert_eq!(st, 201);
        let (st, run) = api_b.post("/api/runs", json!({ "providerId": "script", "prompt": "hello" })).await;
        assert_eq!(st, 202, "{run}");
        until(&page, "the agent's first line on B's card", 20, &format!(
            "(() => {{ const p = {card}.querySelector('[data-agent] pre'); return p && p.textContent.includes('peer agent: line one') || null }})()"
        ))
        .await;
        let heading = eval(&page, &format!("{card}.querySelector('[data-role=agents] h4').textContent")).await;
        assert_eq!(heading, "Agents running (1)");
        until(&page, "the agent gone when done", 20, &format!("!{card}.querySelector('[data-agent]') || null")).await;

        // On a phone: nothing wider than the screen.
        page.execute(SetDeviceMetricsOverrideParams::new(390, 844, 3.0, true)).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(eval(&page, "document.documentElement.scrollWidth <= window.innerWidth").await, true, "the Instances page is wider than a phone");
        page.execute(ClearDeviceMetricsOverrideParams::default()).await.unwrap();
        shoot(&page, "instances").await;

        // The dashboard's strip names the machine, online.
        page.goto(format!("http://127.0.0.1:{ui}/")).await.unwrap();
        let strip = until(&page, "the machines strip", 10,
            "(() => { const m = document.getElementById('machines'); return m && !m.hidden ? m.textContent : null })()").await;
        let strip = strip.as_str().unwrap();
        assert!(strip.contains("studio") && strip.contains("online"), "{strip}");
        let errors = console.lock().unwrap().clone();
        assert!(errors.is_empty(), "console errors: {errors:?}");
        browser.close().await.ok();
    });
}
