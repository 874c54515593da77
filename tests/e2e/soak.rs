//! Soak: the whole stack (runner, api server, UI server, autofixer, browser
//! host with its Chromium, and an app that logs 20 lines a second) kept busy
//! for a while — five dashboard tabs live in headless Chromium, an agent's
//! schedule firing every 3 s against a fake Moltworld on loopback, a run on
//! llama.cpp's server (SmolLM2) every few seconds — while the RSS, its
//! anonymous part and the open file descriptors of every process are sampled.
//! It prints, per process, the slope of each per hour after a warm-up, and
//! whether the anonymous memory or the descriptors grow beyond the noise of
//! their samples.
//!
//! Here it runs for 45 s and checks that everything stayed up and busy;
//! `cargo xtask soak --minutes N` (`PORTOS_SOAK_MINUTES`, samples every 10 s)
//! also fails when a process grows.

use std::time::{Duration, Instant};

use axum::Json;
use axum::response::{IntoResponse, Response};
use portos_e2e::{
    LlmServer, Stack, anon_kib, chromium_of, fd_count, free_port, rss_kib, sh_process,
};
use portos_test_support::{Incoming, serve};
use serde_json::{Value, json};

use crate::http::Api;
use crate::ui::{chromium, eval, until};

/// Moltworld as its contract says: a JSON answer to a bearer-keyed call.
async fn moltworld(_: Incoming) -> Response {
    Json(json!({ "success": true, "ok": true })).into_response()
}

/// One process's samples at a time (seconds since the start).
struct Sample {
    t: f64,
    rss_kib: f64,
    anon_kib: f64,
    fds: f64,
}

#[derive(Default)]
struct Series {
    points: Vec<Sample>,
}

/// The least-squares slope of `y` over `x`, and the spread of what it leaves.
fn fit(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    if n < 2.0 {
        return (0.0, 0.0);
    }
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (sxy, sxx) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let spread = (points
        .iter()
        .map(|(x, y)| (y - my - slope * (x - mx)).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    (slope, spread)
}

/// Whether a series grows: its rise over the window is above three times
/// its noise and above `floor`.
fn grows(points: &[(f64, f64)], floor: f64) -> (f64, bool) {
    let (slope, spread) = fit(points);
    let window = points.last().map_or(0.0, |p| p.0) - points.first().map_or(0.0, |p| p.0);
    let rise = slope * window;
    (slope * 3600.0, rise > floor && rise > 3.0 * spread)
}

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v: &f64| *v > 0.0)
        .unwrap_or(default)
}

#[test]
fn a_busy_stack_stays_up_and_no_process_grows() {
    let minutes = env_f64("PORTOS_SOAK_MINUTES", 0.75);
    let every = Duration::from_secs_f64(env_f64(
        "PORTOS_SOAK_SAMPLE_SECS",
        if minutes >= 5.0 { 10.0 } else { 3.0 },
    ));
    let long = minutes >= 10.0;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(serve(moltworld));
    let llm = LlmServer::start("");
    let (api, runner, ui, fixer, browser, cdp) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let stack = Stack::new(&format!(
        "[[process]]\nname = \"portos-cos\"\ncommand = \"portos-runner\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{runner}\" }}\nports = {{ api = {runner} }}\n\
         health = {{ check = \"grpc\", interval = \"1s\" }}\n\n\
         [[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\", PORTOS_UI_PORT = \"{ui}\", \
         PORTOS_MOLTWORLD_URL = \"http://{mw}/mw\", PORTOS_MOLTBOOK_URL = \"http://{mw}/mb\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\", interval = \"1s\" }}\n\n\
         [[process]]\nname = \"portos-autofixer\"\ncommand = \"portos-autofixer\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{fixer}\" }}\nports = {{ api = {fixer} }}\n\
         health = {{ check = \"grpc\", interval = \"1s\" }}\n\n\
         [[process]]\nname = \"portos-ui\"\ncommand = \"portos-ui\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{ui}\", PORTOS_API_PORT = \"{api}\" }}\n\
         ports = {{ ui = {ui} }}\nhealth = {{ check = \"grpc\", interval = \"1s\" }}\n\n\
         [[process]]\nname = \"portos-browser\"\ncommand = \"portos-browser\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{browser}\", CDP_HOST = \"127.0.0.1\", CDP_PORT = \"{cdp}\" }}\n\
         ports = {{ cdp = {cdp}, health = {browser} }}\n\
         health = {{ check = \"http\", port = \"health\", path = \"/healthz\", start_period = \"15s\" }}\n\n{}",
        sh_process(
            "chatter",
            "i=0; while :; do i=$((i+1)); echo \"soak line $i\"; sleep 0.05; done",
            ""
        ),
        mw = fake.addr,
    ));
    stack.ok(&["up", "-d"]);
    let token = stack.owner_token();
    let a = Api::new(api, &token);

    // An agent on Moltworld with a schedule every 3 s; the model as a provider.
    rt.block_on(async {
        portos_e2e::wait_for(Duration::from_secs(30), "every service healthy", || {
            let list = stack.status();
            list.iter()
                .all(|p| p["state"] == "healthy")
                .then_some(())
        });
        let (st, agent) = a
            .post("/api/agents/personalities", json!({ "userId": "me", "name": "Soak", "personality": { "style": "casual" } }))
            .await;
        assert_eq!(st, 201, "{agent}");
        let (st, account) = a
            .post("/api/agents/accounts", json!({ "agentId": agent["id"], "platform": "moltworld", "status": "active",
                "credentials": { "apiKey": "moltworld_soak_key", "username": "soak", "agentId": "mw-soak" } }))
            .await;
        assert_eq!(st, 201, "{account}");
        let (st, sched) = a
            .post("/api/agents/schedules", json!({ "agentId": agent["id"], "accountId": account["id"],
                "action": { "type": "mw_build", "params": { "x": 1, "y": 2, "type": "wood" } },
                "schedule": { "type": "interval", "intervalMs": 3000 }, "enabled": true }))
            .await;
        assert_eq!(st, 201, "{sched}");
        let (st, p) = a
            .post("/api/providers", json!({ "id": "llama", "name": "llama.cpp", "type": "api", "endpoint": llm.endpoint(), "defaultModel": "smollm2" }))
            .await;
        assert_eq!(st, 201, "{p}");
    });

    // Five live tabs.
    let (mut chrome, _profile) = rt.block_on(chromium());
    let tabs = rt.block_on(async {
        let first = chrome.new_page("about:blank").await.unwrap();
        first
            .goto(format!("http://127.0.0.1:{ui}/login?token={token}"))
            .await
            .unwrap();
        until(
            &first,
            "the dashboard",
            15,
            "document.body.dataset.page === 'dashboard'",
        )
        .await;
        let mut tabs = vec![first];
        for path in ["/cos", "/logs", "/runs", "/schedules"] {
            tabs.push(
                chrome
                    .new_page(format!("http://127.0.0.1:{ui}{path}"))
                    .await
                    .unwrap(),
            );
        }
        tabs
    });

    // Runs on the model, one at a time, a few seconds apart.
    let (ok_runs, all_runs) = (
        std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
        std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
    );
    let load = rt.spawn({
        let (a, ok_runs, all_runs) = (Api::new(api, &token), ok_runs.clone(), all_runs.clone());
        async move {
            loop {
                let (st, r) = a
                    .post(
                        "/api/runs",
                        json!({ "providerId": "llama", "prompt": "Say hello in five words." }),
                    )
                    .await;
                if st == 202 {
                    all_runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let id = r["runId"].as_str().unwrap_or_default().to_string();
                    for _ in 0..600 {
                        let m = a.get(&format!("/api/runs/{id}")).await;
                        if !m["endTime"].is_null() {
                            if m["success"] == true {
                                ok_runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        }
    });

    // Samples of every process of the stack.
    let pids = || -> Vec<(String, i32)> {
        let list = stack.status();
        let mut out: Vec<(String, i32)> = list
            .iter()
            .filter_map(|p| Some((p["name"].as_str()?.to_string(), p["pid"].as_i64()? as i32)))
            .collect();
        if let Some(host) = out.iter().find(|(n, _)| n == "portos-browser").map(|p| p.1)
            && let Some(c) = chromium_of(host)
        {
            out.push(("chromium (browser host)".into(), c));
        }
        out.push(("supervisor".into(), stack.daemon_pid().unwrap()));
        out
    };
    let first_pids = pids();
    let mut series: std::collections::BTreeMap<String, Series> = Default::default();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(minutes * 60.0);
    let mut last_progress = Instant::now();
    while Instant::now() < end {
        let t = start.elapsed().as_secs_f64();
        for (name, pid) in pids() {
            series.entry(name).or_default().points.push(Sample {
                t,
                rss_kib: rss_kib(pid) as f64,
                anon_kib: anon_kib(pid) as f64,
                fds: fd_count(pid) as f64,
            });
        }
        if last_progress.elapsed() >= Duration::from_secs(60) {
            last_progress = Instant::now();
            eprintln!(
                "soak: {:.0} of {:.0} min, {} runs",
                t / 60.0,
                minutes,
                all_runs.load(std::sync::atomic::Ordering::Relaxed)
            );
        }
        std::thread::sleep(every);
    }
    load.abort();

    // Still up, the same processes, every tab live, the load ran.
    let restarted: Vec<String> = pids()
        .into_iter()
        .filter(|p| !first_pids.contains(p))
        .map(|p| p.0)
        .collect();
    let builds = fake
        .seen
        .lines("")
        .iter()
        .filter(|l| l.starts_with("POST /mw/api/world/build"))
        .count();
    let offline = rt.block_on(async {
        let mut offline = 0;
        for tab in &tabs {
            if eval(tab, "document.getElementById('offline') ? document.getElementById('offline').hidden : false").await != Value::Bool(true) {
                offline += 1;
            }
        }
        offline
    });
    let logged = stack.portos(&["logs", "chatter", "--lines", "5"]);
    rt.block_on(async { chrome.close().await.ok() });

    let warm = (minutes * 60.0 / 3.0).min(300.0);
    println!(
        "\n| process ({minutes} min, a sample every {:?}, slopes after {warm:.0} s) | RSS first → last (MiB) | RSS slope (MiB/h) | anonymous first → last (MiB) | anonymous slope (MiB/h) | fds first → last | fd slope (/h) | grows |\n|---|---|---|---|---|---|---|---|",
        every
    );
    let mut growing = Vec::new();
    for (name, s) in &series {
        let after: Vec<&Sample> = s.points.iter().filter(|p| p.t >= warm).collect();
        let mib = |f: fn(&Sample) -> f64| -> Vec<(f64, f64)> {
            after.iter().map(|p| (p.t, f(p) / 1024.0)).collect()
        };
        // A leak, or a heap that keeps what was freed, is anonymous memory:
        // that is what must not grow. The RSS beside it also counts the
        // program's code, paged in as new paths run (each service hands its
        // start-up code back once serving, `portos-heap`), which the kernel
        // takes back when it needs the room.
        let (rss_slope, _) = grows(&mib(|p| p.rss_kib), 0.5);
        let (anon_slope, anon_grows) = grows(&mib(|p| p.anon_kib), 0.5);
        let fds: Vec<(f64, f64)> = after.iter().map(|p| (p.t, p.fds)).collect();
        let (fd_slope, fd_grows) = grows(&fds, 1.5);
        let (first, last) = (s.points.first().unwrap(), s.points.last().unwrap());
        println!(
            "| {name} | {:.1} → {:.1} | {rss_slope:+.2} | {:.1} → {:.1} | {anon_slope:+.2} | {} → {} | {fd_slope:+.1} | {} |",
            first.rss_kib / 1024.0,
            last.rss_kib / 1024.0,
            first.anon_kib / 1024.0,
            last.anon_kib / 1024.0,
            first.fds,
            last.fds,
            match (anon_grows, fd_grows) {
                (false, false) => "no",
                (true, false) => "anonymous memory",
                (false, true) => "fds",
                (true, true) => "anonymous memory, fds",
            }
        );
        if anon_grows || fd_grows {
            growing.push(name.clone());
        }
    }
    let (ok, all) = (
        ok_runs.load(std::sync::atomic::Ordering::Relaxed),
        all_runs.load(std::sync::atomic::Ordering::Relaxed),
    );
    println!("| runs on the model (succeeded of started) | {ok} of {all} |||||||");
    println!("| scheduled Moltworld builds | {builds} |||||||");
    println!("| tabs offline at the end | {offline} of 5 |||||||");

    // Why, in the supervisor's words, and what the process said last.
    for name in &restarted {
        let entry = stack
            .status()
            .into_iter()
            .find(|p| p["name"] == name.as_str());
        println!("{name} restarted: {}", entry.unwrap_or_default());
        for log in ["error", "out"] {
            let path = stack.data.join(format!("logs/{name}-{log}.log"));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(20).collect();
            println!("--- last lines of {}:", path.display());
            for line in tail.iter().rev() {
                println!("{line}");
            }
        }
    }
    assert!(
        restarted.is_empty(),
        "restarted during the soak: {restarted:?}"
    );
    assert_eq!(offline, 0, "every tab still live");
    assert!(
        ok >= 1 && ok + 1 >= all,
        "runs on the model succeed: {ok} of {all}"
    );
    assert!(
        builds as f64 >= (minutes * 60.0 / 3.0) / 2.0,
        "the schedule fired every 3 s: {builds} builds"
    );
    assert!(
        String::from_utf8_lossy(&logged.stdout).contains("soak line"),
        "the app's lines are captured"
    );
    if long {
        assert!(growing.is_empty(), "growing over the soak: {growing:?}");
    }
}
