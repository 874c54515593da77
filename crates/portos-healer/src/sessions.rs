//! Fix history in the original's format: `data/autofixer/sessions/<id>/`
//! with `prompt.txt`, `output.txt` and `metadata.json`, and `index.json`
//! (newest first, at most [`INDEX_CAP`] entries; session folders are kept).
//! Every file is written atomically; entries the original wrote are kept as
//! they are. Ours add `status` (`running`, `succeeded`, `failed`,
//! `interrupted`), `verdict`, `diffStat`, `trigger`, `provider` and `agentId`.
//!
//! A session is `running` from the moment its folder exists until its end is
//! written; `data/autofixer/running.json` lists those ids, so an autofixer
//! that died mid-fix closes them as interrupted when it comes back.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use portos_core::Refuse;
use portos_store::{JsonStore, StoreError, safe_name, write_atomic};

use crate::HealerError;

pub const INDEX: &str = "autofixer/index.json";
const RUNNING: &str = "autofixer/running.json";
/// The original's cap on `index.json`.
pub const INDEX_CAP: usize = 100;

/// A session as the healer starts it.
#[derive(Debug, Clone)]
pub struct Begin {
    pub process: String,
    pub app_id: String,
    pub app_name: String,
    pub repo_path: String,
    pub prompt: String,
    pub trigger: String,
    pub provider: String,
    /// When the supervisor's event that made it a crash came (epoch ms).
    pub detected_ms: u64,
}

/// How a session ended.
#[derive(Debug, Clone, Default)]
pub struct End {
    pub exit_code: Option<i32>,
    pub success: bool,
    /// `succeeded`, `failed` or `interrupted`.
    pub status: &'static str,
    pub verdict: String,
    pub error: Option<String>,
    pub diff_stat: String,
    pub output: String,
}

/// The history folder of one data dir.
#[derive(Debug, Clone)]
pub struct Sessions {
    store: std::sync::Arc<JsonStore>,
}

/// `autofixer_<process>_<epoch ms>_<9 base-36 chars>`, as the original names them.
pub fn new_id(process: &str, now_ms: u64) -> String {
    let mut bytes = [0u8; 9];
    let _ = getrandom::fill(&mut bytes);
    let tail: String = bytes
        .iter()
        .map(|b| char::from_digit(u32::from(*b) % 36, 36).unwrap_or('0'))
        .collect();
    let process: String = process
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("autofixer_{process}_{now_ms}_{tail}")
}

impl Sessions {
    pub fn new(store: std::sync::Arc<JsonStore>) -> Self {
        Self { store }
    }

    fn dir(&self, id: &str) -> Result<PathBuf, HealerError> {
        let id = safe_name(id).map_err(|_| HealerError::not_found("Session not found"))?;
        Ok(self.store.path("autofixer/sessions").join(id))
    }

    /// Writes the session's folder (prompt and metadata, `running`) and marks it running.
    pub async fn begin(&self, id: &str, b: &Begin, started_ms: u64) -> Result<(), HealerError> {
        let dir = self.dir(id)?;
        let meta = json!({
            "sessionId": id,
            "startTime": iso_ms(started_ms),
            "processName": b.process,
            "appName": b.app_name,
            "appId": b.app_id,
            "repoPath": b.repo_path,
            "type": "autofixer",
            "status": "running",
            "trigger": b.trigger,
            "provider": b.provider,
            "agentId": id,
            "detectedAt": iso_ms(b.detected_ms),
        });
        let prompt = b.prompt.clone();
        blocking(move || {
            write_atomic(&dir.join("prompt.txt"), prompt.as_bytes())?;
            write_atomic(&dir.join("metadata.json"), &pretty(&meta))
        })
        .await?;
        self.store
            .update::<Vec<String>, _, HealerError>(RUNNING, |ids| {
                ids.push(id.to_string());
                Ok(())
            })
            .await??;
        Ok(())
    }

    /// Writes the end: the output, the full metadata and the index entry.
    pub async fn finish(&self, id: &str, end: &End, ended_ms: u64) -> Result<Value, HealerError> {
        let dir = self.dir(id)?;
        let mut meta = read_meta(&dir).await?;
        let started = meta["startTime"]
            .as_str()
            .and_then(|s| humantime::parse_rfc3339(s).ok())
            .map(ms_of)
            .unwrap_or(ended_ms);
        let duration = ended_ms.saturating_sub(started);
        let m = meta.as_object_mut().ok_or_else(|| bad_meta(&dir))?;
        m.insert("endTime".into(), json!(iso_ms(ended_ms)));
        m.insert("duration".into(), json!(duration));
        m.insert("exitCode".into(), json!(end.exit_code.unwrap_or(-1)));
        m.insert("success".into(), json!(end.success));
        m.insert("status".into(), json!(end.status));
        m.insert("verdict".into(), json!(end.verdict));
        m.insert("diffStat".into(), json!(end.diff_stat));
        if let Some(e) = &end.error {
            m.insert("error".into(), json!(e));
        }
        let prompt = tokio::fs::read_to_string(dir.join("prompt.txt"))
            .await
            .unwrap_or_default();
        let entry = json!({
            "sessionId": id,
            "startTime": meta["startTime"],
            "endTime": meta["endTime"],
            "duration": duration,
            "success": end.success,
            "processName": meta["processName"],
            "appName": meta["appName"],
            "promptPreview": prompt.chars().take(200).collect::<String>(),
            "outputSize": end.output.chars().count(),
            "status": end.status,
            "verdict": end.verdict,
            "diffStat": end.diff_stat,
        });
        let output = end.output.clone();
        let meta_bytes = pretty(&meta);
        blocking(move || {
            write_atomic(&dir.join("output.txt"), output.as_bytes())?;
            write_atomic(&dir.join("metadata.json"), &meta_bytes)
        })
        .await?;
        self.store
            .update::<Vec<Value>, _, HealerError>(INDEX, |index| {
                index.retain(|e| e["sessionId"] != id);
                index.insert(0, entry.clone());
                index.truncate(INDEX_CAP);
                Ok(())
            })
            .await??;
        self.store
            .update::<Vec<String>, _, HealerError>(RUNNING, |ids| {
                ids.retain(|x| x != id);
                Ok(())
            })
            .await??;
        Ok(meta)
    }

    /// Sessions an earlier autofixer left running: closed as interrupted.
    pub async fn close_interrupted(&self) -> Result<Vec<String>, HealerError> {
        let ids: Vec<String> = self.store.load(RUNNING).await?;
        for id in &ids {
            let end = End {
                status: "interrupted",
                verdict: "interrupted: the autofixer stopped while the fix ran".into(),
                error: Some("interrupted".into()),
                ..End::default()
            };
            if let Err(e) = self.finish(id, &end, portos_core::time::now_ms()).await {
                tracing::warn!(session = %id, error = %e, "could not close an interrupted session");
            }
        }
        Ok(ids)
    }

    /// `index.json` as it is (the original's entries untouched), newest first.
    pub async fn index(&self) -> Result<Vec<Value>, HealerError> {
        Ok(self.store.load(INDEX).await?)
    }

    /// One session: its metadata with `prompt` and `output`.
    pub async fn get(&self, id: &str) -> Result<Value, HealerError> {
        let dir = self.dir(id)?;
        if !tokio::fs::try_exists(dir.join("metadata.json"))
            .await
            .unwrap_or(false)
        {
            return Err(HealerError::not_found("Session not found"));
        }
        let mut meta = read_meta(&dir).await?;
        let text = |name: &str| {
            let path = dir.join(name);
            async move { tokio::fs::read_to_string(path).await.unwrap_or_default() }
        };
        if let Some(m) = meta.as_object_mut() {
            m.insert("prompt".into(), json!(text("prompt.txt").await));
            m.insert("output".into(), json!(text("output.txt").await));
        }
        Ok(meta)
    }
}

async fn read_meta(dir: &Path) -> Result<Value, HealerError> {
    let path = dir.join("metadata.json");
    let read = path.clone();
    let v: Option<Map<String, Value>> = blocking(move || portos_store::read_json(&read)).await?;
    v.map(Value::Object).ok_or_else(|| bad_meta(&path))
}

fn bad_meta(path: &Path) -> HealerError {
    HealerError::not_found(format!("no session metadata at {}", path.display()))
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).unwrap_or_default();
    b.push(b'\n');
    b
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, HealerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HealerError::internal(e.to_string()))?
        .map_err(HealerError::from)
}

fn iso_ms(ms: u64) -> String {
    portos_core::time::iso(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
}

fn ms_of(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn begin() -> Begin {
        Begin {
            process: "web".into(),
            app_id: "app".into(),
            app_name: "App".into(),
            repo_path: "/srv/app".into(),
            prompt: "fix it".into(),
            trigger: "errored".into(),
            provider: "fixer".into(),
            detected_ms: 1_700_000_000_000,
        }
    }

    #[tokio::test]
    async fn a_session_is_written_in_the_original_shape_and_an_interrupted_one_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(JsonStore::new(dir.path()));
        // An index the original wrote: kept as it is, behind ours.
        let old = json!([{ "sessionId": "autofixer_old_1_abc", "success": false, "processName": "old",
                           "appName": "Old", "startTime": "2025-01-01T00:00:00.000Z", "duration": 5,
                           "endTime": "2025-01-01T00:00:00.005Z", "promptPreview": "p", "outputSize": 1 }]);
        std::fs::create_dir_all(dir.path().join("autofixer")).unwrap();
        std::fs::write(dir.path().join(INDEX), serde_json::to_vec(&old).unwrap()).unwrap();
        let s = Sessions::new(store);
        let id = new_id("web", 1_700_000_000_000);
        assert!(id.starts_with("autofixer_web_1700000000000_"), "{id}");
        assert_eq!(id.len(), "autofixer_web_1700000000000_".len() + 9);
        s.begin(&id, &begin(), 1_700_000_000_000).await.unwrap();
        let meta = s
            .finish(
                &id,
                &End {
                    exit_code: Some(0),
                    success: true,
                    status: "succeeded",
                    verdict: "healthy".into(),
                    diff_stat: " app.py | 2 +-".into(),
                    output: "done".into(),
                    ..End::default()
                },
                1_700_000_002_500,
            )
            .await
            .unwrap();
        assert_eq!(meta["duration"], 2500);
        assert_eq!(meta["type"], "autofixer");
        assert_eq!(meta["exitCode"], 0);
        let index = s.index().await.unwrap();
        assert_eq!(index.len(), 2);
        assert_eq!(index[0]["sessionId"], id.as_str());
        assert_eq!(index[0]["outputSize"], 4);
        assert_eq!(index[1], old[0]);
        let one = s.get(&id).await.unwrap();
        assert_eq!(one["prompt"], "fix it");
        assert_eq!(one["output"], "done");
        assert!(s.get("../x").await.is_err());

        // A session left running by an autofixer that died.
        let left = new_id("web", 1_700_000_010_000);
        s.begin(&left, &begin(), 1_700_000_010_000).await.unwrap();
        let closed = Sessions::new(Arc::new(JsonStore::new(dir.path())))
            .close_interrupted()
            .await
            .unwrap();
        assert_eq!(closed, vec![left.clone()]);
        let one = s.get(&left).await.unwrap();
        assert_eq!(one["status"], "interrupted");
        assert_eq!(one["success"], false);
        assert!(s.close_interrupted().await.unwrap().is_empty());
    }
}
