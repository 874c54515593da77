//! The apps' groups kept in the data dir (`supervisor.d/<group>.toml`, mode
//! 0600: an app's environment may hold its secrets), so the next start runs
//! them again — all but the processes the owner stopped (`<group>.stopped`). Each file is the table as applied, after one first line
//! `# root: <dir>` that says what its relative paths meant. Written atomically
//! and durably; a file that no longer parses is reported and kept.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Applied, Supervisor, SupervisorError};

/// The folder of the kept groups inside the data dir.
pub const DIR: &str = "supervisor.d";
const ROOT_LINE: &str = "# root: ";

fn file(data_dir: &Path, group: &str) -> PathBuf {
    data_dir.join(DIR).join(format!("{group}.toml"))
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> SupervisorError {
    move |source| SupervisorError::Io { what, source }
}

/// Writes `body` to `path` (mode 0600) atomically and durably: a temp file,
/// fsync, rename, fsync of the folder.
fn write_atomic(path: &Path, body: &[u8]) -> Result<(), SupervisorError> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io(format!("cannot write {}", path.display())))
}

/// Keeps `group`'s table, after the line saying what its relative paths meant.
pub(crate) fn save(
    data_dir: &Path,
    group: &str,
    text: &str,
    root: &Path,
) -> Result<(), SupervisorError> {
    let body = format!("{ROOT_LINE}{}\n{text}", root.display());
    write_atomic(&file(data_dir, group), body.as_bytes())
}

fn stopped_file(data_dir: &Path, group: &str) -> PathBuf {
    data_dir.join(DIR).join(format!("{group}.stopped"))
}

/// The processes of `group` the owner stopped: they stay stopped at the next start.
pub(crate) fn stopped(data_dir: &Path, group: &str) -> Vec<String> {
    std::fs::read_to_string(stopped_file(data_dir, group))
        .map(|t| {
            t.lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Remembers that `names` of `group` were stopped (`stop`) or started again.
pub(crate) fn remember(
    data_dir: &Path,
    group: &str,
    names: &[String],
    stop: bool,
) -> Result<(), SupervisorError> {
    if !file(data_dir, group).exists() {
        return Ok(());
    }
    let mut list = stopped(data_dir, group);
    list.retain(|n| !names.contains(n));
    if stop {
        list.extend(names.iter().cloned());
    }
    let path = stopped_file(data_dir, group);
    if list.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(io(format!("cannot remove {}", path.display()))(e))
            }
            _ => Ok(()),
        };
    }
    write_atomic(&path, (list.join("\n") + "\n").as_bytes())
}

/// Forgets `group`'s kept table; whether there was one.
pub(crate) fn remove(data_dir: &Path, group: &str) -> Result<bool, SupervisorError> {
    let _ = std::fs::remove_file(stopped_file(data_dir, group));
    let path = file(data_dir, group);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io(format!("cannot remove {}", path.display()))(e)),
    }
}

/// Applies every kept group, in name order; each group's outcome (a bad file
/// is reported and left as it is; the others still run).
pub async fn apply_kept(sup: &Supervisor) -> Vec<(String, Result<Applied, SupervisorError>)> {
    let dir = sup.data_dir().join(DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let Some(group) = path.file_stem().and_then(|s| s.to_str()).map(String::from) else {
            continue;
        };
        let outcome = async {
            let text = std::fs::read_to_string(&path)
                .map_err(io(format!("cannot read {}", path.display())))?;
            let root = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix(ROOT_LINE))
                .map(PathBuf::from)
                .unwrap_or_else(|| sup.data_dir().to_path_buf());
            let config = portos_config::Config::parse_in(&text, &path, &root)
                .map_err(|e| SupervisorError::Invalid(e.to_string()))?;
            // What the owner stopped stays stopped.
            sup.apply_holding(&group, config, &stopped(sup.data_dir(), &group))
                .await
        }
        .await;
        out.push((group, outcome));
    }
    out
}
