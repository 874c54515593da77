//! The store's promises: round trips keep unknown fields, a corrupt file is
//! reported and kept, concurrent updates are not lost, and a writer killed with
//! `kill -9` at any point leaves every file parseable with every acknowledged
//! write present.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use portos_store::types::{History, HistoryEntry};
use portos_store::{JsonStore, StoreError};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-zA-Z0-9 é\"\\\\/\n]{0,12}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Unknown fields: names the typed structs do not use.
fn extra() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("x[a-z]{1,6}", value(), 0..4).prop_map(|m| m.into_iter().collect())
}

fn entry() -> impl Strategy<Value = HistoryEntry> {
    (
        "[a-z0-9-]{1,12}",
        "[a-z:]{1,10}",
        prop::option::of("[a-z]{0,8}"),
        any::<bool>(),
        value(),
        extra(),
    )
        .prop_map(
            |(id, action, target, success, details, extra)| HistoryEntry {
                id,
                action,
                target,
                target_name: None,
                details,
                success,
                error: None,
                timestamp: "2026-11-25T10:00:00.000Z".into(),
                extra,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trips_keep_every_field(entries in prop::collection::vec(entry(), 0..6), top in extra()) {
        let dir = tempfile::tempdir().unwrap();
        let store = JsonStore::new(dir.path());
        let history = History { entries, extra: top };
        rt().block_on(async {
            store.save("history.json", &history).await.unwrap();
            let back: History = store.load("history.json").await.unwrap();
            prop_assert_eq!(&back, &history);
            // A rewrite through the typed struct keeps the raw JSON identical.
            let raw1: Value = serde_json::from_slice(&std::fs::read(store.path("history.json")).unwrap()).unwrap();
            store.update("history.json", |_: &mut History| Ok::<(), ()>(())).await.unwrap().unwrap();
            let raw2: Value = serde_json::from_slice(&std::fs::read(store.path("history.json")).unwrap()).unwrap();
            prop_assert_eq!(raw1, raw2);
            Ok(())
        })?;
    }
}

#[test]
fn fields_the_original_wrote_survive_a_rewrite_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let original = r#"{
  "entries": [
    {
      "id": "a1",
      "action": "start",
      "target": "portos-default",
      "targetName": "PortOS",
      "details": {"processNames": ["portos-server"]},
      "success": true,
      "error": null,
      "timestamp": "2026-02-27T10:00:00.000Z",
      "futureField": {"kept": [1, 2]}
    }
  ],
  "version": 7
}"#;
    std::fs::write(dir.path().join("history.json"), original).unwrap();
    let store = JsonStore::new(dir.path());
    rt().block_on(async {
        store
            .update("history.json", |h: &mut History| {
                h.entries[0].success = false;
                Ok::<(), ()>(())
            })
            .await
            .unwrap()
            .unwrap();
    });
    let text = std::fs::read_to_string(dir.path().join("history.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["version"], 7);
    assert_eq!(v["entries"][0]["futureField"], json!({"kept": [1, 2]}));
    assert_eq!(v["entries"][0]["success"], false);
    let keys: Vec<&String> = v["entries"][0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys.first().map(|k| k.as_str()),
        Some("id"),
        "key order kept: {keys:?}"
    );
    assert!(
        text.starts_with("{\n  \"entries\""),
        "two-space indent like the original: {text}"
    );
}

#[test]
fn a_corrupt_file_is_reported_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.json");
    let broken = "{ \"entries\": [ { \"id\": 5, \"action\": \"x\", \"timestamp\": \"t\" } ] }";
    std::fs::write(&path, broken).unwrap();
    let store = JsonStore::new(dir.path());
    let err = rt()
        .block_on(store.load::<History>("history.json"))
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{msg}");
    assert!(msg.contains("history.json"), "{msg}");
    assert!(msg.contains("field entries[0].id"), "{msg}");
    assert!(msg.contains("expected a string"), "{msg}");
    // An update refuses too, and the file is untouched.
    let upd = rt().block_on(store.update("history.json", |h: &mut History| {
        h.entries.clear();
        Ok::<(), ()>(())
    }));
    assert!(matches!(upd, Err(StoreError::Corrupt { .. })));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);

    std::fs::write(&path, "{ \"entries\": [ ").unwrap();
    let err = rt()
        .block_on(store.load::<History>("history.json"))
        .unwrap_err();
    assert!(err.to_string().contains("EOF"), "{err}");
}

#[test]
fn concurrent_updates_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonStore::new(dir.path()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .update("counter.json", |m: &mut Map<String, Value>| {
                            m.insert(format!("k{i}"), json!(i));
                            Ok::<(), ()>(())
                        })
                        .await
                        .unwrap()
                        .unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let m: Map<String, Value> = store.load("counter.json").await.unwrap();
        assert_eq!(m.len(), 50);
    });
}

/// A shared read is served again while the file is unchanged, and follows every
/// change: our own writes, another program's atomic replace, an edit in place
/// of the same size, and a file turned corrupt (reported, not served stale).
#[test]
fn shared_reads_follow_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.json");
    let store = JsonStore::new(dir.path());
    let rt = rt();
    let load = || rt.block_on(store.load_shared::<Map<String, Value>>("m.json"));

    assert!(load().unwrap().is_empty(), "missing file is the default");
    rt.block_on(store.save("m.json", &json!({"v": "a"})))
        .unwrap();
    let first = load().unwrap();
    assert_eq!(first["v"], "a");
    assert!(
        Arc::ptr_eq(&first, &load().unwrap()),
        "unchanged: no re-read"
    );

    rt.block_on(store.update("m.json", |m: &mut Map<String, Value>| {
        m.insert("v".into(), json!("b"));
        Ok::<(), ()>(())
    }))
    .unwrap()
    .unwrap();
    assert_eq!(load().unwrap()["v"], "b", "our own write");

    let tmp = dir.path().join("other.tmp");
    std::fs::write(&tmp, r#"{"v": "c"}"#).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    assert_eq!(load().unwrap()["v"], "c", "another program's rename");

    // Same size, in place: the change time moves (past the file system's
    // timestamp granularity, a clock tick on ext4).
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&path, r#"{"v": "d"}"#).unwrap();
    assert_eq!(load().unwrap()["v"], "d", "an edit in place");

    std::fs::write(&path, r#"{"v": "#).unwrap();
    assert!(matches!(load(), Err(StoreError::Corrupt { .. })));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), r#"{"v": "#);
}

/// The child half of the crash test: writes forever, printing `ack N` after each
/// write returns. Does nothing unless started by the parent half.
#[test]
fn crash_writer_child() {
    let Some(dir) = std::env::var_os("PORTOS_STORE_CRASH_DIR") else {
        return;
    };
    let store = JsonStore::new(dir);
    let pad = "x".repeat(4096);
    rt().block_on(async {
        for n in 0u64.. {
            store
                .save("a.json", &json!({ "n": n, "pad": pad }))
                .await
                .unwrap();
            store
                .update("b.json", |m: &mut Map<String, Value>| {
                    m.insert("n".into(), json!(n));
                    Ok::<(), ()>(())
                })
                .await
                .unwrap()
                .unwrap();
            println!("ack {n}");
        }
    });
}

#[test]
fn kill_9_at_random_points_never_loses_an_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng_state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    for round in 0..200 {
        let mut child = Command::new(&exe)
            .args([
                "crash_writer_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("PORTOS_STORE_CRASH_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(n) = line.strip_prefix("ack ").and_then(|n| n.parse().ok()) {
                    let _ = tx.send(n);
                }
            }
        });
        std::thread::sleep(Duration::from_micros(next() % 30_000));
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        let acked = rx.try_iter().last();
        for file in ["a.json", "b.json"] {
            let path = dir.path().join(file);
            let Ok(text) = std::fs::read_to_string(&path) else {
                assert!(
                    acked.is_none(),
                    "round {round}: {file} missing after ack {acked:?}"
                );
                continue;
            };
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("round {round}: {file} does not parse ({e}): {text:?}"));
            if let Some(n) = acked {
                assert!(
                    v["n"].as_u64().unwrap() >= n,
                    "round {round}: {file} lost ack {n}: {v}"
                );
            }
        }
        // The next round starts where this one stopped: remove nothing.
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .collect();
        for l in leftovers {
            let _ = std::fs::remove_file(l.path());
        }
    }
}
