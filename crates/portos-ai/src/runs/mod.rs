//! AI runs: one prompt executed on one provider (and, when it fails before
//! answering anything, on the providers of its `fallbackProvider` chain, each
//! hop recorded). Stored as the original stores them: `data/runs/<id>/`
//! `metadata.json`, `prompt.txt`, `output.txt`. Live output goes to
//! `run:<id>:data` events (strings) and to gRPC followers; the end to
//! `run:<id>:complete`; usage to `usage.json`; a failure to the `errors`
//! channel. API providers are called here (`openai.rs`); CLI providers run in
//! the chief-of-staff runner (`cli.rs`), so a restart of the api server does
//! not cut them: at start the api server picks up the runs it left.

pub mod analyze;
pub mod cli;
mod index;
mod openai;
mod resume;
pub mod usage;

pub use resume::resume;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portos_store::types::{Provider, ProviderKind};
use serde_json::{Map, Value, json};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::Ai;
use crate::AiError;
use crate::providers;
use analyze::Analysis;
use portos_core::Refuse;
use portos_core::time::{now_iso, now_ms};

/// The runs folder, relative to the data dir.
pub const RUNS_DIR: &str = "runs";
/// A provider's timeout when it names none (the original's).
const DEFAULT_TIMEOUT_MS: u64 = 300_000;

/// What one provider did with the prompt.
#[derive(Debug, Clone, Default)]
pub struct Attempt {
    pub exit_code: Option<i32>,
    pub error: Option<Analysis>,
    pub stopped: bool,
    /// The runner went away with the agent (its output stream broke, or it
    /// says it lost it): nothing is known of how the work ended.
    pub lost: bool,
    /// Output tokens, when the provider counted them.
    pub tokens: Option<u64>,
    pub had_reasoning: bool,
    pub used_reasoning: bool,
}

impl Attempt {
    fn failed(a: Analysis) -> Self {
        Self {
            error: Some(a),
            ..Self::default()
        }
    }

    fn fail(&mut self, a: Analysis) {
        self.error = Some(a);
    }

    fn succeeded(&self) -> bool {
        !self.stopped && self.error.is_none() && self.exit_code == Some(0)
    }
}

/// What a client asks to run.
#[derive(Debug, Clone, Default)]
pub struct NewRun {
    pub provider_id: String,
    pub model: Option<String>,
    pub prompt: String,
    pub workspace_path: Option<String>,
    pub workspace_name: Option<String>,
    pub timeout_ms: Option<u64>,
    pub source: Option<String>,
    /// A stored prompt to run instead of `prompt`, with these values.
    pub stage: Option<String>,
    pub variables: Map<String, Value>,
    /// Arguments for a CLI provider after its own (the chief of staff's
    /// `--model`).
    pub extra_args: Vec<String>,
}

/// A run in flight.
struct Active {
    cancel: CancellationToken,
    output: Mutex<String>,
    /// Each new piece of output and where it starts (in bytes).
    chunks: broadcast::Sender<(usize, String)>,
    done: watch::Receiver<bool>,
}

impl Active {
    fn output(&self) -> std::sync::MutexGuard<'_, String> {
        self.output.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The runs in flight.
#[derive(Default)]
pub struct Runs {
    active: Mutex<HashMap<String, Arc<Active>>>,
    index: index::Index,
}

impl std::fmt::Debug for Runs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runs").finish_non_exhaustive()
    }
}

impl Runs {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Active>>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, id: &str) -> Option<Arc<Active>> {
        self.map().get(id).cloned()
    }

    pub fn is_active(&self, id: &str) -> bool {
        self.map().contains_key(id)
    }
}

fn meta_rel(id: &str) -> String {
    format!("{RUNS_DIR}/{id}/metadata.json")
}

/// A run id names a folder: letters, digits and `-` only.
pub fn check_id(id: &str) -> Result<(), AiError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(AiError::bad_request(
            "INVALID_RUN_ID",
            format!("invalid run id {id:?}"),
        ))
    }
}

fn run_not_found() -> AiError {
    AiError::not_found("Run not found")
}

/// Creates a run and starts it; its first metadata.
pub async fn create(ai: &Ai, mut req: NewRun) -> Result<Value, AiError> {
    if req.provider_id.is_empty() {
        return Err(AiError::validation("providerId is required"));
    }
    if req.prompt.is_empty() {
        match &req.stage {
            Some(stage) => req.prompt = crate::prompts::build(ai, stage, &req.variables).await?,
            None => return Err(AiError::validation("prompt is required")),
        }
    }
    let provider = providers::get(ai, &req.provider_id).await?;
    if !provider.enabled {
        return Err(AiError::bad_request(
            "PROVIDER_DISABLED",
            format!("Provider {} is disabled", provider.id),
        ));
    }
    if let Some(w) = &req.workspace_path
        && !std::path::Path::new(w).is_dir()
    {
        return Err(AiError::validation(format!(
            "workspacePath {w:?} is not a folder"
        )));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let model = req.model.clone().or_else(|| provider.default_model.clone());
    let workspace_path = req.workspace_path.clone().unwrap_or_else(|| {
        std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default()
    });
    let metadata = json!({
        "id": id, "type": "ai", "providerId": provider.id, "providerName": provider.name,
        "providerType": provider_type(&provider),
        "originalProviderId": null, "usedFallback": false, "model": model,
        "workspacePath": workspace_path,
        "workspaceName": req.workspace_name.clone().unwrap_or_else(|| "default".into()),
        "source": req.source.clone().unwrap_or_else(|| "devtools".into()),
        "prompt": req.prompt.chars().take(500).collect::<String>(),
        "startTime": now_iso(), "endTime": null, "duration": null, "exitCode": null,
        "success": null, "error": null, "errorCategory": null, "errorAnalysis": null,
        "outputSize": 0,
    });
    let mut metadata = metadata;
    if let Some(t) = req.timeout_ms {
        metadata["timeoutMs"] = json!(t);
    }
    if !req.extra_args.is_empty() {
        metadata["extraArgs"] = json!(req.extra_args);
    }
    if let Some(stage) = &req.stage {
        metadata["promptStage"] = json!(stage);
    }
    let dir = ai.store.path(RUNS_DIR).join(&id);
    let files = {
        let dir = dir.clone();
        let prompt = req.prompt.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            portos_store::write_atomic(&dir.join("prompt.txt"), prompt.as_bytes())
                .map_err(std::io::Error::other)?;
            portos_store::write_atomic(&dir.join("output.txt"), b"").map_err(std::io::Error::other)
        })
        .await
    };
    files
        .map_err(|e| AiError::internal(e.to_string()))?
        .map_err(|e| AiError::internal(format!("cannot create the run: {e}")))?;
    ai.store.save(&meta_rel(&id), &metadata).await?;
    usage::record_session(ai, &provider.id, &provider.name, model.as_deref()).await;
    let active = start(ai, &id);
    tokio::spawn(execute(ai.clone(), id, provider, req, active, Resume::No));
    Ok(metadata)
}

fn provider_type(p: &Provider) -> &'static str {
    match p.kind {
        ProviderKind::Cli => "cli",
        ProviderKind::Api => "api",
    }
}

fn start(ai: &Ai, id: &str) -> (Arc<Active>, watch::Sender<bool>) {
    let (done_tx, done_rx) = watch::channel(false);
    let active = Arc::new(Active {
        cancel: CancellationToken::new(),
        output: Mutex::new(String::new()),
        chunks: broadcast::channel(1024).0,
        done: done_rx,
    });
    ai.runs.map().insert(id.to_string(), active.clone());
    (active, done_tx)
}

/// Whether a run starts its provider or picks up a CLI run the runner still has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resume {
    No,
    RunnerAgent,
}

async fn execute(
    ai: Ai,
    id: String,
    first: Provider,
    req: NewRun,
    (active, done): (Arc<Active>, watch::Sender<bool>),
    resume: Resume,
) {
    let mut provider = first;
    // The model the session was counted under (the request's, else the provider's).
    let mut model = req.model.clone().or_else(|| provider.default_model.clone());
    let mut hops: Vec<Value> = Vec::new();
    let mut visited = HashSet::from([provider.id.clone()]);
    let mut on_text = |text: &str| {
        if text.is_empty() {
            return;
        }
        let offset = {
            let mut out = active.output();
            let at = out.len();
            out.push_str(text);
            at
        };
        ai.events.broadcast(&format!("run:{id}:data"), &json!(text));
        let _ = active.chunks.send((offset, text.to_string()));
    };
    let attempt = loop {
        // A provider known to be unavailable is passed over for its fallback.
        if resume == Resume::No
            && !crate::status::is_available(&ai, &provider.id).await
            && let Some(next) = next_fallback(&ai, &provider, &visited).await
        {
            let status = crate::status::get(&ai, &provider.id)
                .await
                .unwrap_or_default();
            hops.push(json!({
                "providerId": provider.id, "providerName": provider.name,
                "error": format!("unavailable: {}", status["message"].as_str().unwrap_or("")),
                "errorCategory": status["reason"], "at": now_iso(),
            }));
            visited.insert(next.id.clone());
            provider = next;
            model = provider.default_model.clone();
            continue;
        }
        let timeout = Duration::from_millis(
            req.timeout_ms
                .or(provider.timeout)
                .unwrap_or(DEFAULT_TIMEOUT_MS)
                .max(1),
        );
        let attempt = match provider.kind {
            ProviderKind::Api => {
                openai::run(
                    &ai.http,
                    &provider,
                    model.as_deref(),
                    &req.prompt,
                    &active.cancel,
                    timeout,
                    &mut on_text,
                )
                .await
            }
            ProviderKind::Cli => {
                let agent = cli::agent_id(&id, hops.len());
                let spawn = resume == Resume::No || !hops.is_empty();
                if spawn {
                    set_fields(&ai, &id, [("runnerAgentId", json!(agent))]).await;
                }
                // The run's model, where the CLI takes one (codex by its default).
                let mut cli_provider = provider.clone();
                if model.is_some() {
                    cli_provider.default_model = model.clone();
                }
                cli_provider.args.extend(req.extra_args.iter().cloned());
                cli::run(
                    &*ai.runner,
                    &agent,
                    &cli_provider,
                    &req.prompt,
                    req.workspace_path.as_deref(),
                    spawn,
                    &active.cancel,
                    timeout,
                    &mut on_text,
                )
                .await
            }
        };
        if let Some(a) = attempt.error.as_ref()
            && let Some(category) = a.category
        {
            crate::status::from_run(
                &ai,
                &provider.id,
                category,
                a.message.as_deref().unwrap_or_default(),
            )
            .await;
        }
        // Output already shown is never asked of another provider.
        if attempt.succeeded() || attempt.stopped || !active.output().is_empty() {
            break attempt;
        }
        let Some(next) = next_fallback(&ai, &provider, &visited).await else {
            break attempt;
        };
        let why = attempt.error.as_ref().and_then(|a| a.message.clone());
        tracing::warn!(run = %id, from = %provider.id, to = %next.id, "provider failed, falling back: {}", why.as_deref().unwrap_or("?"));
        hops.push(json!({
            "providerId": provider.id, "providerName": provider.name,
            "error": why, "errorCategory": attempt.error.as_ref().and_then(|a| a.category),
            "at": now_iso(),
        }));
        visited.insert(next.id.clone());
        provider = next;
        // A fallback runs its own default model.
        model = provider.default_model.clone();
    };
    finish(
        &ai,
        &id,
        &active,
        &provider,
        model.as_deref(),
        hops,
        attempt,
    )
    .await;
    ai.runs.map().remove(&id);
    let _ = done.send(true);
}

/// The enabled provider `provider` falls back to, unless already tried.
async fn next_fallback(ai: &Ai, provider: &Provider, tried: &HashSet<String>) -> Option<Provider> {
    let next = provider
        .fallback_provider
        .as_ref()
        .filter(|n| !tried.contains(*n))?;
    providers::get(ai, next).await.ok().filter(|p| p.enabled)
}

/// Sets fields of a run's metadata.
async fn set_fields<const N: usize>(ai: &Ai, id: &str, fields: [(&str, Value); N]) {
    let r = ai
        .store
        .update(&meta_rel(id), |m: &mut Map<String, Value>| {
            for (k, v) in fields {
                m.insert(k.to_string(), v);
            }
            Ok::<(), ()>(())
        })
        .await;
    if let Err(e) = r {
        tracing::error!(run = %id, "cannot update the run's metadata: {e}");
    }
}

async fn finish(
    ai: &Ai,
    id: &str,
    active: &Active,
    provider: &Provider,
    model: Option<&str>,
    hops: Vec<Value>,
    attempt: Attempt,
) {
    let output = active.output().clone();
    let path = ai.store.path(RUNS_DIR).join(id).join("output.txt");
    let bytes = output.clone().into_bytes();
    let written =
        tokio::task::spawn_blocking(move || portos_store::write_atomic(&path, &bytes)).await;
    if !matches!(written, Ok(Ok(()))) {
        tracing::error!(run = %id, "cannot write the run's output");
    }
    let success = attempt.succeeded();
    let error = if attempt.stopped {
        Some("Stopped by request".to_string())
    } else {
        attempt.error.as_ref().and_then(|a| a.message.clone())
    };
    let result = ai
        .store
        .update(&meta_rel(id), |m: &mut Map<String, Value>| {
            let started = m
                .get("startTime")
                .and_then(Value::as_str)
                .and_then(|t| humantime::parse_rfc3339_weak(t).ok());
            let duration = started
                .and_then(|t| t.elapsed().ok())
                .map_or(0, |d| d.as_millis() as u64);
            let original = m.get("providerId").cloned().unwrap_or(Value::Null);
            let mut set = |k: &str, v: Value| {
                m.insert(k.to_string(), v);
            };
            set("endTime", json!(now_iso()));
            set("duration", json!(duration));
            set("exitCode", json!(attempt.exit_code));
            set("success", json!(success));
            set("error", json!(error));
            set(
                "errorCategory",
                json!(attempt.error.as_ref().and_then(|a| a.category)),
            );
            set("errorAnalysis", json!(attempt.error));
            set("outputSize", json!(output.len()));
            set("stopped", json!(attempt.stopped));
            if attempt.lost {
                set("lost", json!(true));
            }
            if provider.kind == ProviderKind::Api && success {
                set("hadReasoning", json!(attempt.had_reasoning));
                set("usedReasoningAsFallback", json!(attempt.used_reasoning));
            }
            if !hops.is_empty() {
                set("originalProviderId", original);
                set("usedFallback", json!(true));
                set("providerId", json!(provider.id));
                set("providerName", json!(provider.name));
                set("providerType", json!(provider_type(provider)));
                set("model", json!(model));
                set("fallbackHops", json!(hops));
            }
            Ok::<Map<String, Value>, ()>(m.clone())
        })
        .await;
    let metadata = match result {
        Ok(Ok(m)) => Value::Object(m),
        Ok(Err(())) => Value::Null,
        Err(e) => {
            tracing::error!(run = %id, "cannot record the run's end: {e}");
            Value::Null
        }
    };
    if success {
        let tokens = attempt.tokens.unwrap_or((output.len() as u64).div_ceil(4));
        usage::record_messages(ai, &provider.id, model, tokens).await;
    } else if !attempt.stopped {
        let message = format!(
            "AI provider {} execution failed: {}",
            provider.name,
            error.as_deref().unwrap_or("unknown error")
        );
        let context = json!({
            "runId": id, "provider": provider.name, "providerId": provider.id, "model": model,
            "exitCode": attempt.exit_code, "duration": metadata["duration"],
            "workspacePath": metadata["workspacePath"], "workspaceName": metadata["workspaceName"],
            "errorDetails": attempt.error,
        });
        ai.events.publish(
            "errors",
            "error:notified",
            &json!({
                "message": message, "code": "AI_PROVIDER_EXECUTION_FAILED", "severity": "error",
                "canAutoFix": true, "timestamp": now_ms(),
                "context": portos_core::secrets::sanitize(&context),
            }),
        );
    }
    ai.events
        .broadcast(&format!("run:{id}:complete"), &metadata);
}

/// Stops a run in flight; false when it is not in flight.
pub async fn stop(ai: &Ai, id: &str) -> bool {
    let Some(active) = ai.runs.get(id) else {
        return false;
    };
    active.cancel.cancel();
    let _ = tokio::time::timeout(
        Duration::from_secs(15),
        until_done(&mut active.done.clone()),
    )
    .await;
    true
}

/// Runs `req` to its end and answers its output, or why there is none: the
/// provider's error, or a deadline passed (the run is then stopped). For
/// callers that need the answer itself (the brain, agents' writing); the run
/// is in the history like any other.
pub async fn complete(ai: &Ai, req: NewRun, deadline: Duration) -> Result<String, String> {
    let run = create(ai, req).await.map_err(|e| e.to_string())?;
    let id = run["id"].as_str().unwrap_or_default().to_string();
    if let Some(active) = ai.runs.get(&id) {
        let mut done = active.done.clone();
        if tokio::time::timeout(deadline, until_done(&mut done))
            .await
            .is_err()
        {
            stop(ai, &id).await;
            return Err(format!(
                "AI request timed out after {} s (run {id})",
                deadline.as_secs()
            ));
        }
    }
    let m = get(ai, &id).await.map_err(|e| e.to_string())?;
    if m["success"] != Value::Bool(true) {
        return Err(m["error"]
            .as_str()
            .unwrap_or("the provider failed")
            .to_string());
    }
    output(ai, &id).await.map_err(|e| e.to_string())
}

/// Waits for run `id` to end (at once when it is not in flight) and answers
/// its metadata.
pub async fn finished(ai: &Ai, id: &str) -> Result<Value, AiError> {
    if let Some(active) = ai.runs.get(id) {
        let mut done = active.done.clone();
        until_done(&mut done).await;
    }
    get(ai, id).await
}

/// Returns once the run is recorded as ended.
async fn until_done(done: &mut watch::Receiver<bool>) {
    let _ = done.wait_for(|d| *d).await.map(drop);
}

/// A run's metadata, with `isActive`.
pub async fn get(ai: &Ai, id: &str) -> Result<Value, AiError> {
    check_id(id)?;
    let mut m: Map<String, Value> = ai
        .store
        .load_opt(&meta_rel(id))
        .await?
        .ok_or_else(run_not_found)?;
    m.insert("isActive".into(), json!(ai.runs.is_active(id)));
    Ok(Value::Object(m))
}

/// The run's output so far (in flight) or in full.
pub async fn output(ai: &Ai, id: &str) -> Result<String, AiError> {
    check_id(id)?;
    if let Some(a) = ai.runs.get(id) {
        return Ok(a.output().clone());
    }
    read_text(ai, id, "output.txt").await
}

/// The run's whole prompt.
pub async fn prompt(ai: &Ai, id: &str) -> Result<String, AiError> {
    check_id(id)?;
    read_text(ai, id, "prompt.txt").await
}

async fn read_text(ai: &Ai, id: &str, file: &str) -> Result<String, AiError> {
    let path = ai.store.path(RUNS_DIR).join(id).join(file);
    match tokio::fs::read(&path).await {
        Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(run_not_found()),
        Err(e) => Err(AiError::internal(format!("{}: {e}", path.display()))),
    }
}

/// Every run's metadata (those that have an `id`), newest first.
async fn all(ai: &Ai) -> Vec<Map<String, Value>> {
    let dir = ai.store.path(RUNS_DIR);
    let mut out = Vec::new();
    let Ok(mut rd) = tokio::fs::read_dir(&dir).await else {
        return out;
    };
    while let Ok(Some(e)) = rd.next_entry().await {
        let name = e.file_name().to_string_lossy().into_owned();
        if check_id(&name).is_err() {
            continue;
        }
        match ai
            .store
            .load_opt::<Map<String, Value>>(&meta_rel(&name))
            .await
        {
            Ok(Some(m)) if m.get("id").is_some_and(Value::is_string) => out.push(m),
            Ok(_) => {}
            Err(e) => tracing::warn!("skipping a run: {e}"),
        }
    }
    let start = |m: &Map<String, Value>| {
        m.get("startTime")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    out.sort_by_key(|m| std::cmp::Reverse(start(m)));
    out
}

/// `{ total, runs }`, newest first, from `source` (`all` for every source).
pub async fn list(ai: &Ai, limit: usize, offset: usize, source: &str) -> Value {
    let (total, runs) = ai
        .runs
        .index
        .page(ai.store.path(RUNS_DIR), source, limit, offset)
        .await;
    json!({ "total": total, "runs": runs })
}

/// Deletes a run that is not in flight.
pub async fn delete(ai: &Ai, id: &str) -> Result<(), AiError> {
    check_id(id)?;
    if ai.runs.is_active(id) {
        return Err(AiError::conflict(
            "RUN_ACTIVE",
            "the run is in flight; stop it first",
        ));
    }
    let dir = ai.store.path(RUNS_DIR).join(id);
    match tokio::fs::remove_dir_all(&dir).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(run_not_found()),
        Err(e) => Err(AiError::internal(format!("{}: {e}", dir.display()))),
    }
}

/// Deletes every failed run; how many.
pub async fn delete_failed(ai: &Ai) -> usize {
    let mut n = 0;
    for m in all(ai).await {
        let id = m
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if m.get("success") == Some(&json!(false)) && delete(ai, &id).await.is_ok() {
            n += 1;
        }
    }
    n
}

/// The output of a run from `from` bytes, then (while it is in flight and
/// `follow`) each new piece; `None` for an unknown run.
pub async fn follow(
    ai: &Ai,
    id: &str,
    from: usize,
    follow: bool,
) -> Result<tokio::sync::mpsc::Receiver<String>, AiError> {
    check_id(id)?;
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let Some(active) = ai.runs.get(id).filter(|_| follow) else {
        let text = output(ai, id).await?;
        let rest = text.get(from..).unwrap_or_default().to_string();
        tokio::spawn(async move {
            if !rest.is_empty() {
                let _ = tx.send(rest).await;
            }
        });
        return Ok(rx);
    };
    // Subscribed first, then the snapshot: nothing in between is missed.
    let mut chunks = active.chunks.subscribe();
    let snapshot = active.output().clone();
    let mut sent = snapshot.len().max(from);
    let mut done = active.done.clone();
    tokio::spawn(async move {
        if let Some(first) = snapshot.get(from..).filter(|s| !s.is_empty())
            && tx.send(first.to_string()).await.is_err()
        {
            return;
        }
        loop {
            tokio::select! {
                got = chunks.recv() => match got {
                    Ok((at, text)) if at + text.len() > sent => {
                        let piece = text.get(sent.saturating_sub(at)..).unwrap_or_default().to_string();
                        sent = at + text.len();
                        if tx.send(piece).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let now = active.output().clone();
                        if let Some(rest) = now.get(sent..) && !rest.is_empty() {
                            sent = now.len();
                            if tx.send(rest.to_string()).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                () = until_done(&mut done) => {
                    let now = active.output().clone();
                    if let Some(rest) = now.get(sent..).filter(|r| !r.is_empty()) {
                        let _ = tx.send(rest.to_string()).await;
                    }
                    return;
                }
            }
        }
    });
    Ok(rx)
}
