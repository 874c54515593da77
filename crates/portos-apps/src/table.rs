//! An app's processes as a table for the supervisor, written in
//! `supervisor.toml`'s format: from the app's PM2 ecosystem file (read by
//! Node.js, so computed values count), else a `portos.toml` in its folder (our
//! own keys), else its `startCommands`. Every PM2 option the supervisor cannot
//! honour (watch, cluster mode, several instances, …) is named, never dropped
//! silently.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use toml::Value as Toml;

use portos_core::Refuse;

use crate::AppsError;
use crate::ecosystem::{ecosystem_file, process_of, read_apps};

/// The file in an app's folder that declares its processes in our format.
pub const PORTOS_TOML: &str = "portos.toml";

/// An app's table, ready for the supervisor.
#[derive(Debug, Clone, PartialEq)]
pub struct AppTable {
    /// The table in `supervisor.toml`'s format.
    pub toml: String,
    /// The file it comes from, for messages (`apps.json` for `startCommands`).
    pub source: PathBuf,
    /// The app's folder: relative paths in the table mean paths in it.
    pub root: PathBuf,
    /// Per process `{ name, command, cwd, ports }`, for people.
    pub processes: Vec<Value>,
    /// What cannot be honoured, each naming the process and the option.
    pub unhonoured: Vec<String>,
}

impl AppTable {
    /// The process names, in the table's order.
    pub fn names(&self) -> Vec<String> {
        self.processes
            .iter()
            .filter_map(|p| p["name"].as_str().map(str::to_string))
            .collect()
    }

    /// Every port of the table as `(<process>.<label>, port)`.
    pub fn ports(&self) -> Vec<(String, u16)> {
        self.processes
            .iter()
            .flat_map(|p| {
                let name = p["name"].as_str().unwrap_or_default().to_string();
                p["ports"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(move |(l, v)| {
                        Some((format!("{name}.{l}"), u16::try_from(v.as_u64()?).ok()?))
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// `{ source, processes, unhonoured }` for answers.
    pub fn summary(&self) -> Value {
        json!({
            "source": self.source.display().to_string(),
            "processes": self.processes,
            "unhonoured": self.unhonoured,
        })
    }
}

/// PM2 options the mapping takes, beside which every other key is named as
/// not honoured.
const TAKEN: &[&str] = &[
    "name",
    "script",
    "args",
    "interpreter",
    "interpreter_args",
    "node_args",
    "cwd",
    "env",
    "env_file",
    "ports",
    "autorestart",
    "max_restarts",
    "min_uptime",
    "restart_delay",
    "max_memory_restart",
    "kill_timeout",
    "exp_backoff_restart_delay",
    "instances",
    "exec_mode",
    "watch",
];

/// PM2's options whose values pass to ours as they are (PM2's numbers are
/// milliseconds and bytes, as ours are).
const SAME: &[(&str, &str)] = &[
    ("autorestart", "autorestart"),
    ("max_restarts", "max_restarts"),
    ("min_uptime", "min_uptime"),
    ("restart_delay", "restart_delay"),
    ("max_memory_restart", "max_memory_restart"),
    ("kill_timeout", "kill_timeout"),
    ("exp_backoff_restart_delay", "backoff"),
];

/// The table of app `id` (its record `app`), or `None` when it declares no
/// process at all.
pub async fn table_of(id: &str, app: &Value) -> Result<Option<AppTable>, AppsError> {
    let repo = PathBuf::from(app["repoPath"].as_str().unwrap_or_default());
    if !repo.is_dir() {
        return Ok(None);
    }
    let app_env = env_file(&repo, app["envFile"].as_str());
    if let Some(file) = ecosystem_file(&repo) {
        let entries = read_apps(&repo, &file).await?;
        return Ok(Some(from_pm2(&entries, &repo, &file, &app_env)?));
    }
    let own = repo.join(PORTOS_TOML);
    if own.is_file() {
        return own_table(&repo, &own).map(Some);
    }
    Ok(from_start_commands(id, app, &repo, &app_env))
}

/// Variables of a dotenv file in the repo (none when it is missing or unreadable).
fn env_file(repo: &Path, file: Option<&str>) -> Map<String, Value> {
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return Map::new();
    };
    dotenvy::from_path_iter(repo.join(file))
        .map(|it| it.flatten().map(|(k, v)| (k, json!(v))).collect())
        .unwrap_or_default()
}

fn words(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => shell_words::split(s).map_err(|e| format!("{s:?}: {e}")),
        Value::Array(a) => Ok(a
            .iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect()),
        other => Ok(vec![other.to_string()]),
    }
}

/// Node.js for JavaScript, Python for `.py`, Bash for `.sh`; none for the rest
/// (a binary, or a command on `PATH` such as `npm`).
fn interpreter_for(script: &str) -> Option<&'static str> {
    let ext = Path::new(script).extension()?.to_str()?;
    match ext {
        "js" | "cjs" | "mjs" => Some("node"),
        "py" => Some("python3"),
        "sh" => Some("bash"),
        _ => None,
    }
}

fn env_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn from_pm2(
    entries: &[Value],
    repo: &Path,
    file: &Path,
    app_env: &Map<String, Value>,
) -> Result<AppTable, AppsError> {
    let mut processes = Vec::new();
    let mut people = Vec::new();
    let mut unhonoured = Vec::new();
    for e in entries {
        let Some(name) = e["name"].as_str() else {
            unhonoured.push("an entry without a name: skipped".into());
            continue;
        };
        let (process, notes) = pm2_entry(name, e, repo, app_env)?;
        people.push(person(&process));
        processes.push(Toml::Table(process));
        unhonoured.extend(notes.into_iter().map(|n| format!("{name}: {n}")));
    }
    Ok(AppTable {
        toml: render(processes)?,
        source: file.to_path_buf(),
        root: repo.to_path_buf(),
        processes: people,
        unhonoured,
    })
}

/// One PM2 app entry as one of our processes, and what it cannot honour.
fn pm2_entry(
    name: &str,
    e: &Value,
    repo: &Path,
    app_env: &Map<String, Value>,
) -> Result<(toml::Table, Vec<String>), AppsError> {
    let bad = |what: String| AppsError::bad_request("ECOSYSTEM_INVALID", format!("{name}: {what}"));
    let mut notes = Vec::new();
    let script = e["script"]
        .as_str()
        .ok_or_else(|| bad("no `script` to run".into()))?;
    let args = words(&e["args"]).map_err(bad)?;
    let interpreter = match e["interpreter"].as_str() {
        Some("none") => None,
        Some(i) => Some(i.to_string()),
        None => interpreter_for(script).map(str::to_string),
    };
    let (command, argv) = match interpreter {
        Some(i) => {
            let mut argv = words(&e["interpreter_args"]).map_err(bad)?;
            argv.extend(words(&e["node_args"]).map_err(bad)?);
            argv.push(script.to_string());
            argv.extend(args);
            (i, argv)
        }
        None => (script.to_string(), args),
    };
    let cwd = e["cwd"]
        .as_str()
        .map_or_else(|| repo.to_path_buf(), |c| repo.join(c));
    let mut env: Map<String, Value> = app_env.clone();
    if let Some(f) = e["env_file"].as_str() {
        let vars = env_file(repo, Some(f));
        if vars.is_empty() && !repo.join(f).is_file() {
            notes.push(format!("env_file {f} not found"));
        }
        env.extend(vars);
    }
    for (k, v) in e["env"].as_object().into_iter().flatten() {
        env.insert(k.clone(), v.clone());
    }

    let mut p = toml::Table::new();
    p.insert("name".into(), name.into());
    p.insert("command".into(), command.into());
    p.insert(
        "args".into(),
        Toml::Array(argv.into_iter().map(Toml::String).collect()),
    );
    p.insert("cwd".into(), cwd.display().to_string().into());
    p.insert(
        "env".into(),
        Toml::Table(
            env.iter()
                .map(|(k, v)| (k.clone(), Toml::String(env_value(v))))
                .collect(),
        ),
    );
    let ports =
        process_of(&json!({ "name": name, "env": env, "args": e["args"], "ports": e["ports"] }))
            .and_then(|p| p["ports"].as_object().cloned())
            .unwrap_or_default();
    if let Some((first, _)) = ports.iter().next() {
        p.insert(
            "health".into(),
            Toml::Table(toml::Table::from_iter([
                ("check".to_string(), Toml::from("tcp")),
                ("port".to_string(), Toml::from(first.as_str())),
            ])),
        );
    }
    p.insert(
        "ports".into(),
        Toml::Table(
            ports
                .iter()
                .filter_map(|(l, v)| Some((l.clone(), Toml::Integer(v.as_i64()?))))
                .collect(),
        ),
    );
    for (theirs, ours) in SAME {
        match &e[*theirs] {
            Value::Null => {}
            Value::Bool(b) => {
                p.insert((*ours).into(), Toml::Boolean(*b));
            }
            Value::Number(n) => {
                let n = n
                    .as_i64()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| bad(format!("{theirs} must be a whole number, not {n}")))?;
                p.insert((*ours).into(), Toml::Integer(n));
            }
            Value::String(s) => {
                p.insert((*ours).into(), Toml::String(s.clone()));
            }
            other => return Err(bad(format!("{theirs}: {other} is not a value it takes"))),
        }
    }
    notes.extend(not_honoured(e));
    Ok((p, notes))
}

/// The options of a PM2 entry the supervisor does not do, by name.
fn not_honoured(e: &Value) -> Vec<String> {
    let mut notes = Vec::new();
    match &e["instances"] {
        Value::Null => {}
        Value::Number(n) if n.as_i64() == Some(1) => {}
        other => notes.push(format!("instances: {other} (one instance runs)")),
    }
    if let Some(mode) = e["exec_mode"].as_str()
        && mode.starts_with("cluster")
    {
        notes.push(format!("exec_mode: {mode} (runs in fork mode)"));
    }
    match &e["watch"] {
        Value::Null | Value::Bool(false) => {}
        _ => notes.push(
            "watch (no restart on file changes; restart it or use the app's own watcher)".into(),
        ),
    }
    if let Some(obj) = e.as_object() {
        for k in obj.keys().filter(|k| !TAKEN.contains(&k.as_str())) {
            notes.push(format!("{k} (not used)"));
        }
    }
    notes
}

/// `{ name, command, cwd, ports }` of one process of the table.
fn person(p: &toml::Table) -> Value {
    let command = std::iter::once(p["command"].as_str().unwrap_or_default().to_string())
        .chain(
            p["args"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_string)),
        )
        .collect::<Vec<_>>()
        .join(" ");
    json!({
        "name": p["name"].as_str(),
        "command": command,
        "cwd": p.get("cwd").and_then(Toml::as_str),
        "ports": p.get("ports").and_then(Toml::as_table).map(|t| {
            t.iter().map(|(l, v)| (l.clone(), json!(v.as_integer()))).collect::<Map<String, Value>>()
        }),
    })
}

fn render(processes: Vec<Toml>) -> Result<String, AppsError> {
    let doc = toml::Table::from_iter([("process".to_string(), Toml::Array(processes))]);
    toml::to_string(&doc).map_err(|e| {
        AppsError::bad_request("ECOSYSTEM_INVALID", format!("cannot write the table: {e}"))
    })
}

/// `portos.toml` as it is (the supervisor validates it with file and line).
fn own_table(repo: &Path, file: &Path) -> Result<AppTable, AppsError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        AppsError::bad_request("PATH_NOT_FOUND", format!("{}: {e}", file.display()))
    })?;
    let doc: toml::Table = toml::from_str(&text).map_err(|e| {
        AppsError::bad_request("ECOSYSTEM_INVALID", format!("{}: {e}", file.display()))
    })?;
    let processes = doc
        .get("process")
        .and_then(Toml::as_array)
        .into_iter()
        .flatten()
        .filter_map(Toml::as_table)
        .map(person)
        .collect();
    Ok(AppTable {
        toml: text,
        source: file.to_path_buf(),
        root: repo.to_path_buf(),
        processes,
        unhonoured: Vec::new(),
    })
}

/// One process per start command (`npm run dev`), named by the app's
/// `pm2ProcessNames` in order, else by the app's id.
fn from_start_commands(
    id: &str,
    app: &Value,
    repo: &Path,
    app_env: &Map<String, Value>,
) -> Option<AppTable> {
    let commands: Vec<&str> = app["startCommands"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .filter(|c| !c.trim().is_empty())
        .collect();
    if commands.is_empty() {
        return None;
    }
    let names = crate::registry::process_names(id, app);
    let entries: Vec<Value> = commands
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let name = names
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("{id}-{}", i + 1));
            let mut w = shell_words::split(c).unwrap_or_default().into_iter();
            let script = w.next().unwrap_or_default();
            json!({ "name": name, "script": script, "args": w.collect::<Vec<_>>(), "interpreter": "none" })
        })
        .collect();
    // The table is written from apps.json; messages name the start commands.
    from_pm2(&entries, repo, &repo.join("(startCommands)"), app_env).ok()
}
