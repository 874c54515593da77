//! The web shell through the real stack in real Chromium: browser → UI
//! (5555) → api (`/ws`) → runner (gRPC) → PTY and back. A session outlives
//! a reload and an api server restart, a second page of the same login sees
//! the same screen, another login can neither see, attach nor type, a flood
//! of output leaves the page responsive and the servers' memory bounded, and
//! closing ends the shell's whole session.

use std::time::{Duration, Instant};

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use futures_util::{SinkExt, StreamExt};
use portos_e2e::{Stack, alive, free_port, rss_kib, wait_for};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::ui::{chromium, eval, shoot, until};

/// The terminal's whole buffer (scrollback and screen) as text.
const SCREEN: &str = "(() => { const b = window.portosTerm.buffer.active; const out = []; \
    for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true)); \
    return out.join('\\n'); })()";

async fn type_line(page: &Page, line: &str) {
    let js = format!(
        "window.portosTerm.input({}, true)",
        json!(format!("{line}\r"))
    );
    eval(page, &js).await;
}

async fn screen_has(page: &Page, what: &str, text: &str, secs: u64) {
    until(
        page,
        what,
        secs,
        &format!("{SCREEN}.includes({})", json!(text)),
    )
    .await;
}

/// Processes whose session is `sid`.
fn session_members(sid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After the command's closing parenthesis: state, ppid, pgrp, session.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() > 3 && f[0] != "Z" && f[3].parse() == Ok(sid) {
            out.push(pid);
        }
    }
    out
}

/// A socket to the api server as another login (the owner token, not the
/// browser's session): what it says, and the events it gets for a while.
async fn other_login(api: u16, token: &str, sends: &[Value]) -> Vec<Value> {
    let mut req = format!("ws://127.0.0.1:{api}/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    for m in sends {
        ws.send(Message::Text(m.to_string().into())).await.unwrap();
    }
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout_at(deadline, ws.next()).await {
        got.push(serde_json::from_str(t.as_str()).unwrap());
    }
    got
}

#[test]
fn a_terminal_in_the_browser_survives_a_reload_and_an_api_restart() {
    let (api, ui, runner) = (free_port(), free_port(), free_port());
    let stack = Stack::new(&format!(
        "[[process]]\nname = \"portos-cos\"\ncommand = \"portos-runner\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{runner}\" }}\nports = {{ api = {runner} }}\n\
         health = {{ check = \"grpc\", interval = \"200ms\" }}\n\n\
         [[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\", PORTOS_PROVIDER_CHECK_SECS = \"3600\", PORTOS_RUNNER_URL = \"http://127.0.0.1:{runner}\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n\n\
         [[process]]\nname = \"portos-ui\"\ncommand = \"portos-ui\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{ui}\", PORTOS_API_PORT = \"{api}\" }}\n\
         ports = {{ ui = {ui} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n"
    ));
    stack.ok(&["up", "-d"]);
    let base = format!("http://127.0.0.1:{ui}");
    let owner = stack.owner_token();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (mut browser, _profile) = chromium().await;
        let page = browser.new_page("about:blank").await.unwrap();
        page.goto(format!("{base}/login?token={owner}")).await.unwrap();
        until(&page, "the dashboard", 10, "document.body.dataset.page === 'dashboard'").await;
        page.goto(format!("{base}/shell")).await.unwrap();
        until(&page, "a session", 15, "!!(window.portosShell && window.portosShell.current)").await;
        type_line(&page, "echo hi; tty").await;
        screen_has(&page, "the shell's pty", "/dev/pts/", 10).await;
        let text = eval(&page, SCREEN).await;
        assert!(text.as_str().unwrap().lines().any(|l| l.trim() == "hi"), "{text}");
        let id = eval(&page, "window.portosShell.current").await;

        // A reload: the same session, `hi` still on the screen.
        page.reload().await.unwrap();
        until(&page, "the session again", 15, &format!("window.portosShell && window.portosShell.current === {id}")).await;
        screen_has(&page, "hi after the reload", "/dev/pts/", 10).await;

        // A second page of the same login sees the same screen.
        let second = browser.new_page(format!("{base}/shell")).await.unwrap();
        until(&second, "the second page on the session", 15, &format!("window.portosShell && window.portosShell.current === {id}")).await;
        screen_has(&second, "the same screen on the second page", "/dev/pts/", 10).await;
        type_line(&second, "echo from-the-second").await;
        screen_has(&page, "the second page's typing on the first", "from-the-second", 10).await;
        second.close().await.unwrap();

        // Another login: no list, no attach, no typing.
        let sid = id.as_str().unwrap();
        let got = other_login(api, &owner, &[
            json!({ "event": "shell:list" }),
            json!({ "event": "shell:attach", "data": { "sessionId": sid } }),
            json!({ "event": "shell:input", "data": { "sessionId": sid, "data": "echo INTRUDER\r" } }),
        ]).await;
        let list = got.iter().find(|m| m["event"] == "shell:list").expect("a list");
        assert_eq!(list["data"]["sessions"], json!([]), "{got:?}");
        let refusals: Vec<&Value> = got.iter().filter(|m| m["event"] == "shell:error").collect();
        assert_eq!(refusals.len(), 2, "{got:?}");
        assert!(refusals.iter().all(|m| m["data"]["code"] == "NOT_YOUR_SESSION"), "{got:?}");
        assert!(!got.iter().any(|m| m["event"] == "shell:screen" || m["event"] == "shell:output"), "{got:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let text = eval(&page, SCREEN).await;
        assert!(!text.as_str().unwrap().contains("INTRUDER"), "another login typed: {text}");

        // The api server restarts: the session goes on.
        let attaches = eval(&page, "window.portosShell.attaches").await;
        stack.ok(&["restart", "portos-server"]);
        until(&page, "the page back on the session", 20, &format!("live.online && window.portosShell.current === {id} && window.portosShell.attaches > {attaches}")).await;
        type_line(&page, "echo after-restart").await;
        screen_has(&page, "output after the restart", "after-restart", 15).await;

        // A smaller window: the terminal fits it, and the shell knows.
        page.execute(SetDeviceMetricsOverrideParams::new(700, 600, 1.0, false)).await.unwrap();
        until(&page, "the terminal refitted", 10, "window.portosTerm.cols < 90").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (cols, rows) = (eval(&page, "window.portosTerm.cols").await, eval(&page, "window.portosTerm.rows").await);
        type_line(&page, "stty size").await;
        screen_has(&page, "stty's new size", &format!("{rows} {cols}"), 10).await;

        // A flood: the page answers, memory stays bounded, `done` arrives whole.
        let pid_of = |name: &str| stack.pid_of(name).unwrap();
        let (runner_pid, api_pid) = (pid_of("portos-cos"), pid_of("portos-server"));
        let before = (rss_kib(runner_pid), rss_kib(api_pid));
        type_line(&page, "yes | head -c 20000000; echo do''ne").await;
        let started = Instant::now();
        let mut peak = before;
        let mut slowest_eval = Duration::ZERO;
        loop {
            let t = Instant::now();
            let text = eval(&page, SCREEN).await;
            slowest_eval = slowest_eval.max(t.elapsed());
            peak = (peak.0.max(rss_kib(runner_pid)), peak.1.max(rss_kib(api_pid)));
            if text.as_str().unwrap().lines().any(|l| l.trim() == "done") {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "no `done` after the flood");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        println!(
            "flood of 20 MB: {:?}; RSS KiB runner {} → peak {}, api {} → peak {}; slowest page answer {slowest_eval:?}",
            started.elapsed(), before.0, peak.0, before.1, peak.1
        );
        assert!(peak.0 < before.0 + 200 * 1024 && peak.1 < before.1 + 200 * 1024, "memory grew with the flood: {before:?} → {peak:?}");
        // Attaching after the flood: its last screen, with 5000 lines of scrollback.
        page.reload().await.unwrap();
        until(&page, "the session after the flood", 15, &format!("window.portosShell && window.portosShell.current === {id}")).await;
        until(&page, "the screen after the flood", 15, &format!("{SCREEN}.split('\\n').some((l) => l.trim() === 'done')")).await;
        let lines = eval(&page, "window.portosTerm.buffer.active.length").await;
        assert!(lines.as_u64().unwrap() > 1000, "the scrollback came with the screen: {lines}");
        shoot(&page, "shell").await;

        // A command under the terminal: its output streamed onto the page; a
        // refused one says why.
        eval(&page, "document.getElementById('cmd-input').value = 'echo \"from the page\"'; document.getElementById('cmd-run').click(); true").await;
        until(&page, "the command's output", 15, "document.getElementById('cmd-out').textContent === 'from the page\\n' && document.getElementById('cmd-state').textContent.startsWith('finished')").await;
        shoot(&page, "shell-command").await;
        eval(&page, "document.getElementById('cmd-input').value = 'rm -rf /'; document.getElementById('cmd-run').click(); true").await;
        until(&page, "the refusal", 15, "document.getElementById('cmd-state').textContent === \"Command 'rm' is not in the allowlist\"").await;

        // Close: the shell and everything of its session are gone.
        let pid = wait_for(Duration::from_secs(5), "the shell's pid", || {
            let sessions = std::fs::read_dir("/proc").ok()?;
            sessions.flatten().find_map(|e| {
                let pid: i32 = e.file_name().to_string_lossy().parse().ok()?;
                let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
                let ours = env.split(|b| *b == 0).any(|v| v == b"TERM=xterm-256color")
                    && std::fs::read_link(format!("/proc/{pid}/fd/0")).ok()?.to_string_lossy().starts_with("/dev/pts/")
                    && session_members(pid).contains(&pid);
                let parent_is_runner = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?
                    .rsplit_once(')')?.1.split_whitespace().nth(1)?.parse::<i32>().ok()? == runner_pid;
                (ours && parent_is_runner).then_some(pid)
            })
        });
        type_line(&page, "sleep 10000 & sleep 10001 &").await;
        wait_for(Duration::from_secs(5), "the background jobs", || (session_members(pid).len() >= 3).then_some(()));
        eval(&page, "document.querySelector('#shell-close').click()").await;
        screen_has(&page, "the exit on the page", "[Shell exited", 10).await;
        wait_for(Duration::from_secs(5), "the session's processes gone", || {
            (!alive(pid) && session_members(pid).is_empty()).then_some(())
        });
        browser.close().await.unwrap();
    });
}
