//! Hand edits of the task files: a watcher on the data dir that tells which
//! queue changed, each burst of writes told once (an editor writes a file in
//! several steps). The CoS's own writes are told too; whoever listens
//! compares with what it knew.

use std::path::Path;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::Kind;

/// How long a file must be quiet before its change is told.
const SETTLE: Duration = Duration::from_millis(300);

/// A running watcher; dropping it stops it.
pub struct FileWatch {
    _watcher: notify::RecommendedWatcher,
}

impl std::fmt::Debug for FileWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileWatch")
    }
}

/// Watches `data_dir` for changes of either task file; each settled change
/// is sent to `tx`.
pub fn watch(data_dir: &Path, tx: mpsc::Sender<Kind>) -> Result<FileWatch, notify::Error> {
    let (raw_tx, mut raw_rx) = mpsc::unbounded_channel::<Kind>();
    let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        let Ok(ev) = ev else { return };
        if ev.kind.is_access() {
            return;
        }
        for p in &ev.paths {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            for kind in [Kind::User, Kind::Cos] {
                if name == kind.file_name() {
                    let _ = raw_tx.send(kind);
                }
            }
        }
    })?;
    watcher.watch(data_dir, RecursiveMode::NonRecursive)?;
    tokio::spawn(async move {
        let mut dirty: Vec<Kind> = Vec::new();
        loop {
            let next = if dirty.is_empty() {
                raw_rx.recv().await
            } else {
                match tokio::time::timeout(SETTLE, raw_rx.recv()).await {
                    Ok(k) => k,
                    Err(_) => {
                        for k in dirty.drain(..) {
                            if tx.send(k).await.is_err() {
                                return;
                            }
                        }
                        continue;
                    }
                }
            };
            match next {
                Some(k) if !dirty.contains(&k) => dirty.push(k),
                Some(_) => {}
                None => return,
            }
        }
    });
    Ok(FileWatch { _watcher: watcher })
}
