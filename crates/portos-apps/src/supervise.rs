//! Apps under the supervisor: an app's table (see [`crate::table`]) applied
//! as the group named by the app's id, again whenever the app changes, and
//! removed when the app is archived or deleted. PortOS's own app is never
//! applied: its processes are `supervisor.toml`'s.

use portos_core::{Kind, Refuse};
use serde_json::{Value, json};

use crate::registry::{self, PROTECTED_APP, edit};
use crate::supervisor::GroupChange;
use crate::table::{AppTable, table_of};
use crate::{Apps, AppsError};

/// Whether app `id` (record `a`) runs under its own group: not PortOS itself,
/// not archived.
fn own_group(id: &str, a: &Value) -> bool {
    id != PROTECTED_APP && a["archived"] != true
}

/// Whether app `id` runs under its own group and declares processes to run
/// (an ecosystem file, `portos.toml` or start commands).
pub fn runs_as_group(id: &str, a: &Value) -> bool {
    own_group(id, a)
        && a["repoPath"].as_str().is_some_and(|r| {
            let repo = std::path::Path::new(r);
            crate::ecosystem::ecosystem_file(repo).is_some()
                || repo.join(crate::table::PORTOS_TOML).is_file()
        })
}

/// What the table of an app in `repo_path` would run, without registering
/// anything: `{ source, processes, unhonoured }`, or `processes: []` when the
/// folder declares none.
pub async fn preview(repo_path: &str, name: &str) -> Result<Value, AppsError> {
    if !std::path::Path::new(repo_path).is_absolute() {
        return Err(AppsError::validation(format!(
            "repoPath must be an absolute folder, not {repo_path:?}"
        )));
    }
    if !std::path::Path::new(repo_path).is_dir() {
        return Err(AppsError::bad_request(
            "PATH_NOT_FOUND",
            format!("{repo_path} is not a folder"),
        ));
    }
    let record = json!({ "repoPath": repo_path, "name": name, "envFile": ".env" });
    let id = registry::dashed(name);
    Ok(match table_of(&id, &record).await? {
        Some(t) => t.summary(),
        None => json!({ "source": Value::Null, "processes": [], "unhonoured": [] }),
    })
}

/// [`supervise`], where only a table refused (a bad file, a name or port
/// another group has: `Invalid`) is an error; anything else (the supervisor
/// not running) is said in the answer, `{ supervised: false, error, code }`,
/// and the next start of the api server tries again.
pub async fn supervise_or_say(apps: &Apps, id: &str) -> Result<Value, AppsError> {
    match supervise(apps, id).await {
        Err(AppsError::Problem(p)) if p.kind != Kind::Invalid => Ok(json!({
            "supervised": false, "error": p.message, "code": p.code,
        })),
        other => other,
    }
}

/// Applies app `id`'s table and keeps its process names and ports in its
/// record; `{ supervised, source, processes, unhonoured, started, … }`.
pub async fn supervise(apps: &Apps, id: &str) -> Result<Value, AppsError> {
    let a = registry::get(apps, id).await?;
    if !own_group(id, &a) {
        return Ok(json!({ "supervised": false }));
    }
    let Some(table) = table_of(id, &a).await? else {
        let folder = a["repoPath"].as_str().unwrap_or_default();
        let reason = if std::path::Path::new(folder).is_dir() {
            format!("{folder} has no ecosystem file, portos.toml or start command")
        } else {
            format!("the app's folder {folder} does not exist")
        };
        return Ok(json!({ "supervised": false, "processes": [], "reason": reason }));
    };
    let supervised = apps.supervisor.list().await?;
    crate::ports::refuse_taken(&table.ports(), id, &supervised)?;
    let change = apps.supervisor.apply(id, &table).await?;
    remember(apps, id, &a, &table).await?;
    apps.changed("supervise");
    Ok(answer(&table, &change))
}

fn answer(table: &AppTable, change: &GroupChange) -> Value {
    let mut v = table.summary();
    v["supervised"] = json!(true);
    for (k, x) in change.to_json().as_object().into_iter().flatten() {
        v[k] = x.clone();
    }
    v
}

/// Keeps the table's process names and labelled ports in the app's record
/// (the original's `pm2ProcessNames` and `processes`).
async fn remember(apps: &Apps, id: &str, a: &Value, table: &AppTable) -> Result<(), AppsError> {
    let names = json!(table.names());
    let processes: Vec<Value> = table
        .processes
        .iter()
        .map(|p| {
            let ports = p["ports"].clone();
            let port = ports
                .as_object()
                .and_then(|m| m.values().next().cloned())
                .unwrap_or(Value::Null);
            json!({ "name": p["name"], "port": port, "ports": ports })
        })
        .collect();
    if a["pm2ProcessNames"] == names && a["processes"] == json!(processes) {
        return Ok(());
    }
    edit(apps, id, |a| {
        a["pm2ProcessNames"] = names;
        a["processes"] = json!(processes);
        Ok(())
    })
    .await?;
    Ok(())
}

/// Stops and removes app `id`'s processes (none is fine; with the supervisor
/// not running, [`reconcile`] removes them at the next start).
pub async fn unsupervise(apps: &Apps, id: &str) -> Result<Option<GroupChange>, AppsError> {
    if id == PROTECTED_APP {
        return Ok(None);
    }
    match apps.supervisor.remove_group(id).await {
        Ok(c) => Ok(Some(c)),
        Err(AppsError::Problem(p)) if p.kind == Kind::NotFound => Ok(None),
        Err(AppsError::Problem(p)) if p.kind == Kind::Unavailable => {
            tracing::warn!(app = %id, error = %p.message, "processes left for the next start");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Every app that should run under its group and has none yet (an `apps.json`
/// from the original, or one written by hand) is applied, and every group of
/// an app that is gone or archived is removed; each failure is logged and the
/// others still run. Returns how many were applied.
pub async fn reconcile(apps: &Apps) -> Result<usize, AppsError> {
    let running = apps.supervisor.list().await?;
    let all = registry::all(apps).await?;
    let mut stale: Vec<&str> = running
        .iter()
        .map(|p| p.group.as_str())
        .filter(|g| *g != "portos" && !all.get(*g).is_some_and(|a| own_group(g, a)))
        .collect();
    stale.dedup();
    for g in stale {
        unsupervise(apps, g).await?;
    }
    let mut applied = 0;
    for (id, a) in all.clone() {
        if !own_group(&id, &a) || running.iter().any(|p| p.group == id) {
            continue;
        }
        match supervise(apps, &id).await {
            Ok(v) if v["supervised"] == true => applied += 1,
            Ok(_) => {}
            Err(e) => tracing::warn!(app = %id, error = %e, "app not supervised"),
        }
    }
    Ok(applied)
}

/// Registers an app ([`registry::create`]) and applies its table; a table the
/// supervisor refuses (a process name or port another app has) takes the
/// registration back, so nothing half-made stays. The app with `supervision`.
pub async fn register(apps: &Apps, body: Value) -> Result<Value, AppsError> {
    let mut created = registry::create(apps, body).await?;
    let id = created["id"].as_str().unwrap_or_default().to_string();
    match supervise_or_say(apps, &id).await {
        Ok(s) => {
            created = registry::get(apps, &id).await?;
            created["id"] = json!(id);
            created["supervision"] = s;
            Ok(created)
        }
        Err(e) => {
            registry::delete(apps, &id).await?;
            Err(e)
        }
    }
}

/// Deletes an app: its processes stopped and removed first.
pub async fn delete(apps: &Apps, id: &str) -> Result<(), AppsError> {
    registry::get(apps, id).await?;
    if id != PROTECTED_APP {
        unsupervise(apps, id).await?;
    }
    registry::delete(apps, id).await
}

/// Archives an app (its processes stopped and removed) or brings it back (applied again).
pub async fn set_archived(apps: &Apps, id: &str, archived: bool) -> Result<Value, AppsError> {
    let a = registry::set_archived(apps, id, archived).await?;
    if archived {
        unsupervise(apps, id).await?;
    } else {
        supervise_or_say(apps, id).await?;
    }
    Ok(a)
}

/// Applies app `id`'s table when it is not in the supervisor yet (before a start).
pub async fn ensure(apps: &Apps, id: &str) -> Result<(), AppsError> {
    let a = registry::get(apps, id).await?;
    if !own_group(id, &a) {
        return Ok(());
    }
    let running = apps.supervisor.list().await?;
    if !running.iter().any(|p| p.group == id) {
        supervise(apps, id).await?;
    }
    Ok(())
}
