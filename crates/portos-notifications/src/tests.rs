use std::sync::Mutex;

use super::*;

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<(String, Value)>>);

impl Events for Recorder {
    fn broadcast(&self, _: &str, _: &Value) {}
    fn publish(&self, channel: &str, event: &str, data: &Value) {
        assert_eq!(channel, CHANNEL);
        self.0
            .lock()
            .unwrap()
            .push((event.to_string(), data.clone()));
    }
}

fn fixture() -> (tempfile::TempDir, Notifications, Arc<Recorder>) {
    let dir = tempfile::tempdir().unwrap();
    let events = Arc::new(Recorder::default());
    let n = Notifications::new(Arc::new(JsonStore::new(dir.path())), events.clone());
    (dir, n, events)
}

fn new(kind: &str, title: &str) -> New {
    New {
        kind: kind.into(),
        title: title.into(),
        ..New::default()
    }
}

fn names(r: &Recorder) -> Vec<String> {
    r.0.lock().unwrap().drain(..).map(|(e, _)| e).collect()
}

#[tokio::test]
async fn add_read_dismiss_clear_with_the_originals_events() {
    let (_d, n, ev) = fixture();
    let a = n.add(new("health_issue", "disk")).await.unwrap().unwrap();
    assert_eq!(
        (a.priority.as_str(), a.read, a.link.as_ref()),
        ("medium", false, None)
    );
    assert_eq!(names(&ev), ["notifications:added", "notifications:count"]);
    let b = n
        .add(new("task_approval", "approve"))
        .await
        .unwrap()
        .unwrap();
    names(&ev);
    assert_eq!(n.unread().await.unwrap(), 2);
    assert_eq!(
        n.counts().await.unwrap(),
        json!({ "total": 2, "unread": 2, "byType": { "health_issue": 1, "task_approval": 1 } })
    );
    let listed = n.list(&Filter::default()).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed[0].timestamp >= listed[1].timestamp, "newest first");
    assert!(n.mark_read(&a.id).await.unwrap().read);
    assert_eq!(names(&ev), ["notifications:updated", "notifications:count"]);
    n.mark_read(&a.id).await.unwrap();
    assert!(names(&ev).is_empty(), "already read: no events");
    let unread = n
        .list(&Filter {
            unread_only: true,
            ..Filter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        unread.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        [b.id.as_str()]
    );
    assert!(matches!(
        n.mark_read("nope").await,
        Err(NotificationsError::NotFound)
    ));
    assert_eq!(n.remove(&b.id).await.unwrap().id, b.id);
    assert_eq!(names(&ev), ["notifications:removed", "notifications:count"]);
    assert_eq!(n.clear().await.unwrap(), 1);
    assert_eq!(names(&ev), ["notifications:cleared", "notifications:count"]);
}

#[tokio::test]
async fn once_per_key_the_cap_and_bad_input() {
    let (_d, n, _ev) = fixture();
    let mut m = new("memory_approval", "Memory needs approval");
    m.metadata.insert("memoryId".into(), json!("m1"));
    m.once_per = Some(Once {
        field: "memoryId".into(),
        value: json!("m1"),
        while_unread: false,
    });
    assert!(n.add(m.clone()).await.unwrap().is_some());
    assert!(
        n.add(m.clone()).await.unwrap().is_none(),
        "the same memory once"
    );
    assert_eq!(
        n.remove_by_metadata("memoryId", &json!("m1"))
            .await
            .unwrap(),
        1
    );
    for i in 0..LIMIT + 3 {
        n.add(new("health_issue", &format!("n{i}"))).await.unwrap();
    }
    let all = n.list(&Filter::default()).await.unwrap();
    assert_eq!(all.len(), LIMIT);
    assert!(
        !all.iter().any(|x| x.title == "n0" || x.title == "n2"),
        "the oldest dropped"
    );
    assert_eq!(
        n.list(&Filter {
            limit: 5,
            ..Filter::default()
        })
        .await
        .unwrap()
        .len(),
        5
    );
    let mut bad = new("health_issue", "x");
    bad.priority = "urgent".into();
    assert!(matches!(
        n.add(bad).await,
        Err(NotificationsError::Invalid(_))
    ));
    assert!(matches!(
        n.add(new("", "x")).await,
        Err(NotificationsError::Invalid(_))
    ));
}

#[tokio::test]
async fn the_originals_file_round_trips_and_a_corrupt_one_is_kept() {
    let (d, n, _ev) = fixture();
    let original = json!({
        "version": 1,
        "notifications": [{
            "id": "5b0c3f0e-0d7e-4c57-9b59-1c7c0a3e2f11", "type": "briefing_ready",
            "title": "Daily Briefing Ready", "description": "Your daily briefing for 2026-11-30 is ready for review.",
            "priority": "low", "timestamp": "2026-11-30T08:00:00.000Z", "link": "/cos/briefing",
            "read": false, "metadata": { "date": "2026-11-30", "agentId": "agent-1" }, "snoozed": 2
        }],
        "note": "kept"
    });
    let path = d.path().join(FILE);
    std::fs::write(&path, serde_json::to_string_pretty(&original).unwrap()).unwrap();
    assert_eq!(n.unread().await.unwrap(), 1);
    n.mark_read("5b0c3f0e-0d7e-4c57-9b59-1c7c0a3e2f11")
        .await
        .unwrap();
    let mut back: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(back["notifications"][0]["read"], true);
    back["notifications"][0]["read"] = json!(false);
    assert_eq!(back, original, "nothing else changed, unknown fields kept");

    std::fs::write(&path, "{ not json").unwrap();
    assert!(matches!(
        n.add(new("health_issue", "x")).await,
        Err(NotificationsError::Store(_))
    ));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{ not json",
        "kept as it was"
    );
}

#[tokio::test]
async fn once_while_unread_holds_under_concurrent_adds_and_comes_back_after_read() {
    let (_d, n, _ev) = fixture();
    let adds = (0..8).map(|_| {
        let n = n.clone();
        tokio::spawn(async move { n.process_errored("web", "shop", "crash loop").await })
    });
    let mut added = 0;
    for a in adds.collect::<Vec<_>>() {
        added += usize::from(a.await.unwrap().unwrap().is_some());
    }
    assert_eq!(added, 1, "eight at once add one");
    let first = n.list(&Filter::default()).await.unwrap().remove(0);
    assert_eq!(first.link.as_deref(), Some("/apps"));
    n.mark_read(&first.id).await.unwrap();
    assert!(
        n.process_errored("web", "shop", "again")
            .await
            .unwrap()
            .is_some(),
        "read: a new one"
    );
    assert!(
        n.provider_unavailable("claude", "rate-limit", "x")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        n.provider_unavailable("claude", "usage-limit", "y")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_flood_of_one_server_error_rings_once_and_queues_nothing() {
    let (_dir, n, _events) = fixture();
    // The first of a burst rings; the rest find it on its way and add nothing.
    assert!(n.ring_server_error("STORE_ERROR", "history.json does not parse"));
    let queued = (0..1000)
        .filter(|_| n.ring_server_error("STORE_ERROR", "history.json does not parse"))
        .count();
    assert_eq!(queued, 0, "no task per request while one is on its way");
    assert!(n.ring_server_error("OTHER_ERROR", "another code rings on its own"));
    for _ in 0..100 {
        if n.list(&Filter::default()).await.unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let list = n.list(&Filter::default()).await.unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    // Once it is written, the next error of that code is let through (and deduplicated while unread).
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(n.ring_server_error("STORE_ERROR", "again"));
}
