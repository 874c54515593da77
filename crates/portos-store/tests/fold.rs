//! `JsonStore::fold`: a file's array read item by item, oldest first, other
//! members skipped, missing parts empty, corrupt files reported and kept, and
//! a large file never held in memory (the largest single allocation is counted).

mod support;

use portos_store::StoreError;
use serde_json::{Value, json};
use support::{entry, largest, store};

/// The items of `rel`'s `activities`, as the fold saw them.
async fn items(store: &portos_store::JsonStore, rel: &str) -> Result<Vec<Value>, StoreError> {
    store
        .fold(rel, "activities", Vec::new(), |all, v: Value| all.push(v))
        .await
}

#[tokio::test]
async fn folds_the_array_in_order_and_skips_every_other_member() {
    let (dir, store) = store();
    let cases = [
        (
            json!({ "before": { "activities": [9] }, "activities": [entry(0), entry(1)], "after": [1, 2] }),
            vec![entry(0), entry(1)],
        ),
        (json!({ "activities": [] }), vec![]),
        (json!({ "activities": null }), vec![]),
        (json!({ "other": "kept" }), vec![]),
    ];
    for (file, want) in cases {
        std::fs::write(dir.path().join("log.json"), file.to_string()).unwrap();
        assert_eq!(items(&store, "log.json").await.unwrap(), want, "{file}");
    }
    // A missing file: the starting value, untouched.
    let n = store
        .fold("none.json", "activities", 7usize, |n, _: Value| *n += 1)
        .await
        .unwrap();
    assert_eq!(n, 7);
    assert!(!dir.path().join("none.json").exists());
}

#[tokio::test]
async fn a_corrupt_file_or_an_item_of_the_wrong_type_is_reported_and_kept() {
    let (dir, store) = store();
    let path = dir.path().join("log.json");
    for before in [
        r#"{"activities":[{"a":1},"#,
        r#"[{"a":1}]"#,
        r#"{"activities":{"a":1}}"#,
        r#"{"activities":[1, 2]"#,
        "{\"activities\":[]}\ntrailing",
    ] {
        std::fs::write(&path, before).unwrap();
        let err = items(&store, "log.json").await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{before}: {err}");
        assert!(err.to_string().contains("log.json"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    }
    // Items that must be strings: the second is not, and the error says where.
    std::fs::write(&path, "{\n\"activities\": [\"a\",\n 2]}").unwrap();
    let err = store
        .fold("log.json", "activities", 0usize, |n, _: String| *n += 1)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("line 3"), "{err}");
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

    // The last three items and a count of all, as a day's page and limit read them.
    let fold = store.fold(
        "log.json",
        "activities",
        (0usize, std::collections::VecDeque::new()),
        |(n, last), v: Value| {
            *n += 1;
            if last.len() == 3 {
                last.pop_front();
            }
            last.push_back(v["id"].as_str().unwrap_or_default().to_string());
        },
    );
    let (counted, largest) = largest::counted(fold).await;
    let (n, last) = counted.unwrap();
    assert!(
        largest < largest::SMALL,
        "the largest allocation of a fold over a {size}-byte file: {largest} bytes"
    );
    assert_eq!(n, 20_000);
    assert_eq!(last, ["19997-abc", "19998-abc", "19999-abc"]);
}
