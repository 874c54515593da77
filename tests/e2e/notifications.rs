//! Notifications through the real stack in real Chromium: a process the
//! supervisor gives up on (`errored`) reaches the bell of an open page over
//! the live socket and the dashboard's health strip; opening it marks it
//! read, and that survives an api server restart.

use std::time::{Duration, Instant};

use portos_e2e::{Stack, free_port, sh_process, wait_for};

use crate::http::Api;
use crate::ui::{chromium, eval, shoot, until, watch_console};

#[test]
fn an_errored_process_rings_the_bell_and_read_stays_read() {
    let (api, ui) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let trigger = dir.path().join("crash-now");
    // Waits for the trigger, then exits at once on every start: a crash loop.
    let script = format!(
        "while [ ! -f {} ]; do sleep 0.05; done; exit 3",
        trigger.display()
    );
    let config = format!(
        "{}\n{}",
        crate::ui::api_and_ui(api, ui),
        sh_process(
            "flaky",
            &script,
            "max_restarts = 1\nmin_uptime = \"1s\"\nbackoff = \"50ms\""
        )
    );
    let stack = Stack::new(&config);
    stack.ok(&["up", "-d"]);
    let base = format!("http://127.0.0.1:{ui}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (mut browser, _profile) = chromium().await;
        let page = browser.new_page("about:blank").await.unwrap();
        page.goto(format!("{base}/login?token={}", stack.owner_token())).await.unwrap();
        until(&page, "the dashboard", 10, "document.body.dataset.page === 'dashboard'").await;
        let console = watch_console(&page).await;
        until(&page, "the live socket", 10, "live.online && window.portosBell && document.getElementById('bell-count').hidden").await;

        std::fs::write(&trigger, "").unwrap();
        let t0 = Instant::now();
        until(&page, "the bell ringing", 20, "window.portosBell.count === 1 && window.portosBell.items[0].title.startsWith('flaky')").await;
        println!("errored → on the page's bell: {} ms after the trigger (the supervisor's crash loop included)", t0.elapsed().as_millis());
        assert_eq!(eval(&page, "document.getElementById('bell-count').textContent").await, "1");
        assert!(eval(&page, "document.getElementById('toasts').textContent").await.as_str().unwrap().contains("flaky stopped: errored"));
        let p = stack.process("flaky");
        assert_eq!(p["state"], "errored", "{p}");
        // The dashboard's health strip says so too (read when the page loads).
        page.reload().await.unwrap();
        until(&page, "the health strip", 10, "document.getElementById('health').dataset.health === 'critical' && document.getElementById('health').textContent.includes('1 errored')").await;
        until(&page, "the bell after the reload", 10, "window.portosBell.count === 1").await;
        shoot(&page, "bell").await;

        // Opened from the list: read, and the page goes where it points.
        eval(&page, "document.getElementById('bell').click(); true").await;
        until(&page, "the list", 5, "!document.getElementById('bell-panel').hidden && !!document.querySelector('#bell-list .note-open')").await;
        shoot(&page, "bell-open").await;
        eval(&page, "document.querySelector('#bell-list .note-open').click(); true").await;
        until(&page, "the page it points to", 10, "document.body.dataset.page === 'logs'").await;
        until(&page, "nothing unread", 10, "window.portosBell && window.portosBell.count === 0 && window.portosBell.items.length === 1").await;
        let errors = console.lock().unwrap().clone();
        assert!(errors.is_empty(), "console errors: {errors:?}");
        browser.close().await.ok();
    });

    // Read stays read across an api server restart.
    stack.ok(&["restart", "portos-server"]);
    let client = Api::new(api, &stack.owner_token());
    wait_for(Duration::from_secs(20), "the api server back", || {
        std::net::TcpStream::connect(("127.0.0.1", api)).ok()
    });
    rt.block_on(async {
        let (status, list) = client
            .call(reqwest::Method::GET, "/api/notifications", None)
            .await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(
            (list[0]["read"].as_bool(), list[0]["type"].as_str()),
            (Some(true), Some("health_issue")),
            "{list}"
        );
        assert_eq!(list[0]["metadata"]["process"], "flaky");
    });
}
