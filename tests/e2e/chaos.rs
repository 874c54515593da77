//! Chaos: the stack (runner, api server, UI server, autofixer, browser host)
//! under a steady load — REST reads, acknowledged task writes, a run of a
//! script agent now and then, a live client on `/ws` — while random healthy
//! children are killed with SIGKILL; one kill in ten is the browser host's
//! Chromium, one in ten the runner while it runs an agent, and every 50th the
//! supervisor itself, followed by `portos up -d`. Each time every service must be back healthy; no zombie,
//! no process of the stack without a living supervisor; at the end every
//! acknowledged write is in its file, every data file parses, every run is
//! recorded once and ended. 100 kills here; `cargo xtask chaos` runs 1,000
//! (`PORTOS_CHAOS_KILLS`) and prints the same table.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use portos_e2e::{Stack, alive, chromium_of, free_port, rss_kib, zombies_of};
use serde_json::{Value, json};

use crate::http::Api;

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
    let (browser, cdp) = (free_port(), free_port());
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
         health = {{ check = \"grpc\", interval = \"100ms\" }}\nmin_uptime = \"300ms\"\nrestart_delay = \"50ms\"\n\n\
         [[process]]\nname = \"portos-browser\"\ncommand = \"portos-browser\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{browser}\", CDP_HOST = \"127.0.0.1\", CDP_PORT = \"{cdp}\" }}\n\
         ports = {{ cdp = {cdp}, health = {browser} }}\n\
         health = {{ check = \"http\", port = \"health\", path = \"/healthz\", interval = \"100ms\", \
         start_period = \"15s\", failure_threshold = 30 }}\n\
         min_uptime = \"300ms\"\nrestart_delay = \"50ms\"\n"
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
    let mut incarnation_rss = first_rss;
    let (mut times, mut supervisor_kills, mut zombies, mut orphans) = (Vec::new(), 0, 0, 0);
    let (mut chromium_kills, mut mid_agent) = (0, Vec::new());
    for i in 0..kills {
        if i > 0 && i % 100 == 0 {
            eprintln!("chaos: {i} of {kills} kills, every service back each time");
        }
        if (i + 1) % 50 == 0 {
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
            incarnation_rss = rss_kib(stack.daemon_pid().unwrap());
            continue;
        }
        // Every child healthy and past its min_uptime.
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
        let named = |name: &str| list.iter().find(|p| p["name"] == name).unwrap().clone();
        if i % 10 == 3 {
            // Chromium: the host relaunches it, the supervisor restarts nothing.
            let host = named("portos-browser")["pid"].as_i64().unwrap() as i32;
            let old = portos_e2e::wait_for(Duration::from_secs(30), "Chromium running", || {
                chromium_of(host)
            });
            let t0 = Instant::now();
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(old),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
            portos_e2e::wait_for(Duration::from_secs(30), "Chromium relaunched", || {
                let new = chromium_of(host).filter(|p| *p != old)?;
                let cdp_up = rt.block_on(async {
                    reqwest::get(format!("http://127.0.0.1:{cdp}/json/version"))
                        .await
                        .is_ok_and(|r| r.status() == 200)
                });
                (cdp_up && all_healthy(&stack).is_some()).then_some(new)
            });
            times.push(t0.elapsed());
            assert_eq!(
                stack.pid_of("portos-browser"),
                Some(host),
                "a Chromium kill restarts only Chromium"
            );
            zombies += zombies_of(host).len() + zombies_of(stack.daemon_pid().unwrap()).len();
            chromium_kills += 1;
            continue;
        }
        let victim = if i % 10 == 7 {
            // The runner while it runs an agent: the run ends, recorded as lost.
            let a = Api::new(api, &token);
            let id = rt.block_on(async {
                let (st, r) = a
                    .post(
                        "/api/runs",
                        json!({"providerId": "chaos-agent", "prompt": "mid-agent"}),
                    )
                    .await;
                assert_eq!(st, 202, "{r}");
                let id = r["runId"].as_str().unwrap().to_string();
                let deadline = Instant::now() + Duration::from_secs(20);
                while !a
                    .text(&format!("/api/runs/{id}/output"))
                    .await
                    .contains("line 1")
                {
                    assert!(Instant::now() < deadline, "run {id} started its agent");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                id
            });
            runs.lock().unwrap().push(id.clone());
            mid_agent.push(id);
            named("portos-cos")
        } else {
            list[(next() as usize) % list.len()].clone()
        };
        let victim = &victim;
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
    let (mut unended, mut recorded_lost) = (Vec::new(), 0);
    rt.block_on(async {
        for id in &runs {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let m = a.get(&format!("/api/runs/{id}")).await;
                if !m["endTime"].is_null() {
                    if mid_agent.contains(id) && m["lost"] == true && m["success"] == false {
                        recorded_lost += 1;
                    }
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
        "| kills (children / Chromium / runner mid-agent / supervisor) | {} / {chromium_kills} / {} / {supervisor_kills} |",
        kills - supervisor_kills - chromium_kills - mid_agent.len(),
        mid_agent.len()
    );
    println!("| back healthy each time | {} of {} |", times.len(), kills);
    println!(
        "| time to healthy median / p99 / max | {:?} / {:?} / {:?} |",
        pct(&times, 0.5),
        pct(&times, 0.99),
        times.last().copied().unwrap_or_default()
    );
    println!("| zombies | {zombies} |\n| orphans | {orphans} |");
    println!(
        "| supervisor RSS first / last incarnation's start / last (KiB) | {first_rss} / {incarnation_rss} / {last_rss} |"
    );
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
        "| runs of a killed runner recorded lost | {recorded_lost} of {} |",
        mid_agent.len()
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
    assert_eq!(
        recorded_lost,
        mid_agent.len(),
        "every run whose runner was killed mid-agent is recorded lost"
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
