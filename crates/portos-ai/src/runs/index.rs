//! The runs list without reading every run at every look: per run folder,
//! what the list sorts and filters by (`startTime`, `source`) and the stamp
//! of its `metadata.json` (inode, size, modification time). A look lists the
//! folder and stats each metadata file, all in one hop to the blocking pool;
//! only a file that changed is read again, and of the rest only the page
//! asked for. The original parsed every run's metadata for every list — a
//! runs page open on a busy machine read hundreds of files a second, and
//! each answer held all of them in memory at once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::check_id;

/// What tells one version of a metadata file from another.
type Stamp = (u64, i64, i64, u64);

#[derive(Clone)]
struct Entry {
    stamp: Stamp,
    /// `None` for a file that is not a run's metadata (no `id`, not JSON).
    summary: Option<(String, String)>,
}

/// The index of one data dir's runs.
#[derive(Default)]
pub struct Index {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

fn stamp_of(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.ino(), m.mtime(), m.mtime_nsec(), m.size()))
}

fn read_meta(path: &Path) -> Option<Map<String, Value>> {
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice::<Map<String, Value>>(&bytes) {
        Ok(m) if m.get("id").is_some_and(Value::is_string) => Some(m),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!("skipping a run: {}: {e}", path.display());
            None
        }
    }
}

fn text(m: &Map<String, Value>, key: &str, default: &str) -> String {
    m.get(key)
        .and_then(Value::as_str)
        .unwrap_or(default)
        .to_string()
}

impl Index {
    /// `(total, page)`: the runs from `source` (`all` for every one), newest
    /// first, `limit` of them from `offset`, each its whole metadata.
    pub async fn page(
        &self,
        dir: PathBuf,
        source: &str,
        limit: usize,
        offset: usize,
    ) -> (usize, Vec<Map<String, Value>>) {
        let entries = self.entries.clone();
        let source = source.to_string();
        tokio::task::spawn_blocking(move || {
            let mut kept = entries.lock().unwrap_or_else(|e| e.into_inner());
            let rows = scan(&dir, &mut kept);
            drop(kept);
            let mut rows: Vec<(String, String)> = rows
                .into_iter()
                .filter(|(_, (_, s))| source == "all" || *s == source)
                .map(|(id, (start, _))| (id, start))
                .collect();
            rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let total = rows.len();
            let page = rows
                .iter()
                .skip(offset)
                .take(limit)
                .filter_map(|(id, _)| read_meta(&dir.join(id).join("metadata.json")))
                .collect();
            (total, page)
        })
        .await
        .unwrap_or_default()
    }
}

/// Every run folder's `(startTime, source)`, the index brought up to date.
fn scan(dir: &Path, kept: &mut HashMap<String, Entry>) -> Vec<(String, (String, String))> {
    let mut rows = Vec::new();
    let mut present = std::collections::HashSet::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        if check_id(&id).is_err() {
            continue;
        }
        let meta = e.path().join("metadata.json");
        let Some(stamp) = stamp_of(&meta) else {
            continue;
        };
        let entry = match kept.get(&id) {
            Some(k) if k.stamp == stamp => k.clone(),
            _ => {
                let summary = read_meta(&meta)
                    .map(|m| (text(&m, "startTime", ""), text(&m, "source", "devtools")));
                let entry = Entry { stamp, summary };
                kept.insert(id.clone(), entry.clone());
                entry
            }
        };
        if let Some(s) = entry.summary {
            rows.push((id.clone(), s));
        }
        present.insert(id);
    }
    // Runs deleted since (by us or by hand) leave the index.
    kept.retain(|id, _| present.contains(id));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_run(dir: &Path, id: &str, start: &str, source: Option<&str>) {
        std::fs::create_dir_all(dir.join(id)).unwrap();
        let mut m = serde_json::json!({ "id": id, "startTime": start, "success": true });
        if let Some(s) = source {
            m["source"] = s.into();
        }
        std::fs::write(dir.join(id).join("metadata.json"), m.to_string()).unwrap();
    }

    fn ids(page: &[Map<String, Value>]) -> Vec<&str> {
        page.iter().map(|m| m["id"].as_str().unwrap()).collect()
    }

    #[tokio::test]
    async fn pages_newest_first_by_source_and_sees_every_change() {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("runs");
        for (i, source) in [None, Some("cos-agent"), None, Some("cos-agent"), None]
            .into_iter()
            .enumerate()
        {
            write_run(
                &dir,
                &format!("r{i}"),
                &format!("2026-12-0{}T00:00:00.000Z", i + 1),
                source,
            );
        }
        std::fs::create_dir_all(dir.join("broken")).unwrap();
        std::fs::write(dir.join("broken/metadata.json"), "{ not json").unwrap();
        std::fs::create_dir_all(dir.join("no-meta")).unwrap();
        let index = Index::default();
        let (total, page) = index.page(dir.clone(), "all", 2, 1).await;
        assert_eq!((total, ids(&page)), (5, vec!["r3", "r2"]));
        let (total, page) = index.page(dir.clone(), "devtools", 10, 0).await;
        assert_eq!(
            (total, ids(&page)),
            (3, vec!["r4", "r2", "r0"]),
            "no source is devtools"
        );
        let (total, page) = index.page(dir.clone(), "cos-agent", 10, 0).await;
        assert_eq!((total, ids(&page)), (2, vec!["r3", "r1"]));

        // A run rewritten (it ended), one added, one deleted, the broken one mended.
        write_run(&dir, "r0", "2026-12-09T00:00:00.000Z", Some("cos-agent"));
        write_run(&dir, "r9", "2026-12-08T00:00:00.000Z", None);
        std::fs::remove_dir_all(dir.join("r4")).unwrap();
        write_run(&dir, "broken", "2026-11-01T00:00:00.000Z", None);
        let (total, page) = index.page(dir.clone(), "all", 10, 0).await;
        assert_eq!(total, 6);
        assert_eq!(ids(&page), ["r0", "r9", "r3", "r2", "r1", "broken"]);
        assert_eq!(
            page[0]["source"], "cos-agent",
            "the page is the metadata as it is now"
        );
        assert_eq!(
            index.entries.lock().unwrap().len(),
            6,
            "the deleted run left the index"
        );
        let (total, _) = index.page(data.path().join("nothing"), "all", 10, 0).await;
        assert_eq!(total, 0);
    }
}
