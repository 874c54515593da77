//! The brain in real Chromium with llama.cpp's server and the test model: a
//! thought typed into the Brain page is classified by the real model and
//! ends filed, or in review with the reason shown — never a 500 and never
//! stuck, whatever the model answers. The dashboard's quick capture saves a
//! URL as a link.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::ui::{assert_labelled, chromium, eval, shoot, until, watch_console};

#[test]
fn a_thought_is_classified_by_the_real_model_and_filed_or_reviewed_with_the_reason() {
    let s = crate::ui::LlmStack::up();
    let (stack, ui) = (&s.stack, s.ui);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let api = s.api_with(&[("llama", "Llama")]).await;
        let (st, body) = api.put("/api/brain/settings", json!({ "defaultProvider": "llama", "defaultModel": "" })).await;
        assert_eq!(st, 200, "{body}");
        // The api server installed the brain's stages into the fresh data dir.
        let stage = api.get("/api/prompts/brain-classifier").await;
        assert!(stage["template"].as_str().is_some_and(|t| t.contains("{{capturedText}}")), "{stage}");

        let (mut browser, _profile) = chromium().await;
        let page = browser.new_page("about:blank").await.unwrap();
        page.goto(format!("http://127.0.0.1:{ui}/login?token={}", stack.owner_token())).await.unwrap();
        until(&page, "the dashboard", 10, "document.body.dataset.page === 'dashboard'").await;
        let console = watch_console(&page).await;
        page.goto(format!("http://127.0.0.1:{ui}/brain")).await.unwrap();
        until(&page, "the inbox", 15, "!!document.body.dataset.inboxLoaded").await;
        assert_labelled(&page, "/brain").await;
        eval(&page, "document.getElementById('brain-text').value = 'Call Dana on Friday about renewing the flat lease'; document.getElementById('brain-capture').requestSubmit(); true").await;
        let started = Instant::now();
        until(&page, "the entry", 10, "!!document.querySelector('#bpanel-inbox li[data-id]')").await;
        // The model answers, whatever it answers, and the page shows where it went.
        until(&page, "the classification", 180, "[...document.querySelectorAll('#bpanel-inbox li[data-id]')].some((li) => li.dataset.status !== 'classifying')").await;
        let took = started.elapsed();
        let inbox = api.get("/api/brain/inbox").await;
        let entry = &inbox["entries"][0];
        let status = entry["status"].as_str().unwrap();
        match status {
            "filed" => {
                let dest = entry["filed"]["destination"].as_str().unwrap();
                let id = entry["filed"]["destinationId"].as_str().unwrap();
                let record = api.get(&format!("/api/brain/{dest}/{id}")).await;
                assert_eq!(record["id"], id, "{record}");
                let shown = eval(&page, "document.querySelector('#inbox-filed [data-role=dest]').textContent").await;
                assert!(shown.as_str().unwrap().starts_with(dest), "{shown}");
            }
            "needs_review" => {
                let reason = entry["error"]["message"].as_str().map(str::to_string).unwrap_or_else(|| {
                    format!("{} at", entry["classification"]["destination"].as_str().unwrap())
                });
                assert!(!reason.is_empty(), "{entry}");
                let shown = eval(&page, "document.querySelector('#inbox-review [data-role=reason]').textContent").await;
                assert!(shown.as_str().unwrap().starts_with(&reason), "page shows {shown}, entry {entry}");
            }
            other => panic!("entry left {other}: {entry}"),
        }
        eprintln!("brain e2e: the model's classification took {took:?}; entry {status}: {}", entry["classification"]);
        // The attempt is a real run on the model, in the run history.
        let runs = api.get("/api/runs?source=brain").await;
        assert_eq!(runs["total"], 1, "{runs}");
        assert_eq!(runs["runs"][0]["providerId"], "llama");
        assert_eq!(runs["runs"][0]["promptStage"], "brain-classifier");
        shoot(&page, "brain").await;

        // Filing by hand works whatever the model did; an entry in review is resolved.
        if status == "needs_review" {
            let (st, r) = api.post("/api/brain/review/resolve", json!({ "inboxLogId": entry["id"], "destination": "admin" })).await;
            assert_eq!(st, 200, "{r}");
        }

        // The dashboard's quick capture: a URL becomes a link.
        page.goto(format!("http://127.0.0.1:{ui}/")).await.unwrap();
        until(&page, "the capture box", 10, "!!document.getElementById('quick-capture')").await;
        eval(&page, "document.getElementById('quick-text').value = 'example.com/reading-list'; document.getElementById('quick-capture').requestSubmit(); true").await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let links = api.get("/api/brain/links").await;
            if links["total"] == 1 {
                assert_eq!(links["links"][0]["url"], "https://example.com/reading-list");
                assert_eq!(links["links"][0]["cloneStatus"], "none");
                break;
            }
            assert!(Instant::now() < deadline, "no link: {links}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let errors = console.lock().unwrap().clone();
        assert!(errors.is_empty(), "console errors: {errors:?}");
        browser.close().await.ok();
        let _: Value = api.get("/api/brain/summary").await;
    });
}
