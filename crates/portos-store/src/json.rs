//! Typed JSON files in the data dir, read and written safely.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{StoreError, io_at, write_atomic};

/// The JSON files of one data dir. Writers of one file are serialized (an async
/// lock per file, held across read-modify-write); readers take no lock and see
/// the old file or the new one, never a part. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct JsonStore {
    root: PathBuf,
    locks: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
}

impl JsonStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            locks: Mutex::default(),
        }
    }

    /// The data dir.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path of a data file, from a relative path our code names
    /// (e.g. `history.json`, `agents/accounts.json`).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn lock_of(&self, path: &Path) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(path.to_path_buf())
            .or_default()
            .clone()
    }

    /// Reads `rel`; a missing file is `T::default()`. A file that does not parse
    /// is an error naming the file, line, column and field, and is left as it is.
    pub async fn load<T: DeserializeOwned + Default>(&self, rel: &str) -> Result<T, StoreError> {
        Ok(self.load_opt(rel).await?.unwrap_or_default())
    }

    /// Reads `rel`, `None` when missing.
    pub async fn load_opt<T: DeserializeOwned>(&self, rel: &str) -> Result<Option<T>, StoreError> {
        let path = self.path(rel);
        let bytes = read_bytes(path.clone()).await?;
        bytes.map(|b| parse(&path, &b)).transpose()
    }

    /// Replaces `rel` with `value`.
    pub async fn save<T: Serialize>(&self, rel: &str, value: &T) -> Result<(), StoreError> {
        let path = self.path(rel);
        let lock = self.lock_of(&path);
        let _guard = lock.lock().await;
        write_json(path, value).await
    }

    /// Reads `rel` (default when missing), lets `f` change it, and writes it back
    /// if `f` returns `Ok`, all under the file's lock so no concurrent update is lost.
    pub async fn update<T, R, E>(
        &self,
        rel: &str,
        f: impl FnOnce(&mut T) -> Result<R, E>,
    ) -> Result<Result<R, E>, StoreError>
    where
        T: DeserializeOwned + Serialize + Default,
    {
        let path = self.path(rel);
        let lock = self.lock_of(&path);
        let _guard = lock.lock().await;
        let mut value: T = match read_bytes(path.clone()).await? {
            Some(b) => parse(&path, &b)?,
            None => T::default(),
        };
        match f(&mut value) {
            Ok(r) => {
                write_json(path, &value).await?;
                Ok(Ok(r))
            }
            Err(e) => Ok(Err(e)),
        }
    }
}

async fn read_bytes(path: PathBuf) -> Result<Option<Vec<u8>>, StoreError> {
    tokio::task::spawn_blocking(move || match std::fs::read(&path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_at(&path)(e)),
    })
    .await
    .map_err(|e| StoreError::Io {
        path: PathBuf::new(),
        source: std::io::Error::other(e),
    })?
}

/// The original's format: JSON indented by two spaces, no trailing newline.
async fn write_json<T: Serialize>(path: PathBuf, value: &T) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| StoreError::Encode {
        path: path.clone(),
        message: e.to_string(),
    })?;
    tokio::task::spawn_blocking(move || write_atomic(&path, &bytes))
        .await
        .map_err(|e| StoreError::Io {
            path: PathBuf::new(),
            source: std::io::Error::other(e),
        })?
}

/// Parses with the path of the failing field in the error.
pub(crate) fn parse<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, StoreError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let full = inner.to_string();
        let suffix = format!(" at line {} column {}", inner.line(), inner.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
        let location = if field == "." || field.is_empty() {
            format!("line {}, column {}", inner.line(), inner.column())
        } else {
            format!(
                "line {}, column {}, field {field}",
                inner.line(),
                inner.column()
            )
        };
        StoreError::Corrupt {
            path: path.to_path_buf(),
            location,
            message,
        }
    })
}
