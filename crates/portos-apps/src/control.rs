//! The state of each app's processes, and starting, stopping and restarting
//! them through the supervisor, each action recorded in the history.

use std::collections::BTreeMap;
use std::time::Duration;

use portos_core::Refuse;
use portos_history::NewEntry;
use serde_json::{Map, Value, json};

use crate::registry::{self, process_names};
use crate::supervisor::ProcessInfo;
use crate::{Apps, AppsError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppAction {
    Start,
    Stop,
    Restart,
}

impl AppAction {
    pub fn word(self) -> &'static str {
        match self {
            AppAction::Start => "start",
            AppAction::Stop => "stop",
            AppAction::Restart => "restart",
        }
    }

    /// `start`, `stop` or `restart`, or a 400 `INVALID_ACTION`.
    pub fn parse(word: &str) -> Result<Self, AppsError> {
        match word {
            "start" => Ok(AppAction::Start),
            "stop" => Ok(AppAction::Stop),
            "restart" => Ok(AppAction::Restart),
            _ => Err(AppsError::bad_request(
                "INVALID_ACTION",
                format!("action {word:?}: use start, stop or restart"),
            )),
        }
    }
}

/// A process name: letters, digits, `.`, `_`, `-`, at most 100.
pub fn check_process_name(name: &str) -> Result<(), AppsError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(AppsError::bad_request(
            "INVALID_PROCESS_NAME",
            format!("invalid process name {name:?}"),
        ))
    }
}

fn overall(statuses: &BTreeMap<String, Value>) -> &'static str {
    let st = |s: &str| statuses.values().any(|v| v["status"] == s);
    if statuses.is_empty() || statuses.values().all(|v| v["status"] == "not_found") {
        "not_started"
    } else if st("online") {
        "online"
    } else if st("stopped") {
        "stopped"
    } else {
        "unknown"
    }
}

/// Each named process's summary (`not_found` for one the supervisor lacks).
pub fn statuses_for(names: &[String], running: &[ProcessInfo]) -> BTreeMap<String, Value> {
    names
        .iter()
        .map(|n| {
            let s = running
                .iter()
                .find(|p| &p.name == n)
                .map(ProcessInfo::summary)
                .unwrap_or_else(|| json!({ "name": n, "status": "not_found", "pm2_env": null }));
            (n.clone(), s)
        })
        .collect()
}

/// One app as listed: the record with its id, and its processes' states.
#[derive(Debug, Clone)]
pub struct AppView {
    pub id: String,
    /// The record as REST answers it (`id`, `overallStatus`, `pm2Status` added).
    pub record: Value,
    pub statuses: BTreeMap<String, Value>,
    pub overall: &'static str,
}

/// The supervisor's processes; none when it does not answer (an app list
/// still answers, every process `not_found`).
async fn running(apps: &Apps) -> Vec<ProcessInfo> {
    apps.supervisor.list().await.unwrap_or_default()
}

/// Every app with the state of its processes (one call to the supervisor).
pub async fn views(apps: &Apps) -> Result<Vec<AppView>, AppsError> {
    views_over(apps, &running(apps).await).await
}

/// [`views`] over a process list the caller already has.
pub async fn views_over(apps: &Apps, running: &[ProcessInfo]) -> Result<Vec<AppView>, AppsError> {
    Ok(registry::all(apps)
        .await?
        .into_iter()
        .map(|(id, a)| {
            let statuses = statuses_for(&process_names(&id, &a), running);
            let overall = overall(&statuses);
            let mut record = a;
            record["id"] = json!(id);
            record["overallStatus"] = json!(overall);
            record["pm2Status"] = json!(statuses);
            AppView {
                id,
                record,
                statuses,
                overall,
            }
        })
        .collect())
}

/// App `id` with `pm2Status`.
pub async fn view(apps: &Apps, id: &str) -> Result<Value, AppsError> {
    let a = registry::get(apps, id).await?;
    let running = running(apps).await;
    let mut v = a.clone();
    v["id"] = json!(id);
    v["pm2Status"] = json!(statuses_for(&process_names(id, &a), &running));
    Ok(v)
}

/// App `id` and its process names.
pub async fn with_names(apps: &Apps, id: &str) -> Result<(Value, Vec<String>), AppsError> {
    let a = registry::get(apps, id).await?;
    let names = process_names(id, &a);
    Ok((a, names))
}

/// `{ <process>: summary }` for app `id`.
pub async fn status(apps: &Apps, id: &str) -> Result<BTreeMap<String, Value>, AppsError> {
    let (_, names) = with_names(apps, id).await?;
    Ok(statuses_for(&names, &running(apps).await))
}

/// Starts, stops or restarts each process of an app ([`control_all`]), and
/// records it in the history; per process `{ success, error?, pending? }`.
pub async fn act(
    apps: &Apps,
    id: &str,
    action: AppAction,
) -> Result<Map<String, Value>, AppsError> {
    if action != AppAction::Stop {
        crate::supervise::ensure(apps, id).await?;
    }
    let (a, names) = with_names(apps, id).await?;
    let results = control_all(apps, &names, action).await;
    let all_ok = results.values().all(|r| r["success"] == true);
    apps.history
        .record(NewEntry {
            action: action.word(),
            target: Some(id),
            target_name: a.get("name").and_then(Value::as_str),
            details: json!({ "processNames": names }),
            success: all_ok,
            error: None,
        })
        .await?;
    apps.changed(action.word());
    Ok(results)
}

/// The supervised process this api server runs as, if it is one.
fn own_process() -> Option<String> {
    std::env::var("PORTOS_PROCESS_NAME").ok()
}

/// Acts on each named process through the supervisor, in order; per process
/// `{ success, error? }`. This server's own process is acted on just after
/// (`{ success, pending }`), so the answer is never cut off by its own restart.
pub async fn control_all(apps: &Apps, names: &[String], action: AppAction) -> Map<String, Value> {
    let me = own_process();
    let mut results = Map::new();
    for n in names {
        if me.as_deref() == Some(n.as_str()) && action != AppAction::Start {
            results.insert(n.clone(), json!({ "success": true, "pending": true }));
            let (supervisor, n) = (apps.supervisor.clone(), n.clone());
            tokio::spawn(async move {
                // Let the answer leave first.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = supervisor.control(&n, action).await;
            });
            continue;
        }
        let outcome = apps.supervisor.control(n, action).await;
        results.insert(
            n.clone(),
            match outcome {
                Ok(()) => json!({ "success": true }),
                Err(e) => json!({ "success": false, "error": e.to_string() }),
            },
        );
    }
    results
}

/// One supervised process by name (the dashboard's buttons), recorded in the
/// history; whether it is pending (this server's own process, acted on just
/// after the answer).
pub async fn control_process(
    apps: &Apps,
    name: &str,
    action: AppAction,
) -> Result<bool, AppsError> {
    check_process_name(name)?;
    let pending = if own_process().as_deref() == Some(name) {
        control_all(apps, &[name.to_string()], action).await;
        true
    } else {
        apps.supervisor.control(name, action).await?;
        false
    };
    apps.history
        .record(NewEntry {
            action: action.word(),
            target: Some(name),
            target_name: Some(name),
            details: json!({ "process": name }),
            success: true,
            error: None,
        })
        .await?;
    Ok(pending)
}
