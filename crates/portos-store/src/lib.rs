//! The data directory of PortOS (`data/` by default): its seed and the rules for
//! writing into it.
//!
//! Owns: the seed embedded in the binary (the shape of the original's
//! `data.sample/`, so a user's existing `data/` works unchanged), first-start
//! setup, and atomic, durable file writes. Later it owns the typed store of every
//! data file.
//! Must not depend on: any wire (axum, tonic, reqwest) or any other PortOS crate.

use std::path::{Path, PathBuf};

use include_dir::{Dir, DirEntry, include_dir};

static SEED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/seed");

/// Placeholder in `apps.json` replaced by the PortOS checkout's path.
const ROOT_PLACEHOLDER: &str = "\"__PORTOS_ROOT__\"";

/// Marker files that only keep empty seed folders in version control.
const KEEP_MARKER: &str = ".gitkeep";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a seeding run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub created_dirs: Vec<PathBuf>,
    pub created_files: Vec<PathBuf>,
}

/// Seeds `data_dir` idempotently: creates every missing folder and file of the
/// seed, never overwrites an existing file. `root` (the PortOS checkout) is
/// written into `apps.json` as the baseline app's `repoPath`.
pub fn seed(data_dir: &Path, root: &Path) -> Result<SeedReport, StoreError> {
    let mut report = SeedReport::default();
    if !data_dir.exists() {
        std::fs::create_dir_all(data_dir).map_err(io_at(data_dir))?;
        report.created_dirs.push(data_dir.to_path_buf());
    }
    seed_dir(&SEED, data_dir, root, &mut report)?;
    Ok(report)
}

fn seed_dir(
    dir: &Dir<'_>,
    data_dir: &Path,
    root: &Path,
    report: &mut SeedReport,
) -> Result<(), StoreError> {
    for entry in dir.entries() {
        let dest = data_dir.join(entry.path());
        match entry {
            DirEntry::Dir(d) => {
                if !dest.exists() {
                    std::fs::create_dir_all(&dest).map_err(io_at(&dest))?;
                    report.created_dirs.push(dest.clone());
                }
                seed_dir(d, data_dir, root, report)?;
            }
            DirEntry::File(f) => {
                if f.path().file_name().is_some_and(|n| n == KEEP_MARKER) || dest.exists() {
                    continue;
                }
                let mut bytes = f.contents().to_vec();
                if f.path() == Path::new("apps.json") {
                    let text = String::from_utf8_lossy(&bytes);
                    let root = serde_json::to_string(&root.to_string_lossy()).unwrap_or_default();
                    bytes = text.replace(ROOT_PLACEHOLDER, &root).into_bytes();
                }
                write_atomic(&dest, &bytes)?;
                report.created_files.push(dest);
            }
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new one,
/// never a part: a temporary file in the same folder, fsync, rename, fsync of the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_at(dir))?;
    tmp.write_all(bytes).map_err(io_at(path))?;
    tmp.as_file().sync_all().map_err(io_at(path))?;
    tmp.persist(path).map_err(|e| StoreError::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_at(dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_once_and_never_overwrites() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let first = seed(&data, Path::new("/opt/my \"portos\"")).unwrap();
        assert!(first.created_files.len() >= 10, "{first:?}");
        for dir in ["runs", "cos/agents", "autofixer/sessions", "prompts/stages"] {
            assert!(data.join(dir).is_dir(), "{dir}");
        }
        assert!(!data.join("runs/.gitkeep").exists());
        let apps: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(data.join("apps.json")).unwrap())
                .unwrap();
        assert_eq!(
            apps["apps"]["portos-default"]["repoPath"],
            "/opt/my \"portos\""
        );
        assert_eq!(
            apps["apps"]["portos-default"]["pm2ProcessNames"]
                .as_array()
                .unwrap()
                .len(),
            6
        );

        std::fs::write(data.join("settings.json"), "{\"mine\":true}").unwrap();
        std::fs::remove_file(data.join("history.json")).unwrap();
        std::fs::remove_dir_all(data.join("cos")).unwrap();
        let second = seed(&data, Path::new("/elsewhere")).unwrap();
        assert_eq!(
            std::fs::read_to_string(data.join("settings.json")).unwrap(),
            "{\"mine\":true}"
        );
        assert!(second.created_files.contains(&data.join("history.json")));
        assert!(second.created_files.contains(&data.join("cos/state.json")));
        assert!(!second.created_files.contains(&data.join("apps.json")));
        let third = seed(&data, Path::new("/elsewhere")).unwrap();
        assert_eq!(third, SeedReport::default(), "idempotent");
    }
}
