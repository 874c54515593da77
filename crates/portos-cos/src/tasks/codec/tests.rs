use super::*;
use serde_json::json;

const SAMPLE: &str = include_str!("../../../tests/fixtures/data.sample-TASKS.md");
const SAMPLE_COS: &str = include_str!("../../../tests/fixtures/data.sample-COS-TASKS.md");
const EVERY: &str = include_str!("../../../tests/fixtures/every-shape.md");
const EVERY_COS: &str = include_str!("../../../tests/fixtures/every-shape-cos.md");

fn ids(doc: &Doc) -> Vec<String> {
    doc.tasks().into_iter().map(|(t, _)| t.id).collect()
}

#[test]
fn the_originals_files_read_and_write_back_byte_for_byte() {
    for (text, cos) in [
        (SAMPLE, false),
        (SAMPLE_COS, true),
        (EVERY, false),
        (EVERY_COS, true),
    ] {
        let (doc, _) = Doc::parse(text, cos);
        assert_eq!(doc.render(), text);
    }
    assert!(Doc::parse(SAMPLE, false).0.tasks().is_empty());
}

#[test]
fn every_metadata_shape_is_read_as_the_cos_spells_it() {
    let (doc, unparsed) = Doc::parse(EVERY, false);
    assert_eq!(
        ids(&doc),
        [
            "task-m7abc1",
            "task-002",
            "task-m7abc4",
            "task-m7abc2",
            "task-m7abc3",
            "task-m7abc0"
        ]
    );
    assert_eq!(
        unparsed,
        [Unparsed {
            line: 18,
            text: "- [?] #task-weird | MEDIUM | a status the format does not know".into()
        }]
    );
    let t = doc.get("task-m7abc1").unwrap();
    assert_eq!(t.priority, Priority::High);
    assert_eq!(
        t.metadata["context"],
        "The button does nothing.\nSee the console."
    );
    assert!(t.meta_flag("useWorktree") && t.meta_flag("createJiraTicket"));
    assert_eq!(
        t.metadata["attachments"],
        json!([{"filename": "log.txt", "size": 12}])
    );
    assert_eq!(t.metadata["screenshots"], "shot-1.png,shot-2.png");
    assert_eq!(t.metadata["thinkingLevel"], "high");
    let legacy = doc.get("task-002").unwrap();
    assert_eq!(legacy.priority, Priority::Low);
    assert_eq!(
        legacy.metadata["context"],
        "first line\nsecond line (legacy escape)"
    );
    let multi = doc.get("task-m7abc4").unwrap();
    assert_eq!(
        multi.description,
        "A description of several lines\nwith a second line\n\nand a fourth"
    );
    let blocked = doc.get("task-m7abc3").unwrap();
    assert_eq!(blocked.status, Status::Blocked);
    assert_eq!(blocked.metadata["failureCount"], "3");
    assert_eq!(blocked.metadata["orphanRetryCount"], "1");
    assert_eq!(blocked.metadata["blockedCategory"], "user-terminated");
    let (sections, _): (Vec<_>, Vec<_>) = doc.tasks().into_iter().map(|(_, s)| (s, ())).unzip();
    assert_eq!(sections[3].as_deref(), Some("in_progress"));
    let (cos, _) = Doc::parse(EVERY_COS, true);
    let flags: Vec<_> = cos.tasks().into_iter().map(|(t, _)| t.approval).collect();
    assert_eq!(
        flags,
        [
            Some(Approval::Auto),
            Some(Approval::Required),
            None,
            Some(Approval::Auto)
        ]
    );
    assert_eq!(
        cos.get("sys-m7x002").unwrap().metadata["analysisType"],
        "dependency-updates"
    );
}

#[test]
fn a_changed_task_is_written_anew_and_everything_else_stays() {
    let (mut doc, _) = Doc::parse(EVERY, false);
    assert!(doc.update("task-m7abc1", |t| {
        t.metadata
            .insert("attachments".into(), json!(["a.png", {"b": 1}]));
        t.metadata.insert("failureCount".into(), json!(2));
        t.metadata
            .insert("blockedReason".into(), json!("line one\nline two \\ slash"));
    }));
    let text = doc.render();
    let (again, _) = Doc::parse(&text, false);
    let t = again.get("task-m7abc1").unwrap();
    assert_eq!(t.metadata["attachments"], json!(["a.png", {"b": 1}]));
    assert_eq!(t.metadata["failureCount"], json!(2));
    assert_eq!(t.metadata["blockedReason"], "line one\nline two \\ slash");
    // The file's own spelling of a key is kept; a new key is capitalised.
    assert!(text.contains("  - Useworktree: true\n"), "{text}");
    assert!(text.contains("  - FailureCount: __json__:2\n"), "{text}");
    // Lines that are not tasks, and the unknown task line, are where they were.
    assert!(text.contains("\nNotes the owner keeps above the queue stay here.\n"));
    assert!(text.contains(
        "\n- [?] #task-weird | MEDIUM | a status the format does not know\n  - Note: kept as text\n"
    ));
    // Only the changed task's lines differ.
    let changed: Vec<_> = diff_lines(EVERY, &text);
    assert!(
        changed.iter().all(|l| l.contains("Attachments")
            || l.contains("FailureCount")
            || l.contains("BlockedReason")),
        "{changed:?}"
    );
}

fn diff_lines(a: &str, b: &str) -> Vec<String> {
    let old: std::collections::HashSet<_> = a.lines().collect();
    b.lines()
        .filter(|l| !old.contains(l))
        .map(str::to_string)
        .collect()
}

#[test]
fn multi_line_descriptions_and_odd_strings_survive_a_round_trip() {
    let mut doc = Doc::empty(false);
    let mut t = Task::new(
        "task-1".into(),
        Priority::Medium,
        "first\n\nthird  \n  fourth".into(),
    );
    for (k, v) in [
        ("context", json!("  padded  ")),
        ("empty", json!("")),
        ("looksJson", json!("__json__:not really")),
        ("number", json!(1.5)),
        ("flag", json!(false)),
        ("object", json!({"nested": {"a": [1, 2]}})),
    ] {
        t.metadata.insert(k.into(), v);
    }
    doc.add(t.clone(), false);
    let (again, unparsed) = Doc::parse(&doc.render(), false);
    assert!(unparsed.is_empty());
    let back = again.get("task-1").unwrap();
    assert_eq!(back.description, t.description);
    assert_eq!(back.metadata, t.metadata);
}

#[test]
fn order_is_the_files_and_reorder_and_top_stick() {
    let mut doc = Doc::parse(SAMPLE, false).0;
    for (id, p) in [
        ("task-a", Priority::Low),
        ("task-b", Priority::Critical),
        ("task-c", Priority::Medium),
    ] {
        doc.add(Task::new(id.into(), p, id.into()), false);
    }
    // No sort by priority: the order they were added in.
    assert_eq!(ids(&doc), ["task-a", "task-b", "task-c"]);
    doc.reorder(&["task-c".into(), "task-a".into(), "task-b".into()]);
    doc.add(
        Task::new("task-top".into(), Priority::Low, "top".into()),
        true,
    );
    let (again, _) = Doc::parse(&doc.render(), false);
    assert_eq!(ids(&again), ["task-top", "task-c", "task-a", "task-b"]);
}

#[test]
fn a_new_status_moves_the_task_to_its_section_made_where_missing() {
    let mut doc = Doc::parse(SAMPLE, false).0;
    doc.add(
        Task::new("task-a".into(), Priority::High, "a".into()),
        false,
    );
    doc.add(
        Task::new("task-b".into(), Priority::High, "b".into()),
        false,
    );
    doc.update("task-a", |t| t.status = Status::Blocked);
    doc.update("task-b", |t| t.status = Status::Completed);
    let text = doc.render();
    assert_eq!(
        text,
        "# Tasks\n\n## Pending\n\n## In Progress\n\n## Blocked\n- [!] #task-a | HIGH | a\n\n## Completed\n- [x] #task-b | HIGH | b"
    );
    let (again, _) = Doc::parse(&text, false);
    assert_eq!(again.get("task-a").unwrap().status, Status::Blocked);
    assert_eq!(again.tasks()[0].1.as_deref(), Some("blocked"));
    // The CoS's file writes the approval column.
    let mut cos = Doc::empty(true);
    cos.add(Task::new("sys-1".into(), Priority::Low, "x".into()), false);
    assert!(cos.render().contains("- [ ] #sys-1 | LOW | AUTO | x\n"));
    assert!(cos.remove("sys-1").is_some() && cos.get("sys-1").is_none());
}

#[test]
fn only_the_formats_statuses_are_named() {
    assert_eq!(Status::parse("in_progress"), Some(Status::InProgress));
    assert_eq!(Status::parse("ready"), None);
    assert_eq!(canonical_key("USEWORKTREE"), "useWorktree");
    assert_eq!(canonical_key("Custom"), "custom");
    assert!(!valid_key("has space") && valid_key("ok_1"));
}
