//! Opening an app's repo on the desktop: its editor (a known one, no shell)
//! or the file manager.

use serde_json::{Value, json};

use portos_core::Refuse;

use crate::registry::with_repo;
use crate::{Apps, AppsError};

/// Editors `open-editor` may start (the first word of `editorCommand`).
pub const EDITORS: &[&str] = &[
    "code", "cursor", "zed", "subl", "atom", "vim", "nvim", "nano", "emacs", "idea", "pycharm",
    "webstorm", "phpstorm", "rubymine", "goland", "clion", "rider", "studio",
];
/// Options an editor argument may be: they only choose a window, and run nothing.
const WINDOW_OPTIONS: &[&str] = &["--wait", "-w", "--new-window", "-n", "--reuse-window", "-r"];
/// Characters an editor argument may not hold: no shell runs it, and none
/// should look like it could.
const SHELL_CHARS: &[char] = &[
    ';', '|', '&', '`', '$', '(', ')', '{', '}', '[', ']', '<', '>', '\\', '!', '#', '*', '?', '~',
];

/// Starts `program ARGS` in `dir`, detached: its own process group (so
/// stopping the api server leaves it), no shell, no terminal. Reaped by tokio.
fn spawn_detached(program: &str, args: &[&str], dir: &str) -> Result<(), AppsError> {
    tokio::process::Command::new(program)
        .env_remove(portos_core::secrets::INTERNAL_TOKEN_ENV)
        .args(args)
        .current_dir(dir)
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| {
            AppsError::bad_request(
                "COMMAND_NOT_FOUND",
                format!("cannot start {program:?}: {e}"),
            )
        })
}

/// The app's `editorCommand` (default
/// `code .`) in its repo, if its first word is a known editor.
pub async fn open_editor(apps: &Apps, id: &str) -> Result<Value, AppsError> {
    let (a, path) = with_repo(apps, id, "App path does not exist").await?;
    let command = a["editorCommand"].as_str().unwrap_or("code .").to_string();
    let mut words = command.split_whitespace();
    let editor = words.next().unwrap_or_default();
    if !EDITORS.contains(&editor) {
        return Err(portos_core::Problem::new(
            portos_core::Kind::Invalid,
            "INVALID_EDITOR",
            format!("editor {editor:?} is not one PortOS starts"),
        )
        .with_context(json!({ "allowedEditors": EDITORS }))
        .into());
    }
    let args: Vec<&str> = words.collect();
    if let Some(bad) = args.iter().find(|a| a.contains(SHELL_CHARS)) {
        return Err(AppsError::bad_request(
            "INVALID_EDITOR_ARGS",
            format!("editor argument {bad:?} holds a shell character"),
        ));
    }
    // An option could make the editor run a command (`--install-extension`,
    // `-c`, `+cmd`): only paths and the few window options below are passed.
    if let Some(bad) = args
        .iter()
        .find(|a| a.starts_with(['-', '+']) && !WINDOW_OPTIONS.contains(a))
    {
        return Err(AppsError::bad_request(
            "INVALID_EDITOR_ARGS",
            format!(
                "editor argument {bad:?} is an option; only paths and {} may follow the editor",
                WINDOW_OPTIONS.join(", ")
            ),
        ));
    }
    spawn_detached(editor, &args, &path)?;
    Ok(json!({ "success": true, "command": command, "path": path }))
}

/// The repo in the desktop's file manager
/// (`xdg-open`; `open` on macOS).
pub async fn open_folder(apps: &Apps, id: &str) -> Result<Value, AppsError> {
    let (_, path) = with_repo(apps, id, "App path does not exist").await?;
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    spawn_detached(opener, &[&path], &path)?;
    Ok(json!({ "success": true, "path": path }))
}
