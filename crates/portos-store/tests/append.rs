//! `JsonStore::append`: the same bytes a whole rewrite would write, other
//! shapes kept, corrupt files reported and kept, and a large file never held
//! in memory (the largest single allocation is counted).

mod support;

use portos_store::StoreError;
use serde_json::{Value, json};
use support::{entry, largest, store};

#[tokio::test]
async fn appends_the_bytes_a_whole_rewrite_would_write() {
    let (dir, store) = store();
    let path = dir.path().join("log.json");
    // From no file, then onto what the append wrote.
    store
        .append("log.json", "activities", entry(0))
        .await
        .unwrap();
    store
        .append("log.json", "activities", entry(1))
        .await
        .unwrap();
    let want = serde_json::to_vec_pretty(&json!({ "activities": [entry(0), entry(1)] })).unwrap();
    assert_eq!(
        String::from_utf8(std::fs::read(&path).unwrap()).unwrap(),
        String::from_utf8(want).unwrap()
    );
    // Onto a file the store wrote whole, and onto an empty array.
    for before in [vec![entry(0), entry(1), entry(2)], vec![]] {
        let mut whole = json!({ "activities": before });
        store.save("log.json", &whole).await.unwrap();
        store
            .append("log.json", "activities", entry(9))
            .await
            .unwrap();
        whole["activities"].as_array_mut().unwrap().push(entry(9));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            serde_json::to_vec_pretty(&whole).unwrap()
        );
    }
}

#[tokio::test]
async fn a_file_of_another_shape_is_appended_to_whole_and_keeps_every_member() {
    let (dir, store) = store();
    let path = dir.path().join("log.json");
    let cases = [
        // Another member after the array.
        (r#"{"activities":[{"a":1}],"note":"kept"}"#, 2, Some("kept")),
        // Compact, as JSON.stringify without indent writes it.
        (r#"{"activities":[{"a":1},{"a":2}]}"#, 3, None),
        // The array missing, or null.
        (r#"{"note":"kept"}"#, 1, Some("kept")),
        (r#"{"activities":null}"#, 1, None),
    ];
    for (before, items, note) in cases {
        std::fs::write(&path, before).unwrap();
        store
            .append("log.json", "activities", entry(7))
            .await
            .unwrap();
        let after: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let list = after["activities"].as_array().unwrap();
        assert_eq!(list.len(), items, "{before} → {after}");
        assert_eq!(list.last(), Some(&entry(7)));
        assert_eq!(after["note"].as_str(), note, "{before} → {after}");
    }
}

#[tokio::test]
async fn a_corrupt_file_is_reported_and_left_as_it_is() {
    let (dir, store) = store();
    let path = dir.path().join("log.json");
    for before in [
        r#"{"activities":[{"a":1},"#,
        r#"[{"a":1}]"#,
        r#"{"activities":{"a":1}}"#,
        "{\"activities\":[]}\ntrailing",
    ] {
        std::fs::write(&path, before).unwrap();
        let err = store
            .append("log.json", "activities", entry(1))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{before}: {err}");
        assert!(err.to_string().contains("log.json"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    }
}

#[tokio::test]
async fn a_large_file_is_never_held_in_memory() {
    let (dir, store) = store();
    let entries: Vec<Value> = (0..20_000).map(entry).collect();
    store
        .save("log.json", &json!({ "activities": entries }))
        .await
        .unwrap();
    let size = std::fs::metadata(dir.path().join("log.json"))
        .unwrap()
        .len();
    assert!(size > 4_000_000, "{size}");

    let largest = largest::counted(store.append("log.json", "activities", entry(20_000)))
        .await
        .1;
    assert!(
        largest < largest::SMALL,
        "the largest allocation of an append to a {size}-byte file: {largest} bytes"
    );

    let after: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("log.json")).unwrap()).unwrap();
    assert_eq!(after["activities"].as_array().unwrap().len(), 20_001);
    assert_eq!(after["activities"][20_000], entry(20_000));
}
