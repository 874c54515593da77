//! The Apps page in real Chromium against the real stack: an app added
//! through the form (its folder looked at step by step, what will run and what
//! cannot be honoured shown before confirming), started and stopped from its
//! card, its logs read, and a change committed through the git panel; the
//! navigation folds into one menu on a phone.

use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::emulation::{
    ClearDeviceMetricsOverrideParams, SetDeviceMetricsOverrideParams,
};
use portos_e2e::{Stack, free_port};
use portos_test_support::git;

use crate::apps::fixture_app;
use crate::ui::{
    assert_keyboard_walk, assert_labelled, chromium, eval, shoot, until, watch_console,
};

async fn click(page: &chromiumoxide::Page, selector: &str) {
    page.find_element(selector)
        .await
        .unwrap_or_else(|e| panic!("{selector}: {e}"))
        .click()
        .await
        .unwrap();
}

#[test]
fn the_apps_page_adds_runs_and_commits_an_app() {
    let (api, ui) = (free_port(), free_port());
    let stack = Stack::new(&crate::ui::api_and_ui(api, ui));
    stack.ok(&["up", "-d"]);
    let app_port = free_port();
    let folder = stack.dir.path().join("shop");
    fixture_app(&folder, app_port, ("shop-web", "shop-worker"));
    git(&folder, &["init", "-q", "-b", "main"]);
    git(&folder, &["add", "."]);
    git(&folder, &["commit", "-q", "-m", "first"]);
    let base = format!("http://127.0.0.1:{ui}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (mut browser, _profile) = chromium().await;
        let page = browser.new_page("about:blank").await.unwrap();
        page.goto(format!("{base}/login?token={}", stack.owner_token()))
            .await
            .unwrap();
        until(&page, "the dashboard", 10, "document.body.dataset.page === 'dashboard'").await;
        let console = watch_console(&page).await;
        page.goto(format!("{base}/apps")).await.unwrap();
        until(&page, "the apps list", 10, "!document.querySelector('#app-list[aria-busy]') && document.querySelector('[data-app=\"portos-default\"]') !== null").await;

        // Add: the folder looked at step by step, then what will run, then confirm.
        click(&page, "#app-add-open").await;
        page.find_element("#app-path").await.unwrap().click().await.unwrap()
            .type_str(folder.to_str().unwrap()).await.unwrap();
        click(&page, "#app-detect").await;
        until(&page, "the detection steps", 20, "document.querySelectorAll('#app-steps li.done').length >= 3").await;
        until(&page, "the processes that will run", 20, "document.querySelector('[data-plan=\"shop-web\"]') && document.querySelector('[data-plan=\"shop-worker\"]')").await;
        let notes = eval(&page, "document.getElementById('app-unhonoured').textContent").await;
        let notes = notes.as_str().unwrap();
        assert!(notes.contains("shop-web: watch") && notes.contains("shop-worker: instances: 2"), "{notes}");
        eval(&page, "document.getElementById('app-name').value = 'Shop'; true").await;
        shoot(&page, "apps-add").await;
        click(&page, "#app-confirm").await;
        let id = until(&page, "the new app's card", 20, "(() => { const c = [...document.querySelectorAll('[data-app]')].find(c => c.querySelector('h3').textContent === 'Shop'); return c ? c.dataset.app : null })()").await;
        let id = id.as_str().unwrap().to_string();
        let card = format!("[data-app=\"{id}\"]");
        let state_of = |p: &str| format!("(() => {{ const r = document.querySelector('{card} [data-process=\"{p}\"] .badge'); return r ? r.textContent : null }})()");
        until(&page, "both processes healthy", 30, &format!("{} === 'healthy' && {} === 'healthy'", state_of("shop-web"), state_of("shop-worker"))).await;
        shoot(&page, "apps").await;

        // Stop and start from the card.
        click(&page, &format!("{card} [data-action=stop]")).await;
        until(&page, "both stopped", 20, &format!("{} === 'stopped' && {} === 'stopped'", state_of("shop-web"), state_of("shop-worker"))).await;
        assert!(stack.pid_of("shop-web").is_none());
        click(&page, &format!("{card} [data-action=start]")).await;
        until(&page, "both healthy again", 30, &format!("{} === 'healthy' && {} === 'healthy'", state_of("shop-web"), state_of("shop-worker"))).await;

        // Logs of the app in its panel.
        click(&page, &format!("{card} button[aria-label='Details of Shop']")).await;
        until(&page, "the app's log lines", 15, &format!("(document.getElementById('app-logs').textContent.includes('app server on {app_port}')) || (document.getElementById('app-log-refresh').click(), false)")).await;

        // A change committed through the git panel.
        std::fs::write(folder.join("server.js"), "// changed\n").unwrap();
        click(&page, "#tab-git").await;
        until(&page, "the changed file", 15, "document.querySelector('[data-file=\"server.js\"]') !== null").await;
        click(&page, "button[aria-label='Stage server.js']").await;
        // The list may be drawn again under the click (the tab's first load
        // landing after it): press the button again until the file is staged.
        until(&page, "the file staged", 15, "document.querySelector(\"button[aria-label='Unstage server.js']\") !== null || (document.querySelector(\"button[aria-label='Stage server.js']\")?.click(), false)").await;
        page.find_element("#git-message").await.unwrap().click().await.unwrap()
            .type_str("Change the server from the UI").await.unwrap();
        git(&folder, &["branch", "feature"]);
        click(&page, "#git-commit").await;
        until(&page, "the commit in the list", 15, "document.getElementById('git-log').textContent.includes('Change the server from the UI')").await;
        let log = git(&folder, &["log", "-1", "--format=%s"]);
        assert_eq!(log.trim(), "Change the server from the UI");
        // Another branch (made before the commit, so the panel's reload after it lists it)
        // checked out from the branch list.
        until(&page, "the branch list", 15, "document.querySelector(\"button[aria-label='Check out feature']\") !== null").await;
        // The commit's message sits in the corner over the list's buttons until it goes.
        until(&page, "the message gone", 10, "document.getElementById('toasts').childElementCount === 0").await;
        click(&page, "button[aria-label='Check out feature']").await;
        until(&page, "on the other branch", 15, "document.getElementById('git-head').textContent.startsWith('On feature')").await;
        assert_eq!(git(&folder, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(), "feature");
        assert_labelled(&page, "/apps (with an app)").await;
        assert_keyboard_walk(&page, "/apps (with an app)").await;
        let errors = console.lock().unwrap().clone();
        assert!(errors.is_empty(), "console errors: {errors:?}");

        // On a phone the navigation is one button; it opens the sections.
        page.execute(SetDeviceMetricsOverrideParams::new(390, 844, 3.0, true)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let header = eval(&page, "document.querySelector('header.top').getBoundingClientRect().height").await;
        assert!(header.as_f64().unwrap() < 70.0, "the header at 390 px is {header} px tall");
        click(&page, "#nav-toggle").await;
        until(&page, "the open menu", 5, "document.getElementById('main-nav').offsetHeight > 100 && document.getElementById('nav-toggle').getAttribute('aria-expanded') === 'true'").await;
        page.execute(ClearDeviceMetricsOverrideParams::default()).await.unwrap();
        browser.close().await.ok();
    });
}
