//! Which file a process's command runs: a path as written (relative to the
//! process's `cwd`), or a bare name found beside the `portos` binary, then on
//! `PATH`. The supervisor spawns what this finds; `portos doctor` checks with it.

use std::path::{Path, PathBuf};

/// The folder of the running binary (`portos`): bare commands are looked up there first.
pub fn bin_dir() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
}

/// Whether `p` is a file someone may execute.
pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The program `command` means, or why none is found.
pub fn find(command: &str, cwd: &Path, bin_dir: Option<&Path>) -> Result<PathBuf, String> {
    if command.contains('/') {
        let p = cwd.join(command);
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(format!("command {} is not an executable file", p.display()))
        };
    }
    let beside = bin_dir.map(|d| d.join(command));
    let on_path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(command)).collect())
        .unwrap_or_default();
    beside
        .into_iter()
        .chain(on_path)
        .find(|p| is_executable(p))
        .ok_or_else(|| {
            let looked = bin_dir
                .map(|d| format!(" (looked in {} and on PATH)", d.display()))
                .unwrap_or_else(|| " (looked on PATH)".into());
            format!("command `{command}` not found{looked}")
        })
}
