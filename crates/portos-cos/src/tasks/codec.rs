//! The original's task Markdown (`TASKS.md`, `COS-TASKS.md`), read and
//! written without losing anything:
//!
//! ```text
//! # Tasks
//!
//! ## Pending
//! - [ ] #task-m1x2 | HIGH | Fix the login page
//!   > and its error message (the lines after the first)
//!   - Context: the button does nothing
//!   - Attachments: __json__:["shot.png"]
//! ```
//!
//! A file is kept as its lines; a task nothing changed is written back as it
//! was read, byte for byte, and lines that are not tasks stay where they are.
//! Unlike the original's parser: metadata keys keep their case (the keys the
//! CoS writes are found whatever case a file spells them in), values that are
//! not strings are JSON (`__json__:`), descriptions may have several lines,
//! tasks stay in the order of the file (no sort by priority), and a task line
//! with a status the format does not know is kept as text and reported, never
//! dropped.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The prefix of a JSON-encoded metadata value.
pub const JSON_SENTINEL: &str = "__json__:";

/// The metadata keys the CoS itself reads and writes, as it spells them; a
/// file's key that matches one but for case is read as it.
const KNOWN_KEYS: &[&str] = &[
    "context",
    "model",
    "provider",
    "app",
    "createJiraTicket",
    "useWorktree",
    "jiraTicketId",
    "jiraTicketUrl",
    "screenshots",
    "attachments",
    "blocker",
    "blockedReason",
    "blockedCategory",
    "blockedAt",
    "failureCount",
    "lastFailureAt",
    "lastErrorCategory",
    "compaction",
    "orphanRetryCount",
    "lastOrphanedAt",
    "lastOrphanedAgentId",
    "retryReason",
    "thinkingLevel",
    "fallbackProvider",
    "completedAt",
    "agentId",
    "branch",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    InProgress,
    Blocked,
    Completed,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Pending,
        Status::InProgress,
        Status::Blocked,
        Status::Completed,
    ];

    fn from_mark(c: char) -> Option<Self> {
        Some(match c {
            ' ' => Status::Pending,
            '~' => Status::InProgress,
            '!' => Status::Blocked,
            'x' | 'X' => Status::Completed,
            _ => return None,
        })
    }

    fn mark(self) -> char {
        match self {
            Status::Pending => ' ',
            Status::InProgress => '~',
            Status::Blocked => '!',
            Status::Completed => 'x',
        }
    }

    /// The section a task of this status is written under.
    pub fn title(self) -> &'static str {
        match self {
            Status::Pending => "Pending",
            Status::InProgress => "In Progress",
            Status::Blocked => "Blocked",
            Status::Completed => "Completed",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::InProgress => "in_progress",
            Status::Blocked => "blocked",
            Status::Completed => "completed",
        }
    }

    /// A status named by a client; `None` for any other word (the original
    /// accepted `ready`, which its writer then dropped with the task).
    pub fn parse(s: &str) -> Option<Self> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    fn rank(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Low,
    Medium,
    High,
    Critical,
}

impl Priority {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "CRITICAL" => Priority::Critical,
            "HIGH" => Priority::High,
            "MEDIUM" => Priority::Medium,
            "LOW" => Priority::Low,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "CRITICAL",
            Priority::High => "HIGH",
            Priority::Medium => "MEDIUM",
            Priority::Low => "LOW",
        }
    }

    /// The original's `priorityValue`.
    pub fn value(self) -> u8 {
        self as u8 + 1
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The approval column of a task line (the CoS's own file writes it always).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    Auto,
    Required,
}

/// One task.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: String,
    pub status: Status,
    pub priority: Priority,
    /// `None`: the line has no approval column (auto-approved).
    pub approval: Option<Approval>,
    /// Several lines where the task has them.
    pub description: String,
    /// Keys as the CoS spells them (see [`canonical_key`]).
    pub metadata: Map<String, Value>,
}

impl Task {
    pub fn new(id: String, priority: Priority, description: String) -> Self {
        Task {
            id,
            status: Status::Pending,
            priority,
            approval: None,
            description,
            metadata: Map::new(),
        }
    }

    pub fn approval_required(&self) -> bool {
        self.approval == Some(Approval::Required)
    }

    /// A metadata value as text (a JSON string, or any other value written).
    pub fn meta_str(&self, key: &str) -> Option<String> {
        match self.metadata.get(key)? {
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            v => Some(v.to_string()),
        }
    }

    /// A metadata flag: `true` or the text `true` (the original wrote both).
    pub fn meta_flag(&self, key: &str) -> bool {
        match self.metadata.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        }
    }
}

/// A line that looks like a task but is not one the format knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unparsed {
    /// 1-based.
    pub line: usize,
    pub text: String,
}

#[derive(Debug, Clone)]
enum Block {
    /// Any line kept as it is.
    Text(String),
    /// `## …`, with the status whose tasks it holds when it names one.
    Heading(String, Option<Status>),
    Task(Box<Entry>),
}

#[derive(Debug, Clone)]
struct Entry {
    task: Task,
    /// The task as read, and the lines it was read from; written back as they
    /// were while the task equals `read`.
    read: Option<(Task, Vec<String>)>,
    /// How the file spelled each metadata key.
    spelled: HashMap<String, String>,
    section: Option<String>,
}

/// A task file: its lines, with the tasks among them.
#[derive(Debug, Clone, Default)]
pub struct Doc {
    blocks: Vec<Block>,
    /// Whether a task line is written with the approval column.
    approval_column: bool,
}

/// The key the CoS uses for a key spelled `raw` in a file.
pub fn canonical_key(raw: &str) -> String {
    if let Some(k) = KNOWN_KEYS.iter().find(|k| k.eq_ignore_ascii_case(raw)) {
        return (*k).to_string();
    }
    let mut c = raw.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Whether `key` can be a metadata key of the format (`\w+`).
pub fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_')
}

fn section_status(title: &str) -> Option<Status> {
    match title
        .trim()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
        .as_str()
    {
        "pending" => Some(Status::Pending),
        "in_progress" => Some(Status::InProgress),
        "blocked" => Some(Status::Blocked),
        "completed" => Some(Status::Completed),
        _ => None,
    }
}

fn section_key(title: &str) -> String {
    title
        .trim()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
}

/// A task line: `- [c] #id | PRIORITY | [AUTO|APPROVAL |] description`.
/// `Err(())` for a line that starts like a task but is not one.
fn parse_task_line(line: &str) -> Result<Task, ()> {
    let rest = line.strip_prefix('-').ok_or(())?.trim_start();
    let rest = rest.strip_prefix('[').ok_or(())?;
    let mut chars = rest.chars();
    let mark = chars.next().ok_or(())?;
    let rest = chars.as_str().strip_prefix(']').ok_or(())?;
    let status = Status::from_mark(mark).ok_or(())?;
    let rest = rest.trim_start().strip_prefix('#').ok_or(())?;
    let id_len = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    let (id, rest) = rest.split_at(id_len);
    if id.is_empty() {
        return Err(());
    }
    let rest = rest.trim_start().strip_prefix('|').ok_or(())?;
    let (prio, rest) = rest.split_once('|').ok_or(())?;
    let priority = Priority::parse(prio.trim()).ok_or(())?;
    let (approval, description) = match rest.split_once('|') {
        Some((flag, d)) if flag.trim().eq_ignore_ascii_case("AUTO") => (Some(Approval::Auto), d),
        Some((flag, d)) if flag.trim().eq_ignore_ascii_case("APPROVAL") => {
            (Some(Approval::Required), d)
        }
        _ => (None, rest),
    };
    let description = description.trim();
    if description.is_empty() {
        return Err(());
    }
    let id = if id.starts_with("task-") || id.starts_with("sys-") {
        id.to_string()
    } else {
        format!("task-{id}")
    };
    Ok(Task {
        id,
        status,
        priority,
        approval,
        description: description.to_string(),
        metadata: Map::new(),
    })
}

/// `  - Key: value`.
fn parse_meta_line(line: &str) -> Option<(String, Value)> {
    if !line.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = line.trim_start().strip_prefix('-')?.trim_start();
    let (key, value) = rest.split_once(':')?;
    if !valid_key(key) {
        return None;
    }
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    Some((key.to_string(), decode_value(value)))
}

fn decode_value(raw: &str) -> Value {
    if let Some(json) = raw.strip_prefix(JSON_SENTINEL)
        && let Ok(v) = serde_json::from_str(json)
    {
        return v;
    }
    // The original's legacy escape of newlines.
    Value::String(raw.replace("\\n", "\n"))
}

/// A value as the format writes it: a plain string where it reads back the
/// same, JSON after the sentinel otherwise.
pub fn encode_value(v: &Value) -> String {
    match v {
        Value::String(s)
            if !s.is_empty()
                && s.trim() == s
                && !s.contains(['\n', '\r', '\\'])
                && !s.starts_with(JSON_SENTINEL) =>
        {
            s.clone()
        }
        other => format!("{JSON_SENTINEL}{other}"),
    }
}

/// The continuation of a description: `  > text` (or `  >` for an empty line).
fn continuation(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("  >")?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix(' ')
    }
}

impl Doc {
    /// Reads a file's text; what it could not read as tasks is in the second
    /// value (kept in the file as it is).
    pub fn parse(text: &str, approval_column: bool) -> (Doc, Vec<Unparsed>) {
        let mut doc = Doc {
            blocks: Vec::new(),
            approval_column,
        };
        let mut unparsed = Vec::new();
        let mut section: Option<String> = None;
        let mut current: Option<Entry> = None;
        let mut lines: Vec<String> = Vec::new();
        let flush = |doc: &mut Doc, current: &mut Option<Entry>, lines: &mut Vec<String>| {
            if let Some(mut e) = current.take() {
                e.read = Some((e.task.clone(), std::mem::take(lines)));
                doc.blocks.push(Block::Task(Box::new(e)));
            }
        };
        for (n, line) in text.split('\n').enumerate() {
            if current.is_some() {
                if let Some(more) = continuation(line) {
                    if let Some(e) = current.as_mut() {
                        e.task.description.push('\n');
                        e.task.description.push_str(more);
                    }
                    lines.push(line.to_string());
                    continue;
                }
                if let Some((raw, value)) = parse_meta_line(line) {
                    if let Some(e) = current.as_mut() {
                        let key = canonical_key(&raw);
                        e.spelled.insert(key.clone(), raw);
                        e.task.metadata.insert(key, value);
                    }
                    lines.push(line.to_string());
                    continue;
                }
            }
            flush(&mut doc, &mut current, &mut lines);
            if let Some(title) = line.strip_prefix("## ") {
                section = Some(section_key(title));
                doc.blocks
                    .push(Block::Heading(line.to_string(), section_status(title)));
            } else if line.starts_with("- [") {
                match parse_task_line(line) {
                    Ok(task) => {
                        current = Some(Entry {
                            task,
                            read: None,
                            spelled: HashMap::new(),
                            section: section.clone(),
                        });
                        lines.push(line.to_string());
                    }
                    Err(()) => {
                        unparsed.push(Unparsed {
                            line: n + 1,
                            text: line.to_string(),
                        });
                        doc.blocks.push(Block::Text(line.to_string()));
                    }
                }
            } else {
                doc.blocks.push(Block::Text(line.to_string()));
            }
        }
        flush(&mut doc, &mut current, &mut lines);
        (doc, unparsed)
    }

    /// A file of no tasks in the original's layout.
    pub fn empty(approval_column: bool) -> Doc {
        Doc::parse(
            "# Tasks\n\n## Pending\n\n## In Progress\n\n## Completed\n",
            approval_column,
        )
        .0
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        for b in &self.blocks {
            match b {
                Block::Text(l) | Block::Heading(l, _) => out.push(l.clone()),
                Block::Task(e) => match &e.read {
                    Some((t, lines)) if *t == e.task => out.extend(lines.iter().cloned()),
                    _ => out.extend(self.task_lines(e)),
                },
            }
        }
        out.join("\n")
    }

    fn task_lines(&self, e: &Entry) -> Vec<String> {
        let t = &e.task;
        let flag = match (t.approval, self.approval_column) {
            (Some(Approval::Required), _) => " | APPROVAL",
            (Some(Approval::Auto), _) | (None, true) => " | AUTO",
            (None, false) => "",
        };
        let mut desc = t.description.split('\n');
        let first = desc.next().unwrap_or_default().trim();
        let mut lines = vec![format!(
            "- [{}] #{} | {}{} | {}",
            t.status.mark(),
            t.id,
            t.priority,
            flag,
            if first.is_empty() {
                "(no title)"
            } else {
                first
            }
        )];
        for more in desc {
            lines.push(if more.is_empty() {
                "  >".to_string()
            } else {
                format!("  > {more}")
            });
        }
        for (k, v) in &t.metadata {
            if v.is_null() {
                continue;
            }
            let key = e.spelled.get(k).cloned().unwrap_or_else(|| {
                let mut c = k.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            });
            lines.push(format!("  - {key}: {}", encode_value(v)));
        }
        lines
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Task(e) => Some(&**e),
            _ => None,
        })
    }

    /// The tasks in file order, each with the section it is under.
    pub fn tasks(&self) -> Vec<(Task, Option<String>)> {
        self.entries()
            .map(|e| (e.task.clone(), e.section.clone()))
            .collect()
    }

    pub fn get(&self, id: &str) -> Option<&Task> {
        self.entries().map(|e| &e.task).find(|t| t.id == id)
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.blocks
            .iter()
            .position(|b| matches!(b, Block::Task(e) if e.task.id == id))
    }

    /// Changes a task in place (a new status moves it to its section's end).
    /// False when there is no such task.
    pub fn update(&mut self, id: &str, f: impl FnOnce(&mut Task)) -> bool {
        let Some(at) = self.position(id) else {
            return false;
        };
        let Block::Task(e) = &mut self.blocks[at] else {
            return false;
        };
        let before = e.task.status;
        f(&mut e.task);
        if e.task.status != before {
            let Block::Task(e) = self.blocks.remove(at) else {
                return false;
            };
            self.insert(*e, false);
        }
        true
    }

    /// Adds a task at the top or the end of its status's section.
    pub fn add(&mut self, task: Task, top: bool) {
        self.insert(
            Entry {
                task,
                read: None,
                spelled: HashMap::new(),
                section: None,
            },
            top,
        );
    }

    pub fn remove(&mut self, id: &str) -> Option<Task> {
        let at = self.position(id)?;
        match self.blocks.remove(at) {
            Block::Task(e) => Some(e.task),
            _ => None,
        }
    }

    /// Puts the tasks of `ids` (all of one section) in that order, where
    /// those tasks stand now; other tasks stay where they are.
    pub fn reorder(&mut self, ids: &[String]) {
        let slots: Vec<usize> = ids.iter().filter_map(|id| self.position(id)).collect();
        let mut sorted = slots.clone();
        sorted.sort_unstable();
        let moved: Vec<Block> = slots.iter().map(|&i| self.blocks[i].clone()).collect();
        for (slot, block) in sorted.into_iter().zip(moved) {
            self.blocks[slot] = block;
        }
    }

    fn insert(&mut self, mut e: Entry, top: bool) {
        let status = e.task.status;
        let heading = self
            .blocks
            .iter()
            .position(|b| matches!(b, Block::Heading(_, Some(s)) if *s == status));
        let heading = match heading {
            Some(h) => h,
            None => self.add_heading(status),
        };
        if let Block::Heading(line, _) = &self.blocks[heading] {
            e.section = line.strip_prefix("## ").map(section_key);
        }
        let at = if top {
            heading + 1
        } else {
            // After the section's last task, else right under its heading.
            let end = self.blocks[heading + 1..]
                .iter()
                .position(|b| matches!(b, Block::Heading(..)))
                .map_or(self.blocks.len(), |p| heading + 1 + p);
            (heading + 1..end)
                .rev()
                .find(|&i| matches!(self.blocks[i], Block::Task(_)))
                .map_or(heading + 1, |i| i + 1)
        };
        self.blocks.insert(at, Block::Task(Box::new(e)));
    }

    /// A new `## …` heading for `status`, before the first section that
    /// comes after it in the original's order; its index.
    fn add_heading(&mut self, status: Status) -> usize {
        let next = self
            .blocks
            .iter()
            .position(|b| matches!(b, Block::Heading(_, Some(s)) if s.rank() > status.rank()));
        let heading = Block::Heading(format!("## {}", status.title()), Some(status));
        match next {
            Some(at) => {
                self.blocks.insert(at, Block::Text(String::new()));
                self.blocks.insert(at, heading);
                at
            }
            None => {
                // After a blank line; the file keeps ending as it did.
                let ends_blank = matches!(self.blocks.last(), Some(Block::Text(l)) if l.is_empty());
                let at = if ends_blank {
                    self.blocks.len() - 1
                } else {
                    self.blocks.push(Block::Text(String::new()));
                    self.blocks.len()
                };
                if at > 0 && !matches!(&self.blocks[at - 1], Block::Text(l) if l.is_empty()) {
                    self.blocks.insert(at, Block::Text(String::new()));
                    self.blocks.insert(at + 1, heading);
                    return at + 1;
                }
                self.blocks.insert(at, heading);
                at
            }
        }
    }
}

#[cfg(test)]
mod tests;
