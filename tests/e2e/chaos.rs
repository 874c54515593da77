//! Chaos: the stack (runner, api server, UI server, autofixer) under a steady
//! load — REST reads, acknowledged task writes, a run of a script agent now
//! and then, a live client on `/ws` — while random healthy children are
//! killed with SIGKILL, and every 50 kills the supervisor itself, followed by
//! `portos up -d`. Each time every service must be back healthy; no zombie,
//! no process of the stack without a living supervisor; at the end every
//! acknowledged write is in its file, every data file parses, every run is
//! recorded once and ended. 100 kills here; `cargo xtask chaos` runs 1,000
//! (`PORTOS_CHAOS_KILLS`) and prints the same table.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use portos_e2e::{Stack, alive, free_port, zombies_of};
use serde_json::{Value, json};

use crate::http::Api;

fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:")?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Every process of `status --json`, when all are healthy.
fn all_healthy(stack: &Stack) -> Option<Vec<Value>> {
    let out = stack.portos(&["status", "--json"]);
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).ok()?;
    list.iter().all(|p| p["state"] == "healthy").then_some(list)
}

fn until_healthy(stack: &Stack, within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(list) = all_healthy(stack) {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "every service back healthy within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn random_kills_under_load_leave_every_service_healthy_and_nothing_lost() {
    let kills: usize = std::env::var("PORTOS_CHAOS_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(100);
    let (api, runner, ui, fixer) = (free_port(), free_port(), free_port(), free_port());
    let stack = Stack::new(&format!(
        "[[process]]\nname = \"portos-cos\"\ncommand = \"portos-runner\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{runner}\" }}\nports = {{ api = {runner} }}\n\
         health = {{ check = \"grpc\", interval = \"100ms\" }}\nmin_uptime = \"300ms\"\nrestart_delay = \"50ms\"\n\n\
         [[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\", PORTOS_PROVIDER_CHECK_SECS = \"3600\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\", interval = \"100ms\" }}\nmin_uptime = \"300ms\"\nrestart_delay = \"50ms\"\n\n\
         [[process]]\nname = \"portos-autofixer\"\ncommand = \"portos-autofixer\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{fixer}\" }}\nports = {{ api = {fixer} }}\n\
         health = {{ check = \"grpc\", interval = \"100ms\" }}\nmin_uptime = \"300ms\"\nrestart_delay = \"50ms\"\n\n\
         [[process]]\nname = \"portos-ui\"\ncommand = \"portos-ui\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{ui}\", PORTOS_API_PORT = \"{api}\" }}\nports = {{ ui = {ui} }}\n\
         health = {{ check = \"grpc\", interval = \"100ms\" }}\nmin_uptime = \"300ms\"\nrestart_delay = \"50ms\"\n"
    ));
    let agent = stack.dir.path().join("agent.sh");
    std::fs::write(
        &agent,
        "#!/bin/sh\ncat >/dev/null\nfor i in 1 2 3 4 5; do echo \"line $i\"; sleep 0.2; done\n",
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    stack.ok(&["up", "-d"]);
    until_healthy(&stack, Duration::from_secs(20));
    let token = stack.owner_token();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let acked: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let runs: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let ws_events = Arc::new(AtomicU64::new(0));
    rt.block_on(async {
        let a = Api::new(api, &token);
        let (st, b) = a
            .post(
                "/api/providers",
                json!({"id": "chaos-agent", "name": "chaos", "type": "cli", "command": agent}),
            )
            .await;
        assert_eq!(st, 201, "{b}");
    });
    // The load: reads and acknowledged writes, runs, a live client.
    let load = {
        let (stop, reads, acked, runs, ws_events, token) = (
            stop.clone(),
            reads.clone(),
            acked.clone(),
            runs.clone(),
            ws_events.clone(),
            token.clone(),
        );
        rt.spawn(async move {
            let a = Api::new(api, &token);
            let mut n = 0u64;
            let ws = tokio::spawn({
                let (stop, ws_events, token) = (stop.clone(), ws_events.clone(), token.clone());
                async move {
                    while !stop.load(Ordering::Relaxed) {
                        let a = Api::new(api, &token);
                        if let Ok(Ok((mut ws, _))) = tokio::time::timeout(
                            Duration::from_secs(2),
                            tokio_tungstenite::connect_async(ws_request(&a)),
                        )
                        .await
                        {
                            while let Ok(Some(Ok(_))) =
                                tokio::time::timeout(Duration::from_secs(2), ws.next()).await
                            {
                                ws_events.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            });
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                if let Ok((200, _)) = try_call(&a, reqwest::Method::GET, "/api/history", None).await
                {
                    reads.fetch_add(1, Ordering::Relaxed);
                }
                let desc = format!("chaos write {n}");
                if let Ok((201, t)) = try_call(
                    &a,
                    reqwest::Method::POST,
                    "/api/cos/tasks",
                    Some(json!({"description": desc, "priority": "LOW"})),
                )
                .await
                {
                    acked
                        .lock()
                        .unwrap()
                        .push(t["id"].as_str().unwrap_or_default().to_string());
                }
                if n.is_multiple_of(20)
                    && let Ok((202, r)) = try_call(
                        &a,
                        reqwest::Method::POST,
                        "/api/runs",
                        Some(json!({"providerId": "chaos-agent", "prompt": "go"})),
                    )
                    .await
                {
                    runs.lock()
                        .unwrap()
                        .push(r["runId"].as_str().unwrap_or_default().to_string());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            ws.abort();
        })
    };

    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let first_rss = rss_kib(stack.daemon_pid().unwrap());
    let (mut times, mut supervisor_kills, mut zombies, mut orphans) = (Vec::new(), 0, 0, 0);
    for i in 0..kills {
        if i > 0 && i % 50 == 0 {
            // The supervisor itself: its children go with it, `up -d` brings the stack back.
            let daemon = stack.daemon_pid().unwrap();
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(daemon),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
            let gone = Instant::now() + Duration::from_secs(3);
            while !stack.descendants().is_empty() && Instant::now() < gone {
                std::thread::sleep(Duration::from_millis(20));
            }
            orphans += stack.descendants().iter().filter(|p| alive(**p)).count();
            let t0 = Instant::now();
            stack.ok(&["up", "-d"]);
            until_healthy(&stack, Duration::from_secs(30));
            times.push(t0.elapsed());
            supervisor_kills += 1;
            continue;
        }
        // A random child, healthy and past its min_uptime.
        let list = loop {
            let list = until_healthy(&stack, Duration::from_secs(30));
            if list
                .iter()
                .all(|p| p["uptime_ms"].as_u64().unwrap_or(0) >= 300)
            {
                break list;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let victim = &list[(next() as usize) % list.len()];
        let pid = victim["pid"].as_i64().unwrap() as i32;
        let t0 = Instant::now();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        // Back: the victim has a new pid and everything is healthy.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(now) = all_healthy(&stack)
                && now
                    .iter()
                    .any(|p| p["name"] == victim["name"] && p["pid"] != victim["pid"])
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} back within 30 s after kill {i}",
                victim["name"]
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        times.push(t0.elapsed());
        zombies += zombies_of(stack.daemon_pid().unwrap()).len();
    }
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), load)
            .await
            .ok()
    });
    let last_rss = rss_kib(stack.daemon_pid().unwrap());

    // Nothing acknowledged is lost; every file parses; every run is recorded once and ends.
    until_healthy(&stack, Duration::from_secs(20));
    let tasks = std::fs::read_to_string(stack.data.join("TASKS.md")).unwrap();
    let acked = acked.lock().unwrap().clone();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|id| !tasks.contains(&format!("#{id} ")))
        .collect();
    let mut unparsable = Vec::new();
    for e in walk(&stack.data) {
        if e.extension().is_some_and(|x| x == "json")
            && serde_json::from_slice::<Value>(&std::fs::read(&e).unwrap()).is_err()
        {
            unparsable.push(e);
        }
    }
    let runs = runs.lock().unwrap().clone();
    let a = Api::new(api, &token);
    let mut unended = Vec::new();
    rt.block_on(async {
        for id in &runs {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let m = a.get(&format!("/api/runs/{id}")).await;
                if !m["endTime"].is_null() {
                    break;
                }
                if Instant::now() > deadline {
                    unended.push(id.clone());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    let listed: Vec<String> = walk(&stack.data.join("runs"))
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "metadata.json"))
        .filter_map(|p| Some(p.parent()?.file_name()?.to_string_lossy().into_owned()))
        .collect();
    let twice: Vec<&String> = runs
        .iter()
        .filter(|id| listed.iter().filter(|l| *l == *id).count() != 1)
        .collect();

    times.sort();
    println!("\n| chaos | value |\n|---|---|");
    println!(
        "| kills (children / supervisor) | {} / {supervisor_kills} |",
        kills - supervisor_kills
    );
    println!("| back healthy each time | {} of {} |", times.len(), kills);
    println!(
        "| time to healthy median / p99 / max | {:?} / {:?} / {:?} |",
        pct(&times, 0.5),
        pct(&times, 0.99),
        times.last().copied().unwrap_or_default()
    );
    println!("| zombies | {zombies} |\n| orphans | {orphans} |");
    println!("| supervisor RSS first / last (KiB) | {first_rss} / {last_rss} |");
    println!(
        "| REST reads answered | {} |",
        reads.load(Ordering::Relaxed)
    );
    println!(
        "| acknowledged writes present | {} of {} |",
        acked.len() - lost.len(),
        acked.len()
    );
    println!("| data files unparsable | {} |", unparsable.len());
    println!(
        "| runs recorded once and ended | {} of {} |",
        runs.len() - twice.len() - unended.len(),
        runs.len()
    );
    println!(
        "| live events received | {} |",
        ws_events.load(Ordering::Relaxed)
    );
    assert_eq!(times.len(), kills);
    assert_eq!(zombies, 0, "zombies");
    assert_eq!(
        orphans, 0,
        "orphans: processes of the stack outlived their supervisor"
    );
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    assert!(unparsable.is_empty(), "unparsable: {unparsable:?}");
    assert!(
        twice.is_empty() && unended.is_empty(),
        "runs not recorded once: {twice:?}, not ended: {unended:?}"
    );
    assert!(!acked.is_empty() && !runs.is_empty(), "the load ran");
}

fn ws_request(a: &Api) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = (a.base.replacen("http://", "ws://", 1) + "/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", a.token()).parse().unwrap(),
    );
    req
}

/// A call that may fail (the server is being killed): its status and body, or the error.
async fn try_call(
    a: &Api,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    tokio::time::timeout(Duration::from_secs(3), a.try_call(method, path, body))
        .await
        .map_err(|_| "timed out".to_string())?
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
