//! Typed JSON files in the data dir, read and written safely.

use std::any::Any;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
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
    /// Parsed files for [`JsonStore::load_shared`], each with the identity of
    /// the file it was read from.
    parsed: Mutex<HashMap<PathBuf, Parsed>>,
}

/// One parsed file and the stamp of the file it came from.
#[derive(Debug, Clone)]
struct Parsed {
    stamp: FileStamp,
    /// The generation of the file's folder when the stamp was last checked
    /// (`changes`): while it stands, the file is the same without a `stat`.
    generation: Option<u64>,
    value: Arc<dyn Any + Send + Sync>,
}

/// What tells one version of a file from another without reading it: an atomic
/// write makes a new inode, an edit in place moves the change time or the size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl FileStamp {
    fn of(m: &std::fs::Metadata) -> Self {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Self {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime_ns: ns(m.mtime(), m.mtime_nsec()),
            ctime_ns: ns(m.ctime(), m.ctime_nsec()),
        }
    }
}

impl JsonStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            locks: Mutex::default(),
            parsed: Mutex::default(),
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

    /// The write lock of `path`. A lock no one holds or waits for (the map's
    /// is its only reference) leaves the map here, so the map holds the files
    /// being written now, not every file ever written (a run's metadata, a
    /// day's activity: one more path each).
    pub(crate) fn lock_of(&self, path: &Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.retain(|p, l| p == path || Arc::strong_count(l) > 1);
        locks.entry(path.to_path_buf()).or_default().clone()
    }

    #[cfg(test)]
    fn locks_kept(&self) -> usize {
        self.locks.lock().unwrap_or_else(|e| e.into_inner()).len()
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

    /// Reads `rel` like [`JsonStore::load`], shared: while the file is the one
    /// last parsed (no change in its folder since, as [`crate::changes`] tells;
    /// else the same inode, size, change and modification times, one `stat`),
    /// the parsed value is handed out again without reading. Edits by other
    /// programs are seen at once; writes through this store drop the entry.
    /// For files read far more often than written (providers, history).
    pub async fn load_shared<T>(&self, rel: &str) -> Result<Arc<T>, StoreError>
    where
        T: DeserializeOwned + Default + Send + Sync + 'static,
    {
        let path = self.path(rel);
        let generation = path.parent().and_then(crate::changes::generation);
        let cached = |fresh: &dyn Fn(&Parsed) -> bool| {
            let mut map = self.parsed_map();
            let p = map.get_mut(&path).filter(|p| fresh(p))?;
            p.generation = generation;
            p.value.clone().downcast::<T>().ok()
        };
        if let Some(value) = generation.and_then(|g| cached(&|p: &Parsed| p.generation == Some(g)))
        {
            return Ok(value);
        }
        // A stat of a local file: microseconds, not worth a blocking-pool hop.
        let stamp = match std::fs::metadata(&path) {
            Ok(m) => FileStamp::of(&m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Arc::new(T::default()));
            }
            Err(e) => return Err(io_at(&path)(e)),
        };
        if let Some(value) = cached(&|p: &Parsed| p.stamp == stamp) {
            return Ok(value);
        }
        // Read after the stat: the bytes are this version or a newer one, so a
        // stale stamp can only cause one more read later, never a stale value.
        let value: Arc<T> = match read_bytes(path.clone()).await? {
            Some(b) => Arc::new(parse(&path, &b)?),
            None => Arc::new(T::default()),
        };
        self.parsed_map().insert(
            path,
            Parsed {
                stamp,
                generation,
                value: value.clone(),
            },
        );
        Ok(value)
    }

    fn parsed_map(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Parsed>> {
        self.parsed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces `rel` with `value`.
    pub async fn save<T: Serialize>(&self, rel: &str, value: &T) -> Result<(), StoreError> {
        let path = self.path(rel);
        let lock = self.lock_of(&path);
        let _guard = lock.lock().await;
        self.parsed_map().remove(&path);
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
                self.parsed_map().remove(&path);
                write_json(path, &value).await?;
                Ok(Ok(r))
            }
            Err(e) => Ok(Err(e)),
        }
    }
}

impl JsonStore {
    /// Appends `item` to the array `field` of the JSON object in `rel` (a
    /// missing file becomes `{ field: [item] }`), under the file's lock and
    /// written like every other, without reading the file into memory: for
    /// logs that grow all day (see `append.rs`). A file whose last member is
    /// not that array is read, changed and written whole; one that does not
    /// parse is an error naming where, and is left as it is.
    pub async fn append<T: Serialize + Send + 'static>(
        &self,
        rel: &str,
        field: &str,
        item: T,
    ) -> Result<(), StoreError> {
        let path = self.path(rel);
        let lock = self.lock_of(&path);
        let _guard = lock.lock().await;
        self.parsed_map().remove(&path);
        let field = field.to_string();
        crate::blocking(move || crate::append::append_to_array(&path, &field, &item)).await
    }
}

impl JsonStore {
    /// Folds `f` over the items of the array `field` of the JSON object in
    /// `rel`, oldest first, reading the file in one streaming pass: memory is
    /// what `acc` keeps plus one item, whatever the file's size (see
    /// `scan.rs`). A missing file or field leaves `acc` as it is; a file that
    /// does not parse, or an item that is not a `T`, is an error naming where.
    /// Takes no lock: a reader sees one version of the file.
    pub async fn fold<T, A>(
        &self,
        rel: &str,
        field: &str,
        acc: A,
        f: impl FnMut(&mut A, T) + Send + 'static,
    ) -> Result<A, StoreError>
    where
        T: DeserializeOwned,
        A: Send + 'static,
    {
        let path = self.path(rel);
        let field = field.to_string();
        crate::blocking(move || crate::scan::fold_array(&path, &field, acc, f)).await
    }
}

pub(crate) async fn read_bytes(path: PathBuf) -> Result<Option<Vec<u8>>, StoreError> {
    crate::blocking(move || read_opt(&path)).await
}

/// `path`'s bytes, `None` when it does not exist.
fn read_opt(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_at(path)(e)),
    }
}

/// Reads a JSON file outside a [`JsonStore`] (blocking): `None` when missing;
/// a file that does not parse is an error naming it, and is left as it is.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    read_opt(path)?.map(|b| parse(path, &b)).transpose()
}

/// Writes a JSON file outside a [`JsonStore`] (blocking), in the original's
/// format (indented by two spaces), atomically and durably.
pub fn write_json_file<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    write_atomic(path, &encode(path, value)?)
}

/// The original's format: JSON indented by two spaces, no trailing newline.
fn encode<T: Serialize>(path: &Path, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec_pretty(value).map_err(|e| StoreError::Encode {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

async fn write_json<T: Serialize>(path: PathBuf, value: &T) -> Result<(), StoreError> {
    let bytes = encode(&path, value)?;
    crate::blocking(move || write_atomic(&path, &bytes)).await
}

/// Parses with the path of the failing field in the error.
pub(crate) fn parse<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, StoreError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let field = (field != "." && !field.is_empty()).then_some(field);
        corrupt(path, &e.into_inner(), field.as_deref())
    })
}

/// A parse error as [`StoreError::Corrupt`]: the message without serde's
/// position suffix, the position (and the field's path, when known) apart.
pub(crate) fn corrupt(path: &Path, e: &serde_json::Error, field: Option<&str>) -> StoreError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let mut location = format!("line {}, column {}", e.line(), e.column());
    if let Some(field) = field {
        location.push_str(&format!(", field {field}"));
    }
    StoreError::Corrupt {
        path: path.to_path_buf(),
        location,
        message: full.strip_suffix(&suffix).unwrap_or(&full).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::JsonStore;

    #[tokio::test]
    async fn a_lock_leaves_the_map_once_its_file_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = JsonStore::new(dir.path());
        for i in 0..200 {
            store
                .save(
                    &format!("runs/{i}/metadata.json"),
                    &serde_json::json!({ "i": i }),
                )
                .await
                .unwrap();
        }
        assert!(store.locks_kept() <= 1, "{} locks kept", store.locks_kept());
        // Held locks stay: a write waiting on one must get the same.
        let held = store.lock_of(std::path::Path::new("/x"));
        let _guard = held.lock().await;
        store.save("y.json", &1).await.unwrap();
        assert!(std::sync::Arc::ptr_eq(
            &held,
            &store.lock_of(std::path::Path::new("/x"))
        ));
    }
}
