//! `POST /api/providers/:id/test`: does the provider answer? No shell runs,
//! and every probe has a time limit (the original had neither).
//!
//! - A CLI provider: its command is found on `PATH` (or is a path to an
//!   executable file), then `<command> --version` (else `-v`) answers.
//! - An API provider: `GET <endpoint>/models` answers with the key it has;
//!   a refused key is told apart from an unreachable server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use portos_store::types::{Provider, ProviderKind};
use serde_json::{Value, json};

/// How long one probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The executable `command` names: a path as given, else the first match on `PATH`.
fn find_executable(command: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if command.contains('/') {
        let p = PathBuf::from(command);
        return runnable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(command))
        .find(|p| runnable(p))
}

/// The first line `program FLAG` prints, if it exits well within the limit.
async fn version(program: &Path, flag: &str) -> Option<String> {
    let run = tokio::process::Command::new(program)
        .env_remove(portos_core::secrets::INTERNAL_TOKEN_ENV)
        .arg(flag)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(PROBE_TIMEOUT, run).await.ok()?.ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()
    })
}

async fn probe_cli(p: &Provider) -> Value {
    let command = p.command.as_deref().unwrap_or_default();
    let Some(path) = (!command.is_empty())
        .then(|| find_executable(command))
        .flatten()
    else {
        return json!({ "success": false, "error": format!("Command '{command}' not found in PATH") });
    };
    let mut found = None;
    for flag in ["--version", "-v"] {
        found = version(&path, flag).await;
        if found.is_some() {
            break;
        }
    }
    json!({
        "success": true,
        "path": path.display().to_string(),
        "version": found.filter(|v| !v.is_empty()).unwrap_or_else(|| "available".into()),
    })
}

async fn probe_api(http: &reqwest::Client, p: &Provider) -> Value {
    let endpoint = p
        .endpoint
        .as_deref()
        .unwrap_or_default()
        .trim_end_matches('/');
    if endpoint.is_empty() {
        return json!({ "success": false, "error": "the provider has no endpoint" });
    }
    let mut req = http
        .get(format!("{endpoint}/models"))
        .timeout(PROBE_TIMEOUT);
    if let Some(key) = p.api_key.as_deref().filter(|k| !k.is_empty()) {
        req = req.bearer_auth(key);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            let why = if e.is_timeout() {
                format!("no answer within {PROBE_TIMEOUT:?}")
            } else if e.is_connect() {
                "connection refused or host unreachable".to_string()
            } else {
                e.without_url().to_string()
            };
            return json!({ "success": false, "error": format!("API not reachable: {why}") });
        }
    };
    let status = resp.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return json!({ "success": false, "error": format!("API key rejected ({})", status.as_u16()) });
    }
    if !status.is_success() {
        return json!({ "success": false, "error": format!("API not reachable: {}", status.as_u16()) });
    }
    let body: Value = resp.json().await.unwrap_or_default();
    let models: Vec<Value> = body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_str().map(|s| json!(s)))
        .collect();
    json!({ "success": true, "endpoint": endpoint, "models": models })
}

/// The original's result object: `{ success, error? , path?, version?, endpoint?, models? }`.
pub async fn probe(http: &reqwest::Client, p: &Provider) -> Value {
    match p.kind {
        ProviderKind::Cli => probe_cli(p).await,
        ProviderKind::Api => probe_api(http, p).await,
    }
}
