//! The Chief of Staff page in real Chromium (issue 16), with a real model in
//! the loop: the owner writes a short task, has llama.cpp's server (SmolLM2)
//! rewrite it with "Enhance with AI", adds it for the app `demo`, watches
//! its agent's output arrive on the page and sees the task completed; the
//! keyboard reorders pending tasks; the page fits a phone.

use chromiumoxide::cdp::browser_protocol::emulation::{
    ClearDeviceMetricsOverrideParams, SetDeviceMetricsOverrideParams,
};
use serde_json::json;

use crate::cos::{add, cos_stack, task};
use crate::ui::{assert_labelled, chromium, eval, shoot, until, watch_console};

#[test]
fn the_owner_adds_an_enhanced_task_and_watches_its_agent_complete_it() {
    let ui = portos_e2e::free_port();
    let s = cos_stack(Some(ui));
    let llm = portos_e2e::LlmServer::start("");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let api = s.client();
        s.ready(&api, json!({})).await;
        let (st, body) = api
            .post("/api/providers", json!({"id": "llama", "name": "llama.cpp", "type": "api", "endpoint": llm.endpoint(), "defaultModel": "smollm2"}))
            .await;
        assert_eq!(st, 201, "{body}");
        // The enhancement over REST first: the model's words, not ours.
        let (st, e) = api
            .post("/api/cos/tasks/enhance", json!({"description": "add a greeting to notes.txt", "providerId": "llama"}))
            .await;
        assert_eq!(st, 200, "{e}");
        let enhanced = e["enhancedDescription"].as_str().unwrap();
        assert!(!enhanced.is_empty() && enhanced != "add a greeting to notes.txt", "{e}");
        assert_eq!(e["provider"], "llama");
        let runs = api.get("/api/runs?source=cos-enhance").await;
        assert!(runs.to_string().contains("cos-enhance"), "the enhancement is a run like any other: {runs}");
        // Two pending tasks that will wait (the CoS is paused), for the keyboard.
        api.post("/api/cos/pause", json!({"reason": "arranging"})).await;
        let first = add(&api, json!({"description": "first in line", "app": "demo"})).await;
        let second = add(&api, json!({"description": "second in line", "app": "demo"})).await;

        let (mut browser, _profile) = chromium().await;
        let page = browser.new_page("about:blank").await.unwrap();
        page.goto(format!("http://127.0.0.1:{ui}/login?token={}", s.stack.owner_token())).await.unwrap();
        until(&page, "the dashboard", 10, "document.body.dataset.page === 'dashboard'").await;
        let console = watch_console(&page).await;
        page.goto(format!("http://127.0.0.1:{ui}/cos")).await.unwrap();
        until(&page, "the page", 10, "document.body.dataset.cosLoaded").await;
        assert_eq!(eval(&page, "document.getElementById('cos-state').textContent").await, "paused");
        assert_labelled(&page, "/cos").await;
        // ↓ on the first moves it below the second, and it sticks.
        eval(&page, &format!("document.querySelector('[data-task=\"{first}\"] button[aria-label^=\"Move down\"]').click(); true")).await;
        until(&page, "the new order", 10, &format!(
            "(() => {{ const ids = [...document.querySelectorAll('[data-column=pending] [data-task]')].map((l) => l.dataset.task); return ids.indexOf('{second}') < ids.indexOf('{first}') || null }})()"
        )).await;
        let md = s.tasks_md();
        assert!(md.find(&second).unwrap() < md.find(&first).unwrap(), "{md}");
        for id in [&first, &second] {
            let (st, _) = api.call(reqwest::Method::DELETE, &format!("/api/cos/tasks/{id}"), None).await;
            assert_eq!(st, 200);
        }
        eval(&page, "document.getElementById('cos-pause').click(); true").await;
        until(&page, "running", 10, "document.getElementById('cos-state').textContent === 'running' || null").await;

        // A short task, rewritten by the model, added for the app.
        eval(&page, "document.getElementById('cos-desc').value = 'add a greeting to notes.txt (SLOW 2)'; document.getElementById('cos-enhance').click(); true").await;
        let rewritten = until(&page, "the model's rewrite", 120,
            "(() => { const d = document.getElementById('cos-desc').value; return d !== 'add a greeting to notes.txt (SLOW 2)' && !document.getElementById('cos-enhance').disabled ? d : null })()").await;
        assert!(!rewritten.as_str().unwrap().trim().is_empty());
        // The agent script waits when told: keep SLOW in what the model wrote.
        eval(&page, "const d = document.getElementById('cos-desc'); d.value = d.value + ' (SLOW 2)'; document.getElementById('cos-app').value = 'demo'; document.getElementById('cos-add').requestSubmit(); true").await;
        let card = "document.querySelector('#cos-agents [data-agent]')";
        until(&page, "the agent's output on the page", 30, &format!(
            "(() => {{ const c = {card}; return c && c.querySelector('pre').textContent.includes('agent: editing notes.txt') || null }})()"
        )).await;
        until(&page, "the agent completed", 30, &format!(
            "(() => {{ const c = {card}; return c && c.querySelector('[data-role=status]').textContent === 'completed' || null }})()"
        )).await;
        let done = until(&page, "the task in Completed", 10,
            "(() => { const l = document.querySelector('[data-column=completed] [data-task]'); return l ? l.dataset.task : null })()").await;
        let t = task(&api, done.as_str().unwrap()).await;
        assert_eq!(t["status"], "completed", "{t}");
        assert_eq!(t["metadata"]["app"], "demo");
        assert!(std::fs::read_to_string(s.repo.join("notes.txt")).unwrap().contains(&format!("done {}", t["id"].as_str().unwrap())));
        until(&page, "the learning table", 10, "document.querySelector('#cos-learning tbody th') ? document.querySelector('#cos-learning tbody th').textContent : null").await;

        // On a phone: nothing wider than the screen.
        page.execute(SetDeviceMetricsOverrideParams::new(390, 844, 3.0, true)).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(eval(&page, "document.documentElement.scrollWidth <= window.innerWidth").await, true, "the CoS page is wider than a phone");
        shoot(&page, "cos-phone").await;
        page.execute(ClearDeviceMetricsOverrideParams::default()).await.unwrap();
        shoot(&page, "cos").await;
        let errors = console.lock().unwrap().clone();
        assert!(errors.is_empty(), "console errors: {errors:?}");
        browser.close().await.ok();
    });
}
