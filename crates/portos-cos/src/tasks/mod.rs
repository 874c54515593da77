//! The two task queues: the owner's (`data/TASKS.md`) and the CoS's own
//! (`data/COS-TASKS.md`, with the approval column), read and written through
//! the lossless [`codec`], one writer at a time per file, each write atomic.
//! A file nothing changed is not rewritten.

pub mod codec;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

pub use codec::{Approval, Doc, Priority, Status, Task, Unparsed};

use crate::CosError;

/// Which queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The owner's tasks.
    User,
    /// The CoS's own tasks (approval column; the original's "internal").
    Cos,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Kind::User),
            "internal" | "cos" | "system" => Some(Kind::Cos),
            _ => None,
        }
    }

    /// The original's `taskType`.
    pub fn task_type(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Cos => "internal",
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            Kind::User => "TASKS.md",
            Kind::Cos => "COS-TASKS.md",
        }
    }
}

/// One task file.
#[derive(Debug)]
pub struct TaskFile {
    pub kind: Kind,
    pub path: PathBuf,
    lock: tokio::sync::Mutex<()>,
}

impl TaskFile {
    pub fn new(data_dir: &Path, kind: Kind) -> Self {
        TaskFile {
            kind,
            path: data_dir.join(kind.file_name()),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    fn read_now(&self) -> Result<(Doc, Vec<Unparsed>, bool), CosError> {
        let cos = self.kind == Kind::Cos;
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| {
                    CosError::Corrupt(format!("{} is not UTF-8 text", self.path.display()))
                })?;
                let (doc, bad) = Doc::parse(&text, cos);
                Ok((doc, bad, true))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok((Doc::empty(cos), Vec::new(), false))
            }
            Err(e) => Err(CosError::Io(format!("{}: {e}", self.path.display()))),
        }
    }

    /// The file as it is now.
    pub async fn read(&self) -> Result<(Doc, Vec<Unparsed>, bool), CosError> {
        let _one = self.lock.lock().await;
        self.read_now()
    }

    /// Reads, changes and (when the text changed) writes the file atomically,
    /// all under the file's lock.
    pub async fn edit<R>(&self, f: impl FnOnce(&mut Doc) -> R) -> Result<R, CosError> {
        let _one = self.lock.lock().await;
        let (mut doc, _, exists) = self.read_now()?;
        let before = doc.render();
        let r = f(&mut doc);
        let after = doc.render();
        if after != before || !exists {
            let path = self.path.clone();
            tokio::task::spawn_blocking(move || {
                portos_store::write_atomic(&path, after.as_bytes())
            })
            .await
            .map_err(|e| CosError::Io(e.to_string()))?
            .map_err(|e| CosError::Io(e.to_string()))?;
        }
        Ok(r)
    }
}

/// Both queues.
#[derive(Debug, Clone)]
pub struct Queues {
    pub user: Arc<TaskFile>,
    pub cos: Arc<TaskFile>,
}

impl Queues {
    pub fn new(data_dir: &Path) -> Self {
        Queues {
            user: Arc::new(TaskFile::new(data_dir, Kind::User)),
            cos: Arc::new(TaskFile::new(data_dir, Kind::Cos)),
        }
    }

    pub fn file(&self, kind: Kind) -> &TaskFile {
        match kind {
            Kind::User => &self.user,
            Kind::Cos => &self.cos,
        }
    }

    /// Which queue holds task `id` (the owner's first), and the task.
    pub async fn find(&self, id: &str) -> Result<Option<(Kind, Task)>, CosError> {
        for kind in [Kind::User, Kind::Cos] {
            let (doc, _, _) = self.file(kind).read().await?;
            if let Some(t) = doc.get(id) {
                return Ok(Some((kind, t.clone())));
            }
        }
        Ok(None)
    }
}

/// A task as the original's API answers it.
pub fn task_json(t: &Task, section: Option<&str>, kind: Kind) -> Value {
    json!({
        "id": t.id,
        "status": t.status.as_str(),
        "priority": t.priority.as_str(),
        "priorityValue": t.priority.value(),
        "approvalRequired": t.approval_required(),
        "autoApproved": !t.approval_required(),
        "description": t.description,
        "metadata": t.metadata,
        "section": section,
        "taskType": kind.task_type(),
    })
}

/// One queue as `GET /api/cos/tasks` answers it (without the file's path:
/// the original leaked it).
pub fn queue_json(doc: &Doc, unparsed: &[Unparsed], exists: bool, kind: Kind) -> Value {
    let tasks: Vec<Value> = doc
        .tasks()
        .iter()
        .map(|(t, s)| task_json(t, s.as_deref(), kind))
        .collect();
    let of = |status: Status| -> Vec<Value> {
        tasks
            .iter()
            .filter(|t| t["status"] == status.as_str())
            .cloned()
            .collect()
    };
    let mut q = json!({
        "tasks": tasks,
        "grouped": {
            "pending": of(Status::Pending),
            "in_progress": of(Status::InProgress),
            "blocked": of(Status::Blocked),
            "completed": of(Status::Completed),
        },
        "file": kind.file_name(),
        "exists": exists,
        "type": kind.task_type(),
        "unparsed": unparsed,
    });
    if kind == Kind::Cos {
        let pending = of(Status::Pending);
        q["autoApproved"] = json!(
            pending
                .iter()
                .filter(|t| t["approvalRequired"] == false)
                .collect::<Vec<_>>()
        );
        q["awaitingApproval"] = json!(
            pending
                .iter()
                .filter(|t| t["approvalRequired"] == true)
                .collect::<Vec<_>>()
        );
    }
    q
}

/// A new task id: `task-<base36 ms>` (owner) or `sys-<base36 ms>` (CoS), with
/// a random tail so two in one millisecond differ.
pub fn new_id(kind: Kind) -> String {
    let ms = portos_core::time::now_ms();
    let tail = &uuid::Uuid::new_v4().simple().to_string()[..4];
    let prefix = match kind {
        Kind::User => "task",
        Kind::Cos => "sys",
    };
    format!("{prefix}-{}{tail}", base36(ms))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}
