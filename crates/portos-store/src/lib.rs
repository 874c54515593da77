//! The data directory of PortOS (`data/` by default): its seed, and every read
//! and write of its JSON files.
//!
//! Owns: the seed embedded in the binary (the shape of the original's
//! `data.sample/`, so a user's existing `data/` works unchanged) and first-start
//! setup; [`JsonStore`], through which every JSON file is read into typed structs
//! (errors name the file, the path of the field and what was expected) and written
//! atomically and durably (temp file, fsync, rename, fsync of the folder), one
//! writer per file at a time, a corrupt file reported and never replaced (also for
//! files kept outside the store: `read_json`, `write_json_file`); and the
//! data file types, which keep unknown fields so nothing the original wrote is lost.
//! Must not depend on: any wire (axum, tonic, reqwest) or any other PortOS crate.

mod append;
pub mod changes;
mod json;
pub mod jsonl;
mod scan;
mod seed;
pub mod types;

use std::path::{Path, PathBuf};

pub use json::{JsonStore, read_json, write_json_file};
pub use seed::{SeedReport, seed};

/// What can go wrong with the data dir.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file exists but is not what it should be. It is left as it is.
    #[error("{}: {message} (at {location}); the file was left untouched", path.display())]
    Corrupt {
        path: PathBuf,
        /// `line L, column C, field a.b[2]`.
        location: String,
        message: String,
    },
    /// A name that would leave its folder (`..`, `/`, empty).
    #[error("invalid file name {name:?}")]
    InvalidName { name: String },
    #[error("cannot encode {}: {message}", path.display())]
    Encode { path: PathBuf, message: String },
}

pub(crate) fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs blocking file work on tokio's blocking pool; a task that panicked or
/// was cancelled is an I/O error.
pub(crate) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, StoreError> + Send + 'static,
) -> Result<R, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Io {
            path: PathBuf::new(),
            source: std::io::Error::other(e),
        })?
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new one,
/// never a part: a temporary file in the same folder, fsync, rename, fsync of the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic`] of what `fill` writes into the temporary file.
pub(crate) fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), StoreError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_at(dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(io_at(dir))?;
    fill(tmp.as_file_mut()).map_err(io_at(path))?;
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

/// `name` as a single path component inside a folder: refuses `..`, separators,
/// NUL and the empty name, so a joined path can never leave the folder.
pub fn safe_name(name: &str) -> Result<&str, StoreError> {
    let bad = name.is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\\', '\0'])
        || name.len() > 255;
    if bad {
        Err(StoreError::InvalidName {
            name: name.to_string(),
        })
    } else {
        Ok(name)
    }
}
