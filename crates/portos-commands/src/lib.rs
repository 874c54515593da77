//! The original's `/api/commands`: an allow-listed program run for the owner
//! without a shell, in a workspace folder, its output streamed as the live
//! events `command:<id>:data` and `command:<id>:complete`, and every outcome,
//! a refusal included, kept in the action history (`action: "command"`).
//!
//! Owns: the allow-list (a setting, the original's list by default) and the
//! refusal of shell syntax ([`allow`]), the table of running commands, each in
//! its own process group so that stopping one ends what it started, an optional
//! time limit, bounded output (streamed in coalesced pieces, kept up to a cap),
//! and the history entries. Where the original answered a refused command with
//! a 500 and recorded nothing, a refusal here is a [`CommandError::Refused`]
//! with its reason, recorded.
//! Must not depend on: axum, tonic, hyper, tower, or any service crate.

pub mod allow;
mod run;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use portos_core::{Events, Kind, Problem};
use portos_history::{ActionLog, NewEntry};
use portos_store::JsonStore;
use serde_json::{Value, json};

pub use allow::{CommandSettings, Refusal};

/// Commands running at once, at most.
pub const MAX_RUNNING: usize = 16;

/// What can go wrong with a command.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// No command in the request (400 `MISSING_COMMAND`).
    #[error("Command is required")]
    Missing,
    /// Not run, for the reason given (403 `FORBIDDEN`); recorded in the history.
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// `workspacePath` is not a folder (400).
    #[error("workspacePath {0:?} is not a folder")]
    Workspace(String),
    /// No running command of that id (404 `NOT_ACTIVE`).
    #[error("Command not found or not active")]
    NotActive,
    #[error("{MAX_RUNNING} commands are running already; stop one first")]
    Busy,
    /// `settings.json`'s `commands` section is not valid (422).
    #[error("settings.json {0}")]
    Settings(String),
    /// The program could not be started (422); recorded in the history.
    #[error("cannot run {program}: {error}")]
    Spawn { program: String, error: String },
}

impl From<CommandError> for Problem {
    fn from(e: CommandError) -> Self {
        let text = e.to_string();
        let (kind, code) = match e {
            CommandError::Missing => (Kind::Invalid, "MISSING_COMMAND"),
            CommandError::Refused(_) => (Kind::Forbidden, "FORBIDDEN"),
            CommandError::Workspace(_) => (Kind::Invalid, "INVALID_WORKSPACE"),
            CommandError::NotActive => (Kind::NotFound, "NOT_ACTIVE"),
            CommandError::Busy => (Kind::Conflict, "TOO_MANY_COMMANDS"),
            CommandError::Settings(_) => (Kind::Unprocessable, "SETTINGS_INVALID"),
            CommandError::Spawn { .. } => (Kind::Unprocessable, "COMMAND_NOT_RUN"),
        };
        Problem::new(kind, code, text)
    }
}

/// A command that started: `{ commandId, status: "started" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub id: String,
}

/// The commands of this api server.
#[derive(Debug, Clone)]
pub struct Commands {
    store: Arc<JsonStore>,
    history: ActionLog,
    events: Arc<dyn Events>,
    running: Arc<Mutex<HashMap<String, run::Handle>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Commands {
    pub fn new(store: Arc<JsonStore>, history: ActionLog, events: Arc<dyn Events>) -> Self {
        Self {
            store,
            history,
            events,
            running: Arc::default(),
        }
    }

    /// The owner's settings (the defaults when the file or section is missing).
    pub async fn settings(&self) -> Result<CommandSettings, CommandError> {
        let file: Option<Value> = self
            .store
            .load_opt("settings.json")
            .await
            .map_err(|e| CommandError::Settings(e.to_string()))?;
        match file.as_ref().and_then(|f| f.get("commands")) {
            None | Some(Value::Null) => Ok(CommandSettings::default()),
            Some(v) => CommandSettings::from_value(v).map_err(CommandError::Settings),
        }
    }

    /// The allow-list, sorted.
    pub async fn allowed(&self) -> Result<Vec<String>, CommandError> {
        Ok(self.settings().await?.sorted())
    }

    /// Starts `command` in `workspace` (the server's folder when `None`).
    /// A refusal and a program that cannot start are recorded, then returned.
    pub async fn execute(
        &self,
        command: Option<&str>,
        workspace: Option<&str>,
    ) -> Result<Started, CommandError> {
        let command = command
            .filter(|c| !c.is_empty())
            .ok_or(CommandError::Missing)?;
        let settings = self.settings().await?;
        let argv = match allow::parse(command, &settings.allowed) {
            Ok(argv) => argv,
            Err(refusal) => {
                tracing::warn!(reason = %refusal, "command refused");
                self.record(
                    command,
                    workspace,
                    json!({ "refused": refusal.to_string() }),
                    Some(refusal.to_string()),
                )
                .await;
                return Err(refusal.into());
            }
        };
        let cwd = folder(workspace)?;
        if lock(&self.running).len() >= MAX_RUNNING {
            return Err(CommandError::Busy);
        }
        let id = new_id();
        let spec = run::Spec {
            id: id.clone(),
            argv,
            cwd,
            timeout_seconds: settings.timeout_seconds,
        };
        let (handle, child) = match run::spawn(&spec) {
            Ok(started) => started,
            Err(error) => {
                let e = CommandError::Spawn {
                    program: spec.argv[0].clone(),
                    error: error.to_string(),
                };
                self.record(
                    command,
                    workspace,
                    json!({ "exitCode": Value::Null }),
                    Some(e.to_string()),
                )
                .await;
                return Err(e);
            }
        };
        lock(&self.running).insert(id.clone(), handle.clone());
        let this = self.clone();
        let (command, workspace) = (command.to_string(), workspace.map(str::to_string));
        tokio::spawn(async move {
            let end = run::follow(&spec, child, &handle, this.events.as_ref()).await;
            lock(&this.running).remove(&spec.id);
            let details = json!({
                "exitCode": end.exit_code,
                "runtime": end.runtime_ms,
                "output": end.output.chars().take(10_000).collect::<String>(),
            });
            // Recorded first: a page that reloads the history on completion finds it.
            this.record(&command, workspace.as_deref(), details, end.error())
                .await;
            this.events
                .broadcast(&format!("command:{}:complete", spec.id), &end.event());
        });
        Ok(Started { id })
    }

    /// Stops a running command: SIGTERM to its process group, SIGKILL a few
    /// seconds later if anything of it is left.
    pub fn stop(&self, id: &str) -> Result<(), CommandError> {
        let handle = lock(&self.running)
            .get(id)
            .cloned()
            .ok_or(CommandError::NotActive)?;
        handle.stop();
        Ok(())
    }

    /// Stops every running command and waits (a few seconds at most) for them
    /// to end: the api server's way out.
    pub async fn stop_all(&self) {
        let all: Vec<run::Handle> = lock(&self.running).values().cloned().collect();
        for h in &all {
            h.stop();
        }
        for h in all {
            h.ended(run::GRACE).await;
        }
    }

    async fn record(
        &self,
        command: &str,
        workspace: Option<&str>,
        mut details: Value,
        error: Option<String>,
    ) {
        details["command"] = json!(command);
        details["workspacePath"] = json!(workspace);
        let name: String = command.chars().take(50).collect();
        let entry = NewEntry {
            action: "command",
            target: None,
            target_name: Some(&name),
            details,
            success: error.is_none(),
            error,
        };
        if let Err(e) = self.history.record(entry).await {
            tracing::warn!(error = %e, "command not recorded in the history");
        }
    }
}

/// The folder a command runs in: an existing folder, or the server's own.
fn folder(workspace: Option<&str>) -> Result<PathBuf, CommandError> {
    let Some(w) = workspace.filter(|w| !w.is_empty()) else {
        return std::env::current_dir().map_err(|e| CommandError::Workspace(e.to_string()));
    };
    let p = Path::new(w);
    if w.contains('\0') || !p.is_absolute() || !p.is_dir() {
        return Err(CommandError::Workspace(w.to_string()));
    }
    Ok(p.to_path_buf())
}

/// The original's id: the time in base 36 and five random base-36 digits.
fn new_id() -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut ms = portos_core::time::now_ms();
    let mut time = Vec::new();
    while ms > 0 {
        time.push(DIGITS[(ms % 36) as usize]);
        ms /= 36;
    }
    time.reverse();
    let mut random = [0u8; 5];
    getrandom::fill(&mut random).unwrap_or_default();
    time.extend(random.iter().map(|b| DIGITS[(*b as usize) % 36]));
    String::from_utf8(time).unwrap_or_default()
}

#[cfg(test)]
mod tests;
