//! The autofixer through the real binaries: an app whose process exits at
//! start because of a bug in its source; the fixing agent is a script we
//! control (it reads its briefing, removes the bug, exits 0 — or fails, or
//! hangs, on demand). The fix starts within 2 s of the crash loop, the
//! process is restarted and stays healthy, the session is in `index.json`
//! with the diff; a crash inside the cooldown starts no fix; a failing or
//! overrunning agent is recorded failed and leaves the process as it was;
//! `kill -9` of the autofixer mid-fix leaves the session closed as
//! interrupted; the 5560 page in Chromium shows the history, the original's
//! entries included.

use std::path::Path;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use portos_e2e::{Stack, free_port, wait_for};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::http::Api;
use chromiumoxide::cdp::browser_protocol::emulation::{
    ClearDeviceMetricsOverrideParams, SetDeviceMetricsOverrideParams,
};

use crate::ui::{chromium, eval, shoot, until, watch_console};

const ORIGINAL_INDEX: &str = r#"[
  {
    "sessionId": "autofixer_legacy-web_1735689600000_k3j2h1g0f",
    "startTime": "2025-01-01T00:00:00.000Z",
    "endTime": "2025-01-01T00:01:05.250Z",
    "duration": 65250,
    "success": true,
    "processName": "legacy-web",
    "appName": "Legacy",
    "promptPreview": "You are an autonomous autofixer for PortOS.",
    "outputSize": 42
  }
]"#;

struct Ports {
    api: u16,
    fixer: u16,
    fixer_ui: u16,
}

fn autofixer_stack() -> (Stack, Ports) {
    let (api, runner, fixer, fixer_ui) = (free_port(), free_port(), free_port(), free_port());
    let runner_url = format!("http://127.0.0.1:{runner}");
    let stack = Stack::new(&format!(
        "[[process]]\nname = \"portos-cos\"\ncommand = \"portos-runner\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{runner}\" }}\nports = {{ api = {runner} }}\n\
         health = {{ check = \"grpc\", interval = \"200ms\" }}\n\n\
         [[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\", PORTOS_RUNNER_URL = \"{runner_url}\", PORTOS_AUTOFIXER_URL = \"http://127.0.0.1:{fixer}\", PORTOS_PROVIDER_CHECK_SECS = \"3600\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n\n\
         [[process]]\nname = \"portos-autofixer\"\ncommand = \"portos-autofixer\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{fixer}\", PORTOS_RUNNER_URL = \"{runner_url}\" }}\n\
         ports = {{ api = {fixer} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\nmin_uptime = \"200ms\"\n\n\
         [[process]]\nname = \"portos-autofixer-ui\"\ncommand = \"portos-autofixer-ui\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{fixer_ui}\", PORTOS_AUTOFIXER_PORT = \"{fixer}\" }}\n\
         ports = {{ ui = {fixer_ui} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n"
    ));
    // The original's history, as its autofixer left it.
    let dir = stack
        .data
        .join("autofixer/sessions/autofixer_legacy-web_1735689600000_k3j2h1g0f");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(stack.data.join("autofixer/index.json"), ORIGINAL_INDEX).unwrap();
    std::fs::write(
        dir.join("prompt.txt"),
        "You are an autonomous autofixer for PortOS.",
    )
    .unwrap();
    std::fs::write(
        dir.join("output.txt"),
        "Fixed the null check in server.js.\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("metadata.json"),
        r#"{"sessionId":"autofixer_legacy-web_1735689600000_k3j2h1g0f","startTime":"2025-01-01T00:00:00.000Z","endTime":"2025-01-01T00:01:05.250Z","duration":65250,"exitCode":0,"success":true,"processName":"legacy-web","appName":"Legacy","appId":"legacy","repoPath":"/srv/legacy","type":"autofixer"}"#,
    )
    .unwrap();
    stack.ok(&["up", "-d"]);
    (
        stack,
        Ports {
            api,
            fixer,
            fixer_ui,
        },
    )
}

/// The buggy app (a git repository) and the fixing agent's script.
fn fixture(dir: &Path) -> std::path::PathBuf {
    let app = dir.join("buggy");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("server.py"),
        "import sys, time\nBUG = True\nif BUG:\n    sys.exit('boom: BUG is set in server.py')\nprint('serving', flush=True)\nwhile True:\n    time.sleep(1)\n",
    )
    .unwrap();
    std::fs::write(
        app.join("portos.toml"),
        "[[process]]\nname = \"buggy-web\"\ncommand = \"python3\"\nargs = [\"server.py\"]\n\
         min_uptime = \"1s\"\nmax_restarts = 1000\nrestart_delay = \"100ms\"\n",
    )
    .unwrap();
    portos_test_support::git(&app, &["init", "-q", "-b", "main"]);
    portos_test_support::git(&app, &["add", "."]);
    portos_test_support::git(&app, &["commit", "-q", "-m", "the app, with its bug"]);
    // The agent: its briefing on stdin, the mode from a file beside it.
    let agent = dir.join("fixer.sh");
    std::fs::write(
        &agent,
        format!(
            "#!/bin/sh\nbrief=$(cat)\nprintf '%s' \"$brief\" > {seen}\nmode=$(cat {mode} 2>/dev/null)\n\
             echo \"fixer: reading the error log\"\n\
             case \"$mode\" in fail) echo 'fixer: cannot fix this' >&2; exit 1;; hang) sleep 1000;; esac\n\
             sed -i 's/^BUG = True/BUG = False/' server.py\necho \"fixer: set BUG = False in server.py\"\n",
            seen = dir.join("briefing.txt").display(),
            mode = dir.join("mode").display(),
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    app
}

fn index(stack: &Stack) -> Vec<Value> {
    serde_json::from_str(&std::fs::read_to_string(stack.data.join("autofixer/index.json")).unwrap())
        .unwrap()
}

fn meta(stack: &Stack, id: &str) -> Value {
    let p = stack
        .data
        .join(format!("autofixer/sessions/{id}/metadata.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Waits for a session newer than the `known` ones to end; its metadata.
fn next_session(stack: &Stack, known: usize, secs: u64) -> Value {
    let entry = wait_for(
        Duration::from_secs(secs),
        "a new fix session in index.json",
        || {
            let i = index(stack);
            (i.len() > known).then(|| i[0].clone())
        },
    );
    meta(stack, entry["sessionId"].as_str().unwrap())
}

fn ms(iso: &Value) -> u64 {
    humantime::parse_rfc3339(iso.as_str().unwrap())
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Puts the bug back, and the process into a crash loop.
fn break_again(stack: &Stack, app: &Path) {
    portos_test_support::git(app, &["checkout", "--", "server.py"]);
    let pid = stack.pid_of("buggy-web").unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
}

fn set_config(stack: &Stack, port: u16, config: Value) -> Value {
    portos_e2e::python_grpc_with(
        Some(&stack.internal_token()),
        &[
            &format!("127.0.0.1:{port}"),
            "portos.autofixer.v1.Autofixer",
            "SetConfig",
            &json!({ "json": config.to_string() }).to_string(),
        ],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_autofixer_heals_a_crash_loop_and_keeps_its_history() {
    let (stack, ports) = autofixer_stack();
    let api = Api::new(ports.api, &stack.owner_token());
    let app = fixture(stack.dir.path());
    let agent = stack.dir.path().join("fixer.sh");

    // The autofixer's API takes only the internal token; Python grpcio without it is refused.
    let refused = portos_e2e::python_grpc(&[
        &format!("127.0.0.1:{}", ports.fixer),
        "portos.autofixer.v1.Autofixer",
        "Trigger",
        r#"{"process":"buggy-web"}"#,
    ]);
    assert_eq!(refused["error"]["code"], "UNAUTHENTICATED", "{refused}");
    let bad = set_config(&stack, ports.fixer, json!({ "crashCont": 3 }));
    assert_eq!(bad["error"]["code"], "INVALID_ARGUMENT", "{bad}");
    let config = json!({ "providerId": "fixer", "timeoutMs": 4000, "verifyMs": 10000,
                         "cooldownMs": 0, "maxAttemptsPerDay": 100, "failureBackoffMs": 600000 });
    let set = set_config(&stack, ports.fixer, config.clone());
    assert!(
        set["response"]["json"]
            .as_str()
            .unwrap_or_default()
            .contains("\"providerId\":\"fixer\""),
        "{set}"
    );

    let (st, body) = api
        .post(
            "/api/providers",
            json!({ "id": "fixer", "name": "Fixer", "type": "cli", "command": agent.display().to_string() }),
        )
        .await;
    assert_eq!(st, 201, "{body}");
    let (st, registered) = api
        .post(
            "/api/apps",
            json!({ "name": "Buggy", "repoPath": app.display().to_string() }),
        )
        .await;
    assert_eq!(st, 201, "{registered}");

    // The crash loop → a fix within 2 s of the supervisor's event → healthy;
    // ten times over (no cooldown yet), then once more with a cooldown.
    let mut latencies = Vec::new();
    let mut s = Value::Null;
    for round in 0..11 {
        if round == 10 {
            let mut cooled = config.clone();
            cooled["cooldownMs"] = json!(600000);
            let _ = set_config(&stack, ports.fixer, cooled);
        }
        if round > 0 {
            break_again(&stack, &app);
        }
        s = next_session(&stack, 1 + round, 60);
        assert_eq!(s["success"], true, "round {round}: {s}");
        assert_eq!(s["status"], "succeeded", "{s}");
        assert_eq!(s["trigger"], "crash-loop", "{s}");
        let latency = ms(&s["startTime"]) - ms(&s["detectedAt"]);
        assert!(
            latency < 2000,
            "the fix started {latency} ms after the crash loop"
        );
        latencies.push(latency);
        assert!(s["diffStat"].as_str().unwrap().contains("server.py"), "{s}");
        assert!(s["verdict"].as_str().unwrap().starts_with("fixed"), "{s}");
        assert!(
            std::fs::read_to_string(app.join("server.py"))
                .unwrap()
                .contains("BUG = False")
        );
        wait_for(Duration::from_secs(10), "buggy-web healthy", || {
            (stack.process("buggy-web")["state"] == "healthy").then_some(())
        });
    }
    let briefing = std::fs::read_to_string(stack.dir.path().join("briefing.txt")).unwrap();
    assert!(
        briefing.contains("boom: BUG is set in server.py"),
        "{briefing}"
    );
    assert!(briefing.contains("buggy-web"), "{briefing}");
    let output = std::fs::read_to_string(stack.data.join(format!(
        "autofixer/sessions/{}/output.txt",
        s["sessionId"].as_str().unwrap()
    )))
    .unwrap();
    assert!(output.contains("fixer: set BUG = False"), "{output}");
    let mut sorted = latencies.clone();
    sorted.sort_unstable();
    println!(
        "crash loop → fix started, 11 rounds: {latencies:?} ms, median {} ms",
        sorted[sorted.len() / 2]
    );

    // A second crash loop inside the cooldown: no fix.
    let before = stack.process("buggy-web")["restarts"].as_u64().unwrap();
    break_again(&stack, &app);
    wait_for(Duration::from_secs(20), "buggy-web crashing again", || {
        (stack.process("buggy-web")["restarts"].as_u64()? >= before + 4).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(index(&stack).len(), 12, "a fix started inside the cooldown");

    // The same through the api server, for the main UI; its refusals.
    let status = api.get("/api/autofixer").await;
    assert_eq!(status["state"], "watching", "{status}");
    assert!(
        status["processes"].to_string().contains("cooling-down"),
        "{status}"
    );
    let hist = api.get("/api/autofixer/history").await;
    assert_eq!(hist[0]["sessionId"], s["sessionId"], "{hist}");
    let one = api
        .get(&format!(
            "/api/autofixer/sessions/{}",
            s["sessionId"].as_str().unwrap()
        ))
        .await;
    assert!(
        one["output"]
            .as_str()
            .unwrap()
            .contains("fixer: set BUG = False"),
        "{one}"
    );
    let (st, _) = api
        .call(reqwest::Method::GET, "/api/autofixer/sessions/nope", None)
        .await;
    assert_eq!(st, 404);
    let (st, body) = api
        .put("/api/autofixer/config", json!({ "crashCount": 0 }))
        .await;
    assert_eq!(st, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("crashCount"),
        "{body}"
    );
    let anon = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = anon
        .get(format!("{}/api/autofixer", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = anon
        .post(format!("{}/api/autofixer/pause", api.base))
        .header("authorization", format!("Bearer {}", stack.owner_token()))
        .header("cookie", "portos_session=x")
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a cross-origin pause");
    assert_eq!(api.get("/api/autofixer").await["enabled"], true);

    // The 5560 page, logged in: sessions of ours and the original's, the status.
    let fixer_ui = format!("http://127.0.0.1:{}", ports.fixer_ui);
    let owner = stack.owner_token();
    let (browser, _profile) = chromium().await;
    let page = browser.new_page("about:blank").await.unwrap();
    let console = watch_console(&page).await;
    page.goto(format!("{fixer_ui}/login?token={owner}"))
        .await
        .unwrap();
    until(
        &page,
        "the history",
        15,
        "document.querySelectorAll('#history button').length >= 2",
    )
    .await;
    let list = eval(&page, "document.getElementById('history').textContent").await;
    let list = list.as_str().unwrap();
    assert!(list.contains("buggy-web - Buggy"), "{list}");
    assert!(list.contains("legacy-web - Legacy"), "{list}");
    assert!(list.contains("Fixed successfully"), "{list}");
    eval(
        &page,
        &format!(
            "document.querySelector('[data-session=\"{}\"]').click(); true",
            s["sessionId"].as_str().unwrap()
        ),
    )
    .await;
    let shown = until(&page, "the session", 10, "(() => { const e = document.getElementById('session'); return e.hidden ? null : e.textContent })()").await;
    let shown = shown.as_str().unwrap();
    assert!(shown.contains("server.py"), "{shown}");
    assert!(shown.contains("fixer: set BUG = False"), "{shown}");
    assert!(shown.contains("boom: BUG is set"), "{shown}");
    // On a phone: one column, nothing wider than the screen.
    page.execute(SetDeviceMetricsOverrideParams::new(390, 844, 3.0, true))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fits = eval(
        &page,
        "document.documentElement.scrollWidth <= window.innerWidth",
    )
    .await;
    assert_eq!(fits, true, "the autofixer page is wider than a phone");
    page.execute(ClearDeviceMetricsOverrideParams::default())
        .await
        .unwrap();
    shoot(&page, "autofixer-history").await;
    until(
        &page,
        "the process list",
        15,
        "!!document.querySelector('#procs button[data-name=\"buggy-web\"]')",
    )
    .await;
    assert_eq!(
        eval(&page, "document.getElementById('fixer-state').textContent").await,
        "watching"
    );
    // Its live logs: the crash loop's lines arrive over SSE.
    eval(
        &page,
        "document.querySelector('#procs button[data-name=\"buggy-web\"]').click(); true",
    )
    .await;
    until(
        &page,
        "live log lines",
        15,
        "document.getElementById('log').textContent.includes('boom')",
    )
    .await;
    let errors = console.lock().unwrap().clone();
    assert!(
        errors.is_empty(),
        "autofixer page: console errors: {errors:?}"
    );

    // Cross-origin changes on 5560 are refused; the original's entry is served as it is.
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = http
        .get(format!("{fixer_ui}/login?token={owner}"))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let r = http
        .post(format!("{fixer_ui}/api/fix/buggy-web"))
        .header("cookie", &cookie)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(format!("{fixer_ui}/api/stop/sshd"))
        .header("cookie", &cookie)
        .header("origin", &fixer_ui)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "only an app's process may be stopped here");
    let r = http
        .get(format!("{fixer_ui}/logs?process=sshd"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "only an app's process's logs");
    let r = http
        .get(format!("{fixer_ui}/api/history"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the history needs the login");
    let history: Vec<Value> = http
        .get(format!("{fixer_ui}/api/history"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let original: Vec<Value> = serde_json::from_str(ORIGINAL_INDEX).unwrap();
    assert_eq!(
        history.last(),
        original.last(),
        "the original's entry changed"
    );

    // A failing agent, started by "fix now": recorded failed, the process left
    // as it was, and said on the live socket.
    let mut ws = api.ws().await;
    ws.send(Message::Text(r#"{"event":"errors:subscribe"}"#.into()))
        .await
        .unwrap();
    std::fs::write(stack.dir.path().join("mode"), "fail").unwrap();
    let fix_now = |process: &'static str| {
        let http = http.clone();
        let (cookie, base) = (cookie.clone(), fixer_ui.clone());
        async move {
            http.post(format!("{base}/api/fix/{process}"))
                .header("cookie", cookie)
                .header("origin", base.as_str())
                .send()
                .await
                .unwrap()
        }
    };
    let r = fix_now("buggy-web").await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let s = next_session(&stack, 12, 30);
    assert_eq!(s["success"], false, "{s}");
    assert_eq!(s["status"], "failed", "{s}");
    assert!(
        s["verdict"].as_str().unwrap().contains("agent failed"),
        "{s}"
    );
    assert!(
        std::fs::read_to_string(app.join("server.py"))
            .unwrap()
            .contains("BUG = True")
    );
    // No loop: the crash loop goes on, and no fix starts by itself in the backoff.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        index(&stack).len(),
        13,
        "a fix started again after a failed one"
    );

    let notified = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(m)) = ws.next().await {
            let Message::Text(t) = m else { continue };
            let e: Value = serde_json::from_str(t.as_str()).unwrap();
            if e["event"] == "error:notified" && e["data"]["code"] == "AUTOFIX_FAILED" {
                return e;
            }
        }
        panic!("the socket closed");
    })
    .await
    .expect("the failed fix on the errors channel");
    assert!(notified.to_string().contains("buggy-web"), "{notified}");

    // An agent that overruns its limit: stopped, recorded failed.
    std::fs::write(stack.dir.path().join("mode"), "hang").unwrap();
    assert_eq!(fix_now("buggy-web").await.status(), 200);
    let s = next_session(&stack, 13, 30);
    assert_eq!(s["status"], "failed", "{s}");
    assert!(s["verdict"].as_str().unwrap().contains("timed out"), "{s}");

    // kill -9 of the autofixer mid-fix: the session is closed as interrupted on its return.
    assert_eq!(fix_now("buggy-web").await.status(), 200);
    let running = wait_for(Duration::from_secs(10), "a fix running", || {
        let ids: Vec<String> = serde_json::from_str(
            &std::fs::read_to_string(stack.data.join("autofixer/running.json")).ok()?,
        )
        .ok()?;
        ids.first().cloned()
    });
    let fixer = stack.pid_of("portos-autofixer").unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(fixer),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let s = next_session(&stack, 14, 30);
    assert_eq!(s["sessionId"], running.as_str());
    assert_eq!(s["status"], "interrupted", "{s}");
    assert_eq!(s["success"], false);

    // The worktree mode: the fix lands on a branch of its own, the owner's
    // checkout and the running process untouched.
    std::fs::remove_file(stack.dir.path().join("mode")).unwrap();
    let mut wt = config.clone();
    wt["worktree"] = json!(true);
    let _ = set_config(&stack, ports.fixer, wt);
    assert_eq!(fix_now("buggy-web").await.status(), 200);
    let s = next_session(&stack, 15, 30);
    assert_eq!(s["status"], "proposed", "{s}");
    let branch = format!("autofixer/{}", s["sessionId"].as_str().unwrap());
    assert!(s["verdict"].as_str().unwrap().contains(&branch), "{s}");
    assert!(s["diffStat"].as_str().unwrap().contains("server.py"), "{s}");
    let proposed = portos_test_support::git(&app, &["show", &format!("{branch}:server.py")]);
    assert!(proposed.contains("BUG = False"), "{proposed}");
    assert!(
        std::fs::read_to_string(app.join("server.py"))
            .unwrap()
            .contains("BUG = True")
    );
    assert!(
        portos_test_support::git(&app, &["status", "--porcelain"])
            .trim()
            .is_empty()
    );
    assert!(
        !stack
            .data
            .join("autofixer/worktrees")
            .join(s["sessionId"].as_str().unwrap())
            .exists()
    );
    drop(browser);
}
