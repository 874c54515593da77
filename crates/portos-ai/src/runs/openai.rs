//! An API run: OpenAI-compatible chat completions, streamed (SSE), with a
//! deadline, and cancellation that drops the connection, so the server stops
//! generating. LM Studio, Ollama (its `/v1`), llama.cpp and hosted APIs alike.

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use portos_store::types::Provider;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::Attempt;
use super::analyze::{Analysis, analyze, analyze_http};

/// Runs `prompt` on `provider`, handing each piece of text to `on_text`.
pub async fn run(
    http: &reqwest::Client,
    provider: &Provider,
    model: Option<&str>,
    prompt: &str,
    cancel: &CancellationToken,
    timeout: Duration,
    on_text: &mut (dyn FnMut(&str) + Send),
) -> Attempt {
    let endpoint = provider
        .endpoint
        .as_deref()
        .unwrap_or_default()
        .trim_end_matches('/');
    if endpoint.is_empty() {
        return Attempt::failed(Analysis {
            message: Some(format!("provider {} has no endpoint", provider.id)),
            ..analyze("network error", None)
        });
    }
    let mut req = http
        .post(format!("{endpoint}/chat/completions"))
        .json(&json!({
            "model": model.or(provider.default_model.as_deref()).unwrap_or_default(),
            "messages": [{ "role": "user", "content": prompt }],
            "stream": true,
        }));
    if let Some(key) = provider.api_key.as_deref().filter(|k| !k.is_empty()) {
        req = req.bearer_auth(key);
    }
    let work = async {
        let mut attempt = Attempt::default();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let why = if e.is_connect() {
                    format!("connection refused by {endpoint}")
                } else {
                    e.without_url().to_string()
                };
                return Attempt::failed(Analysis {
                    message: Some(format!("API not reachable: {why}")),
                    ..analyze("network error", None)
                });
            }
        };
        let status = resp.status();
        if !status.is_success() {
            let reason = status.canonical_reason().unwrap_or_default().to_string();
            let body = resp.text().await.unwrap_or_default();
            return Attempt::failed(analyze_http(status.as_u16(), &reason, &body));
        }
        let mut events = resp.bytes_stream().eventsource();
        let mut reasoning = String::new();
        let mut produced = false;
        while let Some(event) = events.next().await {
            let event = match event {
                Ok(e) => e,
                Err(e) => {
                    attempt.fail(analyze(&format!("stream error: {e}"), None));
                    return attempt;
                }
            };
            if event.data.trim() == "[DONE]" {
                break;
            }
            let Ok(v) = serde_json::from_str::<Value>(&event.data) else {
                continue;
            };
            if let Some(err) = v.get("error") {
                attempt.fail(analyze(&err.to_string(), Some(1)));
                return attempt;
            }
            let delta = &v["choices"][0]["delta"];
            if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
                produced = true;
                on_text(text);
            }
            for key in ["reasoning", "reasoning_content"] {
                if let Some(r) = delta[key].as_str() {
                    reasoning.push_str(r);
                }
            }
            if let Some(n) = v["usage"]["completion_tokens"].as_u64() {
                attempt.tokens = Some(n);
            }
        }
        attempt.had_reasoning = !reasoning.is_empty();
        // A reasoning model that put everything in its reasoning.
        if !produced && !reasoning.trim().is_empty() {
            attempt.used_reasoning = true;
            on_text(&reasoning);
        }
        attempt.exit_code = Some(0);
        attempt
    };
    // Leaving this function drops the request: its connection closes, and
    // the server stops generating.
    tokio::select! {
        a = work => a,
        () = cancel.cancelled() => Attempt { stopped: true, ..Attempt::default() },
        () = tokio::time::sleep(timeout) => Attempt::failed(Analysis {
            message: Some(format!("no complete answer within {} s", timeout.as_secs())),
            ..analyze("timed out", None)
        }),
    }
}
