//! Real programs in a temporary data dir; the live events recorded.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use portos_core::Events;
use portos_history::ActionLog;
use portos_store::JsonStore;
use serde_json::{Value, json};

use super::*;

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<(String, Value)>>);

impl Events for Recorder {
    fn broadcast(&self, event: &str, data: &Value) {
        self.0
            .lock()
            .unwrap()
            .push((event.to_string(), data.clone()));
    }
    fn publish(&self, _: &str, _: &str, _: &Value) {}
}

struct Fixture {
    dir: tempfile::TempDir,
    events: Arc<Recorder>,
    commands: Commands,
    history: ActionLog,
}

fn fixture(settings: Option<Value>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    if let Some(s) = settings {
        std::fs::write(dir.path().join("settings.json"), s.to_string()).unwrap();
    }
    let store = Arc::new(JsonStore::new(dir.path()));
    let history = ActionLog::new(store.clone());
    let events = Arc::new(Recorder::default());
    let commands = Commands::new(store, history.clone(), events.clone());
    Fixture {
        dir,
        events,
        commands,
        history,
    }
}

impl Fixture {
    fn workspace(&self) -> String {
        self.dir.path().to_str().unwrap().to_string()
    }

    /// Starts `command` in the fixture's folder; its id.
    async fn start(&self, command: &str) -> String {
        let ws = self.workspace();
        self.commands
            .execute(Some(command), Some(&ws))
            .await
            .unwrap()
            .id
    }

    fn script(&self, name: &str, body: &str) {
        std::fs::write(self.dir.path().join(name), body).unwrap();
    }

    async fn complete(&self, id: &str, within: Duration) -> Value {
        let name = format!("command:{id}:complete");
        let until = tokio::time::Instant::now() + within;
        loop {
            if let Some((_, v)) = self
                .events
                .0
                .lock()
                .unwrap()
                .iter()
                .find(|(e, _)| *e == name)
            {
                return v.clone();
            }
            assert!(
                tokio::time::Instant::now() < until,
                "no {name} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn streamed(&self, id: &str, stream: &str) -> String {
        let name = format!("command:{id}:data");
        self.events
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|(e, d)| *e == name && d["stream"] == stream)
            .map(|(_, d)| d["data"].as_str().unwrap().to_string())
            .collect()
    }

    async fn last_history(&self) -> Value {
        // The entry is written just after the completion event.
        for _ in 0..100 {
            let h = self.history.shared().await.unwrap();
            if let Some(e) = h.entries.last() {
                return serde_json::to_value(e).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("nothing in the history");
    }
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

#[tokio::test]
async fn an_allowed_command_streams_its_output_and_is_recorded() {
    let f = fixture(None);
    f.script(
        "both.py",
        "import sys\nprint('out: héllo')\nsys.stderr.write('err: €\\n')\n",
    );
    let id = f.start("python3 both.py").await;
    assert!(
        id.len() > 8
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()),
        "the original's id: base-36 time and random digits: {id}"
    );
    let done = f.complete(&id, Duration::from_secs(20)).await;
    assert_eq!(done["success"], true, "{done}");
    assert_eq!(done["exitCode"], 0);
    assert!(
        done["output"].as_str().unwrap().contains("out: héllo"),
        "{done}"
    );
    assert_eq!(f.streamed(&id, "stdout"), "out: héllo\n");
    assert_eq!(f.streamed(&id, "stderr"), "err: €\n");
    let h = f.last_history().await;
    assert_eq!(
        (h["action"].as_str(), h["success"].as_bool()),
        (Some("command"), Some(true)),
        "{h}"
    );
    assert_eq!(h["targetName"], "python3 both.py");
    assert_eq!(h["details"]["workspacePath"], json!(f.workspace()));
    assert!(h["details"]["output"].as_str().unwrap().contains("héllo"));
    let p = Problem::from(f.commands.stop(&id).unwrap_err());
    assert_eq!(
        p.code, "NOT_ACTIVE",
        "a finished command is no longer running"
    );
}

#[tokio::test]
async fn a_failing_command_says_its_exit_code() {
    let f = fixture(None);
    let id = f.start("ls /no/such/folder").await;
    let done = f.complete(&id, Duration::from_secs(20)).await;
    assert_eq!(
        (done["success"].as_bool(), done["exitCode"].as_i64()),
        (Some(false), Some(2)),
        "{done}"
    );
    assert_eq!(f.last_history().await["error"], "Exit code 2");
}

#[tokio::test]
async fn a_refused_command_gives_its_reason_and_is_recorded() {
    let f = fixture(None);
    let cases = [
        ("rm -rf /", "Command 'rm' is not in the allowlist"),
        (
            "ls; rm x",
            "Command contains disallowed shell characters (security restriction)",
        ),
        ("   ", "Empty command provided"),
    ];
    for (command, reason) in cases {
        let e = f.commands.execute(Some(command), None).await.unwrap_err();
        let p = Problem::from(e);
        assert_eq!(
            (p.kind, p.code, p.message.as_str()),
            (Kind::Forbidden, "FORBIDDEN", reason)
        );
        let h = f.last_history().await;
        assert_eq!(
            (h["success"].as_bool(), h["error"].as_str()),
            (Some(false), Some(reason)),
            "{h}"
        );
        assert_eq!(h["details"]["command"], command);
    }
    let p = Problem::from(f.commands.execute(None, None).await.unwrap_err());
    assert_eq!((p.kind, p.code), (Kind::Invalid, "MISSING_COMMAND"));
    let p = Problem::from(
        f.commands
            .execute(Some("ls"), Some("relative/dir"))
            .await
            .unwrap_err(),
    );
    assert_eq!(p.code, "INVALID_WORKSPACE");
    assert!(f.events.0.lock().unwrap().is_empty(), "nothing ran");
}

#[tokio::test]
async fn the_allow_list_is_the_owners_setting() {
    let f = fixture(Some(
        json!({ "commands": { "allowed": ["python3", "portos-no-such-program"] } }),
    ));
    assert_eq!(
        f.commands.allowed().await.unwrap(),
        ["portos-no-such-program", "python3"]
    );
    let p = Problem::from(f.commands.execute(Some("ls"), None).await.unwrap_err());
    assert_eq!(p.message, "Command 'ls' is not in the allowlist");
    // Allowed but not installed: a clear refusal, recorded.
    let p = Problem::from(
        f.commands
            .execute(Some("portos-no-such-program x"), None)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (p.kind, p.code),
        (Kind::Unprocessable, "COMMAND_NOT_RUN"),
        "{p:?}"
    );
    assert!(
        f.last_history().await["error"]
            .as_str()
            .unwrap()
            .contains("portos-no-such-program")
    );
    // A broken section is named, never read as the defaults.
    let f = fixture(Some(json!({ "commands": { "allowed": ["/bin/sh"] } })));
    let p = Problem::from(f.commands.execute(Some("ls"), None).await.unwrap_err());
    assert_eq!(p.code, "SETTINGS_INVALID");
}

const SPAWNER: &str = "import os, sys, time\n\
pid = os.fork()\n\
if pid == 0:\n    time.sleep(60)\n    sys.exit(0)\n\
print(os.getpid(), pid, flush=True)\n\
time.sleep(60)\n";

#[tokio::test]
async fn stop_ends_the_whole_process_group() {
    let f = fixture(None);
    f.script("spawner.py", SPAWNER);
    let id = f.start("python3 spawner.py").await;
    let mut pids = Vec::new();
    for _ in 0..500 {
        let out = f.streamed(&id, "stdout");
        if out.ends_with('\n') {
            pids = out
                .split_whitespace()
                .map(|p| p.parse::<i32>().unwrap())
                .collect();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(pids.len(), 2, "the script printed its pids");
    assert!(pids.iter().all(|p| alive(*p)));
    f.commands.stop(&id).unwrap();
    let done = f.complete(&id, Duration::from_secs(10)).await;
    assert_eq!(
        (done["success"].as_bool(), done["stopped"].as_bool()),
        (Some(false), Some(true)),
        "{done}"
    );
    assert_eq!(done["exitCode"], Value::Null);
    for _ in 0..100 {
        if pids.iter().all(|p| !alive(*p)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        pids.iter().all(|p| !alive(*p)),
        "the forked child is gone too"
    );
    assert_eq!(f.last_history().await["error"], "Stopped");
    let p = Problem::from(f.commands.stop(&id).unwrap_err());
    assert_eq!((p.kind, p.code), (Kind::NotFound, "NOT_ACTIVE"));
}

#[tokio::test]
async fn a_time_limit_stops_a_command() {
    let f = fixture(Some(
        json!({ "commands": { "allowed": ["python3"], "timeoutSeconds": 1 } }),
    ));
    f.script("spawner.py", SPAWNER);
    let id = f.start("python3 spawner.py").await;
    let done = f.complete(&id, Duration::from_secs(15)).await;
    assert_eq!(done["error"], "Timed out after 1 s", "{done}");
}

#[tokio::test]
async fn a_leftover_holding_the_pipe_does_not_hold_the_completion() {
    let f = fixture(None);
    // The child keeps stdout open for a minute; the leader exits at once.
    f.script(
        "daemon.py",
        "import os, time\nif os.fork() == 0:\n    time.sleep(60)\nprint('leader done')\n",
    );
    let id = f.start("python3 daemon.py").await;
    let done = f.complete(&id, Duration::from_secs(10)).await;
    assert_eq!(done["exitCode"], 0, "{done}");
    assert!(done["runtime"].as_u64().unwrap() < 10_000);
}

#[tokio::test]
async fn a_flood_is_coalesced_and_kept_bounded() {
    let f = fixture(None);
    // 8 MiB in 8-byte writes.
    f.script("flood.py", "import sys\nfor i in range(1 << 20):\n    sys.stdout.write('%07d\\n' % i)\nsys.stdout.flush()\n");
    let id = f.start("python3 flood.py").await;
    let done = f.complete(&id, Duration::from_secs(60)).await;
    assert_eq!(done["truncated"], true);
    assert_eq!(done["output"].as_str().unwrap().len(), 1 << 20);
    let data = format!("command:{id}:data");
    let pieces = f
        .events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(e, _)| *e == data)
        .count();
    assert_eq!(
        f.streamed(&id, "stdout").len(),
        8 << 20,
        "every byte streamed"
    );
    assert!(pieces < 1000, "{pieces} events for 8 MiB");
}

#[tokio::test]
async fn stop_all_ends_every_command() {
    let f = fixture(None);
    f.script("spawner.py", SPAWNER);
    let a = f.start("python3 spawner.py").await;
    let b = f.start("python3 spawner.py").await;
    f.commands.stop_all().await;
    f.complete(&a, Duration::from_secs(2)).await;
    f.complete(&b, Duration::from_secs(2)).await;
}
