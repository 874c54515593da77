//! PM2 ecosystem files: read by Node.js (every computed port, where the
//! original guessed with regular expressions), turned into the original's
//! `processes` with labelled ports, and kept in an app's record on refresh.

use serde_json::{Map, Value, json};

use portos_core::Refuse;

use crate::registry::{edit, with_repo};
use crate::{Apps, AppsError};

/// Reads a PM2 ecosystem file by asking Node.js for its value (the original
/// guessed it with regular expressions over the source, which misses every
/// computed port); prints `{ apps: [...] }` as JSON.
const READ_ECOSYSTEM: &str = "import { pathToFileURL } from 'node:url';
const m = await import(pathToFileURL(process.argv[1]).href);
const c = (m && m.default) || m;
process.stdout.write(JSON.stringify({ apps: Array.isArray(c && c.apps) ? c.apps : [] }));";

/// The ecosystem file of a repo, if it has one.
pub fn ecosystem_file(repo: &std::path::Path) -> Option<std::path::PathBuf> {
    [
        "ecosystem.config.cjs",
        "ecosystem.config.js",
        "ecosystem.config.mjs",
    ]
    .iter()
    .map(|f| repo.join(f))
    .find(|p| p.is_file())
}

/// A port from an env value: a number, or a string of digits.
fn port_of(v: &Value) -> Option<u64> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    n.filter(|p| (1..=65535).contains(p))
}

/// One PM2 app as the original's `{ name, port, ports }`, labelled as it does:
/// a `ports` object as given; else `PORT` is `ui` for `-ui`/`-client` names,
/// `health` for a `-browser` with a `CDP_PORT` (which is `cdp`), `api`
/// otherwise; `VITE_PORT` is `ui`; `--port N` in the args is `ui`.
pub(crate) fn process_of(app: &Value) -> Option<Value> {
    let name = app["name"].as_str()?.to_string();
    let mut ports = Map::new();
    if let Some(given) = app["ports"].as_object() {
        for (label, v) in given {
            if let Some(p) = port_of(v) {
                ports.insert(label.clone(), json!(p));
            }
        }
    }
    if ports.is_empty() {
        let env = &app["env"];
        let cdp = port_of(&env["CDP_PORT"]);
        if let Some(p) = cdp {
            ports.insert("cdp".into(), json!(p));
        }
        if let Some(p) = port_of(&env["PORT"]) {
            let lower = name.to_lowercase();
            let label = if lower.ends_with("-ui")
                || lower.ends_with("_ui")
                || lower.ends_with("-client")
                || lower.ends_with("_client")
            {
                "ui"
            } else if (lower.ends_with("-browser") || lower.ends_with("_browser")) && cdp.is_some()
            {
                "health"
            } else {
                "api"
            };
            ports.insert(label.into(), json!(p));
        }
        if let Some(p) = port_of(&env["VITE_PORT"]) {
            ports.insert("ui".into(), json!(p));
        }
        if ports.is_empty() {
            let args = match &app["args"] {
                Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            if let Some(p) = args
                .windows(2)
                .find(|w| w[0] == "--port")
                .and_then(|w| port_of(&json!(w[1])))
            {
                ports.insert("ui".into(), json!(p));
            }
        }
    }
    let port = ports.values().next().cloned().unwrap_or(Value::Null);
    Some(json!({ "name": name, "port": port, "ports": ports }))
}

/// The processes of `file`, read by Node.js (in the repo, 10 s at most), and
/// the `PM2_HOME` one of them sets.
pub async fn read_ecosystem(
    repo: &std::path::Path,
    file: &std::path::Path,
) -> Result<(Vec<Value>, Option<String>), AppsError> {
    let apps = read_apps(repo, file).await?;
    let home = apps
        .iter()
        .find_map(|a| a["env"]["PM2_HOME"].as_str().map(str::to_string));
    Ok((apps.iter().filter_map(process_of).collect(), home))
}

/// The PM2 app entries of `file` as its code computes them, read by Node.js
/// (in the repo, 10 s at most).
pub async fn read_apps(
    repo: &std::path::Path,
    file: &std::path::Path,
) -> Result<Vec<Value>, AppsError> {
    let run = tokio::process::Command::new("node")
        .env_remove(portos_core::secrets::INTERNAL_TOKEN_ENV)
        .args(["--input-type=module", "-e", READ_ECOSYSTEM])
        .arg(file)
        .current_dir(repo)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(std::time::Duration::from_secs(10), run).await {
        Err(_) => {
            return Err(AppsError::bad_request(
                "ECOSYSTEM_UNREADABLE",
                format!("{} took longer than 10 s to load", file.display()),
            ));
        }
        Ok(Err(e)) => {
            return Err(AppsError::bad_request(
                "COMMAND_NOT_FOUND",
                format!("Node.js is needed to read {}: {e}", file.display()),
            ));
        }
        Ok(Ok(out)) => out,
    };
    let parsed: Option<Value> = out
        .status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())
        .flatten();
    let Some(parsed) = parsed else {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why
            .lines()
            .find(|l| l.contains("Error"))
            .unwrap_or("it did not load");
        return Err(AppsError::bad_request(
            "ECOSYSTEM_UNREADABLE",
            format!("{}: {}", file.display(), why.trim()),
        ));
    };
    Ok(parsed["apps"].as_array().cloned().unwrap_or_default())
}

/// Re-reads the repo's PM2 ecosystem file and keeps what changed: `processes`,
/// `pm2ProcessNames`, `apiPort` (the first process with a port), `pm2Home`;
/// `{ success, updated, app, processes }`.
pub async fn refresh_config(apps: &Apps, id: &str) -> Result<Value, AppsError> {
    let mut answer = read_again(apps, id).await?;
    answer["supervision"] = crate::supervise::supervise_or_say(apps, id).await?;
    Ok(answer)
}

async fn read_again(apps: &Apps, id: &str) -> Result<Value, AppsError> {
    let (a, repo) = with_repo(apps, id, "App path does not exist").await?;
    let repo = std::path::PathBuf::from(repo);
    let unchanged = |mut a: Value| {
        let processes = a.get("processes").cloned().unwrap_or_else(|| json!([]));
        a["id"] = json!(id);
        json!({ "success": true, "updated": false, "app": a, "processes": processes })
    };
    let Some(file) = ecosystem_file(&repo) else {
        return Ok(unchanged(a));
    };
    let (processes, home) = read_ecosystem(&repo, &file).await?;
    let mut changes = Map::new();
    if let Some(h) = home.filter(|h| a["pm2Home"].as_str() != Some(h)) {
        changes.insert("pm2Home".into(), json!(h));
    }
    if !processes.is_empty() {
        let names: Vec<Value> = processes.iter().map(|p| p["name"].clone()).collect();
        if a["processes"] != json!(processes) {
            changes.insert("processes".into(), json!(processes));
        }
        if a["pm2ProcessNames"] != json!(names) {
            changes.insert("pm2ProcessNames".into(), json!(names));
        }
        if let Some(port) = processes.iter().map(|p| &p["port"]).find(|p| !p.is_null())
            && &a["apiPort"] != port
        {
            changes.insert("apiPort".into(), port.clone());
        }
    }
    if changes.is_empty() {
        return Ok(unchanged(a));
    }
    let updated = edit(apps, id, |a| {
        for (k, v) in changes {
            a[k] = v;
        }
        Ok(())
    })
    .await?;
    Ok(json!({
        "success": true, "updated": true, "app": updated, "processes": processes,
    }))
}
