//! A local LM Studio server — its status, its models (load,
//! unload, download), a completion and embeddings — against LM Studio's own
//! API (`/api/v0`, `/api/v1/models/*`) with the OpenAI-compatible `/v1` as the
//! fallback, so any OpenAI-compatible server answers the common part.
//! Also the original's "local thinking": a task's complexity (the local model's
//! judgement, else a keyword estimate), a memory's classification, and counts.
//! Better than the original: the address is kept in `settings.json`
//! (`lmStudio`), not lost at restart, and must be an http(s) URL.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use portos_store::types::{Settings, files};
use serde_json::{Value, json};

use crate::Ai;
use crate::AiError;
use portos_core::Refuse;
use portos_core::time::now_iso;

const DEFAULT_BASE: &str = "http://localhost:1234";
/// How long an availability answer is trusted.
const AVAILABILITY_TTL: Duration = Duration::from_secs(30);

/// What the api server remembers of LM Studio between requests.
#[derive(Debug, Default)]
pub struct LmState {
    inner: Mutex<Seen>,
    thinking: Mutex<Thinking>,
}

#[derive(Debug, Default)]
struct Seen {
    checked: Option<(Instant, String, bool)>,
    last_check_at: Option<String>,
    last_success_at: Option<String>,
    last_error: Option<String>,
    consecutive_errors: u64,
}

impl LmState {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The configuration: `settings.json` → `lmStudio`, with the defaults.
async fn config(ai: &Ai) -> Result<Value, AiError> {
    let s: Settings = ai.store.load(files::SETTINGS).await?;
    let c = s.get("lmStudio").cloned().unwrap_or_else(|| json!({}));
    Ok(json!({
        "baseUrl": c["baseUrl"].as_str().unwrap_or(DEFAULT_BASE).trim_end_matches('/'),
        "timeout": c["timeout"].as_u64().unwrap_or(30_000),
        "defaultThinkingModel": c["defaultThinkingModel"].as_str().unwrap_or("gpt-oss-20b"),
    }))
}

fn base(c: &Value) -> String {
    c["baseUrl"].as_str().unwrap_or(DEFAULT_BASE).to_string()
}

/// One call to LM Studio; its JSON, or "LM Studio API error: …".
async fn call(
    ai: &Ai,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
    timeout: Duration,
) -> Result<Value, String> {
    let mut req = ai.http.request(method, url).timeout(timeout);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.map_err(|e| {
        if e.is_timeout() {
            format!("LM Studio did not answer within {timeout:?}")
        } else {
            format!("LM Studio not reachable: {}", e.without_url())
        }
    })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!(
            "LM Studio API error: {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or_default()
        ));
    }
    resp.json()
        .await
        .map_err(|e| format!("LM Studio answered no JSON: {e}"))
}

/// Whether LM Studio answers (`GET /v1/models`, 5 s), trusted for 30 s.
async fn available(ai: &Ai, c: &Value) -> bool {
    let url = base(c);
    if let Some((at, u, ok)) = &ai.lmstudio.seen().checked
        && *u == url
        && at.elapsed() < AVAILABILITY_TTL
    {
        return *ok;
    }
    let r = call(
        ai,
        reqwest::Method::GET,
        format!("{url}/v1/models"),
        None,
        Duration::from_secs(5),
    )
    .await;
    let mut seen = ai.lmstudio.seen();
    seen.last_check_at = Some(now_iso());
    let ok = r.is_ok();
    match r {
        Ok(_) => {
            seen.last_success_at = Some(now_iso());
            seen.consecutive_errors = 0;
        }
        Err(e) => {
            seen.last_error = Some(e);
            seen.consecutive_errors += 1;
        }
    }
    seen.checked = Some((Instant::now(), url, ok));
    ok
}

/// The loaded models: LM Studio's native list, else the `/v1` one.
async fn models(ai: &Ai, c: &Value) -> Result<Vec<Value>, String> {
    let url = base(c);
    let timeout = Duration::from_millis(c["timeout"].as_u64().unwrap_or(30_000));
    if let Ok(v) = call(
        ai,
        reqwest::Method::GET,
        format!("{url}/api/v0/models"),
        None,
        timeout,
    )
    .await
    {
        return Ok(v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["state"] == "loaded")
            .map(|m| {
                json!({
                    "id": m["id"], "object": m["object"], "type": m["type"], "arch": m["arch"],
                    "quantization": m["quantization"], "state": m["state"],
                    "maxContextLength": m["max_context_length"], "ownedBy": m["publisher"],
                })
            })
            .collect());
    }
    let v = call(
        ai,
        reqwest::Method::GET,
        format!("{url}/v1/models"),
        None,
        timeout,
    )
    .await?;
    Ok(v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| json!({ "id": m["id"], "object": m["object"], "created": m["created"], "ownedBy": m["owned_by"] }))
        .collect())
}

/// The original's pick: the first loaded model named like a good thinker.
fn recommended(models: &[Value]) -> Value {
    let ids: Vec<&str> = models.iter().filter_map(|m| m["id"].as_str()).collect();
    [
        "gpt-oss-20b",
        "deepseek-r1",
        "qwen2.5-coder",
        "codellama",
        "mistral",
        "llama",
    ]
    .iter()
    .find_map(|want| ids.iter().find(|id| id.to_lowercase().contains(want)))
    .or(ids.first())
    .map_or(Value::Null, |id| json!(id))
}

/// One chat completion, not streamed, within the configured timeout.
async fn chat(
    ai: &Ai,
    c: &Value,
    model: &Value,
    messages: Vec<Value>,
    max_tokens: u64,
    temperature: f64,
) -> Result<Value, String> {
    let body = json!({
        "model": model, "messages": messages, "stream": false,
        "max_tokens": max_tokens, "temperature": temperature,
    });
    let timeout = Duration::from_millis(c["timeout"].as_u64().unwrap_or(30_000));
    let url = format!("{}/v1/chat/completions", base(c));
    call(ai, reqwest::Method::POST, url, Some(body), timeout).await
}

/// What LM Studio is doing: `{ available, baseUrl, loadedModels, models, recommendedThinkingModel, lastCheckAt, … }`.
pub async fn status(ai: &Ai) -> Result<Value, AiError> {
    let c = config(ai).await?;
    let up = available(ai, &c).await;
    let list = if up {
        models(ai, &c).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let seen = ai.lmstudio.seen();
    Ok(json!({
        "available": up, "baseUrl": base(&c), "loadedModels": list.len(),
        "models": list.iter().map(|m| m["id"].clone()).collect::<Vec<_>>(),
        "recommendedThinkingModel": recommended(&list),
        "lastCheckAt": seen.last_check_at, "lastSuccessAt": seen.last_success_at,
        "lastError": seen.last_error, "consecutiveErrors": seen.consecutive_errors,
    }))
}

/// The loaded models; `LMSTUDIO_UNAVAILABLE` when LM Studio is not there.
pub async fn list_models(ai: &Ai) -> Result<Value, AiError> {
    let c = config(ai).await?;
    let unavailable = || {
        AiError::problem(
            portos_core::Kind::Unavailable,
            "LMSTUDIO_UNAVAILABLE",
            "LM Studio not available",
        )
        .with_context(json!({ "available": false }))
    };
    if !available(ai, &c).await {
        return Err(unavailable());
    }
    let list = models(ai, &c).await.map_err(|_| unavailable())?;
    Ok(json!({
        "available": true, "count": list.len(), "recommendedThinkingModel": recommended(&list), "models": list,
    }))
}

fn required<'a>(b: &'a Value, field: &str) -> Result<&'a str, AiError> {
    b[field]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AiError::validation(format!("{field} is required")))
}

/// `download`, `load` or `unload` of a model (`{ modelId }`).
pub async fn model_action(ai: &Ai, body: &Value, action: ModelAction) -> Result<Value, AiError> {
    let (action, secs) = (action.word(), action.secs());
    let model = required(body, "modelId")?;
    let c = config(ai).await?;
    let url = format!("{}/api/v1/models/{action}", base(&c));
    let r = call(
        ai,
        reqwest::Method::POST,
        url,
        Some(json!({ "model": model })),
        Duration::from_secs(secs),
    )
    .await;
    ai.lmstudio.seen().checked = None;
    Ok(match r {
        Ok(Value::Object(mut m)) => {
            m.insert("success".into(), json!(true));
            m.insert("modelId".into(), json!(model));
            Value::Object(m)
        }
        Ok(_) => json!({ "success": true, "modelId": model }),
        Err(e) => json!({ "success": false, "error": e, "modelId": model }),
    })
}

/// What can be done to a model through LM Studio's own API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelAction {
    Download,
    Load,
    Unload,
}

impl ModelAction {
    fn word(self) -> &'static str {
        match self {
            ModelAction::Download => "download",
            ModelAction::Load => "load",
            ModelAction::Unload => "unload",
        }
    }

    /// How long LM Studio may take to answer it.
    fn secs(self) -> u64 {
        match self {
            ModelAction::Download => 10,
            ModelAction::Load => 60,
            ModelAction::Unload => 15,
        }
    }
}

/// `{ prompt, model?, maxTokens?, temperature?, systemPrompt? }`.
pub async fn completion(ai: &Ai, b: &Value) -> Result<Value, AiError> {
    let prompt = required(b, "prompt")?;
    let c = config(ai).await?;
    let model = match b["model"].as_str() {
        Some(m) => json!(m),
        None => recommended(&models(ai, &c).await.unwrap_or_default()),
    };
    if model.is_null() {
        return Ok(json!({ "success": false, "error": "No model available" }));
    }
    let mut messages = Vec::new();
    if let Some(system) = b["systemPrompt"].as_str() {
        messages.push(json!({ "role": "system", "content": system }));
    }
    messages.push(json!({ "role": "user", "content": prompt }));
    let max_tokens = b["maxTokens"].as_u64().unwrap_or(512);
    let temperature = b["temperature"].as_f64().unwrap_or(0.7);
    Ok(
        match chat(ai, &c, &model, messages, max_tokens, temperature).await {
            Ok(v) => json!({
                "success": true, "content": v["choices"][0]["message"]["content"],
                "model": model, "usage": v["usage"],
            }),
            Err(e) => json!({ "success": false, "error": e, "model": model }),
        },
    )
}

/// `{ text, model? }`.
pub async fn embeddings(ai: &Ai, b: &Value) -> Result<Value, AiError> {
    let text = required(b, "text")?;
    let c = config(ai).await?;
    let list = models(ai, &c).await.unwrap_or_default();
    let model = match b["model"].as_str() {
        Some(m) => json!(m),
        None => list
            .iter()
            .find(|m| m["type"] == "embeddings")
            .or(list.first())
            .map_or(Value::Null, |m| m["id"].clone()),
    };
    let url = format!("{}/v1/embeddings", base(&c));
    let body = json!({ "model": model, "input": text });
    Ok(
        match call(
            ai,
            reqwest::Method::POST,
            url,
            Some(body),
            Duration::from_secs(10),
        )
        .await
        {
            Ok(v) => {
                let vector = v["data"][0]["embedding"].clone();
                let dims = vector.as_array().map_or(0, Vec::len);
                json!({ "success": true, "embedding": vector, "model": model, "dimensions": dims })
            }
            Err(e) => json!({ "success": false, "error": e, "model": model }),
        },
    )
}

/// `{ baseUrl?, timeout?, defaultThinkingModel? }`, kept in settings.
pub async fn set_config(ai: &Ai, b: &Value) -> Result<Value, AiError> {
    if let Some(u) = b.get("baseUrl").filter(|v| !v.is_null()) {
        let ok = u
            .as_str()
            .is_some_and(|u| u.starts_with("http://") || u.starts_with("https://"));
        if !ok {
            return Err(AiError::validation(format!(
                "baseUrl must be an http:// or https:// URL, not {u}"
            )));
        }
    }
    if let Some(t) = b.get("timeout").filter(|v| !v.is_null())
        && !t.as_u64().is_some_and(|t| (1_000..=600_000).contains(&t))
    {
        return Err(AiError::validation(format!(
            "timeout must be 1000-600000 ms, not {t}"
        )));
    }
    ai.store
        .update(files::SETTINGS, |s: &mut Settings| {
            let lm = s.entry("lmStudio").or_insert_with(|| json!({}));
            if !lm.is_object() {
                *lm = json!({});
            }
            for k in ["baseUrl", "timeout", "defaultThinkingModel"] {
                if let Some(v) = b.get(k).filter(|v| !v.is_null()) {
                    lm[k] = v.clone();
                }
            }
            Ok::<(), ()>(())
        })
        .await?
        .ok();
    ai.lmstudio.seen().checked = None;
    Ok(json!({ "success": true, "config": config(ai).await? }))
}

/// Forgets the last availability answer.
pub async fn reset_cache(ai: &Ai) -> Value {
    ai.lmstudio.seen().checked = None;
    json!({ "success": true, "message": "Cache reset" })
}

/// Counts of task analyses (`thinking-stats`).
#[derive(Debug, Default, Clone, Copy)]
struct Thinking {
    analyses: u64,
    escalations: u64,
    successes: u64,
    failures: u64,
}

/// The original's keyword estimate of a task's complexity (0 to 1).
fn keyword_complexity(text: &str) -> f64 {
    const HIGH: &[&str] = &[
        "refactor",
        "architect",
        "design",
        "security",
        "audit",
        "optimize",
        "performance",
        "migration",
        "integrate",
        "test coverage",
        "comprehensive",
        "entire codebase",
    ];
    const LOW: &[&str] = &[
        "format",
        "rename",
        "typo",
        "comment",
        "simple",
        "minor",
        "quick",
        "small",
        "straightforward",
    ];
    let lower = text.to_lowercase();
    let mut score: f64 = 0.5;
    if HIGH.iter().any(|w| lower.contains(w)) {
        score = score.max(0.8);
    }
    if LOW.iter().any(|w| lower.contains(w)) {
        score = score.min(0.3);
    }
    if text.chars().count() > 500 {
        score += 0.1;
    }
    if text.chars().count() > 1000 {
        score += 0.1;
    }
    (score.min(1.0) * 100.0).round() / 100.0
}

/// The first JSON object in a model's reply.
fn json_in(reply: &str) -> Option<Value> {
    let (start, end) = (reply.find('{')?, reply.rfind('}')?);
    serde_json::from_str(reply.get(start..=end)?).ok()
}

/// One short, low-temperature completion from the recommended model.
async fn ask(ai: &Ai, prompt: &str, max_tokens: u64) -> Result<String, String> {
    let c = config(ai).await.map_err(|e| e.to_string())?;
    if !available(ai, &c).await {
        return Err("LM Studio not available".into());
    }
    let model = recommended(&models(ai, &c).await?);
    if model.is_null() {
        return Err("No model available".into());
    }
    let messages = vec![json!({ "role": "user", "content": prompt })];
    let v = chat(ai, &c, &model, messages, max_tokens, 0.3).await?;
    Ok(v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// `{ description, id?, metadata? }`.
pub async fn analyze_task(ai: &Ai, b: &Value) -> Result<Value, AiError> {
    let description = required(b, "description")?;
    let estimate = keyword_complexity(description);
    let prompt = format!(
        "Rate this software task. Answer with JSON only: {{\"complexity\": 0..1, \"requiresCodeUnderstanding\": bool, \"requiresMultiFileChanges\": bool, \"requiresArchitecturalDecisions\": bool, \"suggestedApproach\": string, \"potentialRisks\": [string]}}.\nTask: {description}"
    );
    let reply = ask(ai, &prompt, 256).await;
    let parsed = reply.as_ref().ok().and_then(|r| json_in(r));
    let out = match (&reply, parsed) {
        (Ok(_), Some(v)) => {
            let complexity = v["complexity"].as_f64().unwrap_or(estimate).clamp(0.0, 1.0);
            let multi = v["requiresMultiFileChanges"] == true;
            let arch = v["requiresArchitecturalDecisions"] == true;
            let escalate = complexity > 0.8 || arch || (multi && complexity > 0.6);
            let risks = v["potentialRisks"].clone();
            json!({
                "complexity": complexity, "escalateToCloud": escalate,
                "reason": if escalate { "local model judged the task complex" } else { "local model judged the task manageable" },
                "localAnalysis": true, "requiresCodeUnderstanding": v["requiresCodeUnderstanding"],
                "requiresMultiFileChanges": multi, "requiresArchitecturalDecisions": arch,
                "suggestedApproach": v["suggestedApproach"], "potentialRisks": risks,
                "suggestions": if risks.is_array() { risks.clone() } else { json!([]) },
            })
        }
        (reply, _) => {
            let mut out = json!({
                "complexity": estimate, "escalateToCloud": estimate > 0.6,
                "reason": "keyword estimate (no usable local analysis)", "localAnalysis": false,
                "suggestions": [],
            });
            if let Ok(raw) = reply {
                out["rawResponse"] = json!(raw);
            }
            out
        }
    };
    {
        let mut t = ai
            .lmstudio
            .thinking
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        t.analyses += 1;
        t.escalations += u64::from(out["escalateToCloud"] == true);
        if out["localAnalysis"] == true {
            t.successes += 1;
        } else {
            t.failures += 1;
        }
    }
    let mut out = out;
    if let Some(id) = b.get("id") {
        out["taskId"] = id.clone();
    }
    Ok(out)
}

/// `{ content }`.
pub async fn classify_memory(ai: &Ai, b: &Value) -> Result<Value, AiError> {
    let content = required(b, "content")?;
    let excerpt: String = content.chars().take(300).collect();
    let prompt = format!(
        "Classify this memory. Answer with JSON only: {{\"type\": \"fact|learning|observation|decision|preference\", \"category\": string, \"tags\": [string], \"importance\": 0..1}}.\nMemory: {excerpt}"
    );
    Ok(match ask(ai, &prompt, 128).await {
        Err(e) => json!({ "success": false, "error": e }),
        Ok(raw) => match json_in(&raw) {
            Some(v) if v["type"].is_string() => json!({
                "success": true, "type": v["type"], "category": v["category"],
                "tags": if v["tags"].is_array() { v["tags"].clone() } else { json!([]) },
                "importance": v["importance"].as_f64().unwrap_or(0.5),
            }),
            _ => {
                json!({ "success": false, "error": "the local model gave no usable classification", "rawResponse": raw })
            }
        },
    })
}

/// Counts of task analyses: `{ localAnalyses, cloudEscalations, …, escalationRate }`.
pub async fn thinking_stats(ai: &Ai) -> Value {
    let t = *ai
        .lmstudio
        .thinking
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let rate = |n: u64| {
        if t.analyses == 0 {
            "0%".to_string()
        } else {
            format!("{:.1}%", n as f64 * 100.0 / t.analyses as f64)
        }
    };
    json!({
        "localAnalyses": t.analyses, "cloudEscalations": t.escalations,
        "localSuccesses": t.successes, "localFailures": t.failures,
        "localSuccessRate": rate(t.successes), "escalationRate": rate(t.escalations),
    })
}
