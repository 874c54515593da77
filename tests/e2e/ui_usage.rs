//! The Usage page in real Chromium after real runs: three runs on two
//! providers (llama.cpp's server serving the test model under two names)
//! show both in the charts, with the counts of `/api/usage`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::ui::{chromium, eval, shoot, until, watch_console};

#[test]
fn usage_charts_show_both_providers_after_three_runs() {
    let s = crate::ui::LlmStack::up();
    let (stack, ui) = (&s.stack, s.ui);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let api = s.api_with(&[("llama", "Llama"), ("llama-two", "Llama Two")]).await;
        // One after another: llama-cpp-python's server answers concurrent
        // requests with empty completions.
        let mut runs = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        for provider in ["llama", "llama", "llama-two"] {
            let (st, body) = api.post("/api/runs", json!({ "providerId": provider, "prompt": "Count from 1 to 10, one number per line." })).await;
            assert_eq!(st, 202, "{body}");
            let id = body["runId"].as_str().unwrap().to_string();
            while api.get(&format!("/api/runs/{id}")).await["isActive"] != false {
                assert!(Instant::now() < deadline, "run {id} did not end");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            runs.push(id);
        }
        let usage = api.get("/api/usage").await;
        assert_eq!(usage["totalSessions"], 3, "{usage}");
        assert_eq!(usage["topModels"][0]["model"], "smollm2", "{usage}");
        assert!(usage["topModels"][0]["tokens"].as_u64().unwrap() > 0, "the model's tokens counted: {usage}");
        for id in &runs {
            let run = api.get(&format!("/api/runs/{id}")).await;
            assert_eq!(run["success"], true, "{run}");
        }

        let (mut browser, _profile) = chromium().await;
        let page = browser.new_page("about:blank").await.unwrap();
        page.goto(format!("http://127.0.0.1:{ui}/login?token={}", stack.owner_token())).await.unwrap();
        until(&page, "the dashboard", 10, "document.body.dataset.page === 'dashboard'").await;
        let console = watch_console(&page).await;
        page.goto(format!("http://127.0.0.1:{ui}/usage")).await.unwrap();
        until(&page, "the charts", 15, "document.body.dataset.usageLoaded === 'true'").await;
        // Today's bar holds a segment per provider: 2 runs and 1 run.
        let runs_chart = eval(&page, "[...document.querySelectorAll('#usage-runs rect[data-provider]')].map((r) => `${r.dataset.provider}=${r.dataset.value}`).sort().join(',')").await;
        assert_eq!(runs_chart, "llama-two=1,llama=2");
        let legend = eval(&page, "document.querySelector('#usage-runs .legend').textContent").await;
        let legend = legend.as_str().unwrap();
        assert!(legend.contains("Llama") && legend.contains("Llama Two"), "{legend}");
        let tokens = eval(&page, "new Set([...document.querySelectorAll('#usage-tokens rect[data-provider]')].map((r) => r.dataset.provider)).size").await;
        let daily = api.get("/api/usage/daily?days=1").await;
        assert_eq!(tokens, 2, "tokens drawn for both providers: {daily}");
        assert_eq!(eval(&page, "document.getElementById('usage-tiles').textContent.includes('Sessions3')").await, true);
        shoot(&page, "usage").await;
        let errors = console.lock().unwrap().clone();
        assert!(errors.is_empty(), "console errors: {errors:?}");
        browser.close().await.ok();
    });
}
