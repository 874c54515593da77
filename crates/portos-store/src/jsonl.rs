//! JSON Lines files of the data dir (`brain/inbox_log.jsonl`, digests,
//! reviews): one compact object per line, read whole, appended to, or
//! rewritten under the same per-file lock as [`JsonStore`]'s JSON files.
//!
//! A line that does not parse is not dropped: it is reported (as
//! [`Line::Unreadable`], which readers skip) and written back as it was by
//! every rewrite, so a damaged line costs nothing but itself.

use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value};

use crate::json::read_bytes;
use crate::{JsonStore, StoreError, io_at, write_atomic};

/// One line of a JSON Lines file.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Entry(Map<String, Value>),
    /// Kept byte for byte; its 1-based line number when read.
    Unreadable {
        text: String,
        line: usize,
    },
}

/// The lines of one file, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lines(pub Vec<Line>);

impl Lines {
    /// The objects, in file order.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &Map<String, Value>> {
        self.0.iter().filter_map(|l| match l {
            Line::Entry(m) => Some(m),
            Line::Unreadable { .. } => None,
        })
    }

    pub fn entries_mut(&mut self) -> impl Iterator<Item = &mut Map<String, Value>> {
        self.0.iter_mut().filter_map(|l| match l {
            Line::Entry(m) => Some(m),
            Line::Unreadable { .. } => None,
        })
    }

    /// The lines that do not parse, by number.
    pub fn unreadable(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().filter_map(|l| match l {
            Line::Unreadable { line, .. } => Some(*line),
            Line::Entry(_) => None,
        })
    }

    /// Removes the entries `keep` refuses; how many went.
    pub fn retain(&mut self, mut keep: impl FnMut(&Map<String, Value>) -> bool) -> usize {
        let before = self.0.len();
        self.0.retain(|l| match l {
            Line::Entry(m) => keep(m),
            Line::Unreadable { .. } => true,
        });
        before - self.0.len()
    }

    fn parse(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes);
        Lines(
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(
                    |(n, l)| match serde_json::from_str::<Map<String, Value>>(l) {
                        Ok(m) => Line::Entry(m),
                        Err(_) => Line::Unreadable {
                            text: l.to_string(),
                            line: n + 1,
                        },
                    },
                )
                .collect(),
        )
    }

    /// One compact object per line and a trailing newline; nothing when empty.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for l in &self.0 {
            match l {
                Line::Entry(m) => out.extend(serde_json::to_vec(m).unwrap_or_default()),
                Line::Unreadable { text, .. } => out.extend(text.as_bytes()),
            }
            out.push(b'\n');
        }
        out
    }
}

fn append_line(path: &Path, line: Vec<u8>) -> Result<(), StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_at(path))?;
    // A file whose last line lacks its newline (cut by a crash) gets one first,
    // so the new line is not glued to it.
    let len = f.metadata().map_err(io_at(path))?.len();
    let mut bytes = Vec::with_capacity(line.len() + 2);
    if len > 0 {
        use std::io::{Read, Seek, SeekFrom};
        let mut r = std::fs::File::open(path).map_err(io_at(path))?;
        r.seek(SeekFrom::Start(len - 1)).map_err(io_at(path))?;
        let mut last = [0u8; 1];
        r.read_exact(&mut last).map_err(io_at(path))?;
        if last[0] != b'\n' {
            bytes.push(b'\n');
        }
    }
    bytes.extend(line);
    bytes.push(b'\n');
    f.write_all(&bytes).map_err(io_at(path))?;
    f.sync_all().map_err(io_at(path))
}

impl JsonStore {
    /// The lines of `rel` (none when missing).
    pub async fn lines(&self, rel: &str) -> Result<Lines, StoreError> {
        Ok(read_bytes(self.path(rel))
            .await?
            .map(|b| Lines::parse(&b))
            .unwrap_or_default())
    }

    /// Appends `entry` as one line, durably, under the file's lock.
    pub async fn append_line(
        &self,
        rel: &str,
        entry: &Map<String, Value>,
    ) -> Result<(), StoreError> {
        let path = self.path(rel);
        let line = serde_json::to_vec(entry).map_err(|e| StoreError::Encode {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let lock = self.lock_of(&path);
        let _guard = lock.lock().await;
        crate::blocking(move || append_line(&path, line)).await
    }

    /// Reads `rel`, lets `f` change its lines, and rewrites it atomically if
    /// `f` returns `Ok`, all under the file's lock.
    pub async fn update_lines<R, E>(
        &self,
        rel: &str,
        f: impl FnOnce(&mut Lines) -> Result<R, E>,
    ) -> Result<Result<R, E>, StoreError> {
        let path = self.path(rel);
        let lock = self.lock_of(&path);
        let _guard = lock.lock().await;
        let mut lines = read_bytes(path.clone())
            .await?
            .map(|b| Lines::parse(&b))
            .unwrap_or_default();
        match f(&mut lines) {
            Ok(r) => {
                let bytes = lines.encode();
                crate::blocking(move || write_atomic(&path, &bytes)).await?;
                Ok(Ok(r))
            }
            Err(e) => Ok(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[tokio::test]
    async fn a_bad_line_is_skipped_by_readers_and_kept_by_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        let store = JsonStore::new(dir.path());
        let original = "{\"id\":\"a\",\"n\":1}\nnot json at all\n{\"id\":\"b\",\"n\":2}\n";
        std::fs::write(dir.path().join("x.jsonl"), original).unwrap();
        let lines = store.lines("x.jsonl").await.unwrap();
        assert_eq!(lines.entries().count(), 2);
        assert_eq!(lines.unreadable().collect::<Vec<_>>(), vec![2]);
        store
            .update_lines("x.jsonl", |l| {
                l.entries_mut().for_each(|e| {
                    if e["id"] == "b" {
                        e.insert("n".into(), json!(3));
                    }
                });
                Ok::<_, ()>(())
            })
            .await
            .unwrap()
            .unwrap();
        let after = std::fs::read_to_string(dir.path().join("x.jsonl")).unwrap();
        assert_eq!(
            after,
            "{\"id\":\"a\",\"n\":1}\nnot json at all\n{\"id\":\"b\",\"n\":3}\n"
        );
    }

    #[tokio::test]
    async fn concurrent_appends_and_rewrites_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(JsonStore::new(dir.path()));
        // A file cut mid-line by a crash: the next append starts a new line.
        std::fs::write(dir.path().join("x.jsonl"), "{\"id\":\"cut\"}").unwrap();
        let mut tasks = Vec::new();
        for i in 0..40 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                if i % 2 == 0 {
                    store
                        .append_line("x.jsonl", &obj(json!({"id": i})))
                        .await
                        .unwrap();
                } else {
                    store
                        .update_lines("x.jsonl", |l| {
                            l.0.push(Line::Entry(obj(json!({"id": i}))));
                            Ok::<_, ()>(())
                        })
                        .await
                        .unwrap()
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let lines = store.lines("x.jsonl").await.unwrap();
        assert_eq!(lines.entries().count(), 41, "{lines:?}");
        assert_eq!(lines.unreadable().count(), 0);
    }

    #[tokio::test]
    async fn an_empty_log_is_an_empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = JsonStore::new(dir.path());
        store
            .append_line("x.jsonl", &obj(json!({"id": 1})))
            .await
            .unwrap();
        store
            .update_lines("x.jsonl", |l| Ok::<_, ()>(l.retain(|_| false)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(std::fs::read(dir.path().join("x.jsonl")).unwrap(), b"");
    }
}
