//! Security by default, through the real binaries and a real Chromium: a
//! logged-in browser that opens another site's page (served here on another
//! port: the same site for cookies) cannot be made to change anything; stored
//! files run no script; rotating the token ends the session; and no secret
//! stands on a command line, in a log or in a data file but its own.

use std::time::Duration;

use axum::response::{Html, IntoResponse};
use portos_e2e::{Stack, free_port};
use serde_json::json;

use crate::http::Api;
use crate::ui::{chromium, eval, until};

/// The other site: a page that tries every way to act through the owner's
/// browser — a no-cors fetch POST, a form POST and a WebSocket to the UI and
/// to the api server — and writes what it saw into its title.
fn evil_page(ui: u16, api: u16) -> String {
    format!(
        r#"<!doctype html><title>evil</title>
<iframe name="sink" style="display:none"></iframe>
<form id="f" method="POST" target="sink" action="http://127.0.0.1:{api}/api/processes/sleeper/stop"></form>
<script>
const seen = [];
const done = () => {{ document.title = 'done ' + seen.join(' '); }};
fetch('http://127.0.0.1:{ui}/api/processes/sleeper/stop', {{ method: 'POST', mode: 'no-cors', credentials: 'include' }}).catch(() => {{}});
fetch('http://127.0.0.1:{api}/api/uploads', {{ method: 'POST', mode: 'no-cors', credentials: 'include',
  headers: {{ 'content-type': 'text/plain' }}, body: JSON.stringify({{ filename: 'evil.txt', data: 'ZXZpbA==' }}) }}).catch(() => {{}});
document.getElementById('f').submit();
let pending = 2;
for (const url of ['ws://127.0.0.1:{ui}/ws', 'ws://127.0.0.1:{api}/ws']) {{
  const ws = new WebSocket(url);
  ws.onopen = () => {{ seen.push('open:' + url); ws.close(); }};
  ws.onclose = () => {{ if (--pending === 0) setTimeout(done, 1500); }};
}}
</script>"#
    )
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_logged_in_browser_is_safe_from_other_pages_and_stored_files() {
    let (api, ui) = (free_port(), free_port());
    let stack = Stack::new(
        &(crate::ui::api_and_ui(api, ui)
            + "[[process]]\nname = \"sleeper\"\ncommand = \"sh\"\nargs = [\"-c\", \"exec sleep 100000\"]\n"),
    );
    let up = stack.ok(&["up", "-d"]);
    let owner = stack.owner_token();
    assert!(
        up.contains(&format!("login?token={owner}")),
        "up prints the login link: {up}"
    );
    // `portos pair`: the same link for a given address, with its QR code.
    let pair = stack.ok(&["pair", "--host", "127.0.0.1", "--port", &ui.to_string()]);
    assert!(
        pair.contains(&format!("http://127.0.0.1:{ui}/login?token={owner}")),
        "{pair}"
    );
    assert!(
        pair.contains('█') || pair.contains('▀'),
        "a QR code: {pair}"
    );
    let sleeper = stack.pid_of("sleeper").unwrap();
    let base = format!("http://127.0.0.1:{ui}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let rest = Api::new(api, &owner);
        // Stored files that would run a script if a browser showed them as pages.
        let script = "<script>document.title='pwned';fetch('/api/processes/sleeper/stop',{method:'POST'})</script>";
        let mut stored = Vec::new();
        for (name, body) in [
            ("x.html", format!("<!doctype html><title>x</title>{script}")),
            ("x.svg", format!("<svg xmlns='http://www.w3.org/2000/svg'>{script}</svg>")),
        ] {
            use base64::Engine;
            let data = base64::engine::general_purpose::STANDARD.encode(body);
            let (st, r) = rest.post("/api/uploads", json!({ "filename": name, "data": data })).await;
            assert_eq!(st, 201, "{r}");
            stored.push(r["filename"].as_str().unwrap().to_string());
        }
        let uploads_before = rest.get("/api/uploads").await["count"].clone();

        // Another site on this machine, on its own port.
        let evil = {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let html = evil_page(ui, api);
            let app = axum::Router::new().route(
                "/",
                axum::routing::get(move || {
                    let html = html.clone();
                    async move { Html(html).into_response() }
                }),
            );
            tokio::spawn(async move { axum::serve(listener, app).await });
            port
        };

        let (browser, _profile) = chromium().await;
        let page = browser.new_page("about:blank").await.unwrap();
        page.goto(format!("{base}/login?token={owner}")).await.unwrap();
        until(&page, "the dashboard after login", 10, "document.body.dataset.page === 'dashboard'").await;

        // The stored files, opened in the logged-in browser: downloads, no script.
        for name in &stored {
            // A download is no navigation: the page stays, and goto may wait for nothing.
            let _ = tokio::time::timeout(
                Duration::from_secs(3),
                page.goto(format!("{base}/api/uploads/{name}")),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let title = eval(&page, "document.title").await;
            assert_ne!(title, "pwned", "{name} ran its script");
        }
        let other = browser.new_page("about:blank").await.unwrap();
        other.goto(format!("http://127.0.0.1:{evil}/")).await.unwrap();
        until(&other, "the other site's attempts", 20, "document.title.startsWith('done')").await;
        let seen = eval(&other, "document.title").await;
        assert_eq!(seen, "done", "a socket opened from another site: {seen}");
        tokio::time::sleep(Duration::from_millis(500)).await;

        // Nothing changed: the sleeper runs, nothing was uploaded.
        assert_eq!(stack.pid_of("sleeper"), Some(sleeper), "the sleeper was stopped");
        assert_eq!(rest.get("/api/uploads").await["count"], uploads_before, "an upload got through");

        // `portos token --rotate` ends the open session.
        let st = eval(&page, "fetch('/api/apps').then(r => r.status)").await;
        assert_eq!(st, json!(200));
        stack.ok(&["token", "--rotate"]);
        let st = eval(&page, "fetch('/api/apps').then(r => r.status)").await;
        assert_eq!(st, json!(401), "the session outlived the rotation");
        page.goto(format!("{base}/")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        until(&page, "the login page", 10, "document.body.textContent.includes('portos pair')").await;

        // A live socket through the UI with the session: a 2 MiB message closes
        // it (the UI's own limit is 1 MiB; the api server's, behind it, 64 KiB,
        // so this guards the whole path rather than the UI's limit alone).
        {
            use futures_util::{SinkExt, StreamExt};
            use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
            let no_redirect = reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let login = no_redirect
                .get(format!("{base}/login?token={}", stack.owner_token()))
                .send()
                .await
                .unwrap();
            assert_eq!(login.status(), 303);
            let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
            assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
            let session = cookie.split(';').next().unwrap().to_string();
            let mut req = format!("ws://127.0.0.1:{ui}/ws").into_client_request().unwrap();
            req.headers_mut().insert("cookie", session.parse().unwrap());
            req.headers_mut().insert("origin", base.parse().unwrap());
            let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
            ws.send(Message::Text("x".repeat(2 << 20).into())).await.ok();
            let ended = tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    match ws.next().await {
                        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                        Some(Ok(_)) => continue,
                    }
                }
            })
            .await;
            assert_eq!(ended, Ok(true), "a 2 MiB message left the socket open");
        }

        // Guessing links from one address is slowed down.
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        // (The UI's pages, the login page included, carry the strict CSP.)
        let r = http.get(format!("{base}/login")).send().await.unwrap();
        let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
        for part in ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"] {
            assert!(csp.contains(part), "{csp}");
        }
        assert_eq!(r.headers()["x-frame-options"], "DENY");
        let mut codes = Vec::new();
        for i in 0..7 {
            let r = http
                .get(format!("{base}/login?token=guess-{i}"))
                .send()
                .await
                .unwrap();
            codes.push(r.status().as_u16());
        }
        assert_eq!(codes[..5], [401; 5], "{codes:?}");
        assert!(codes[5..].iter().all(|c| *c == 429), "{codes:?}");
    });

    // No secret where it does not belong: no command line of any process, no
    // log line, no data file but the token's own (0600).
    let owner = stack.owner_token();
    let internal = stack.internal_token();
    for pid in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(pid.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline);
            for secret in [&owner, &internal] {
                assert!(
                    !cmdline.contains(secret.as_str()),
                    "a secret in {:?}: {cmdline}",
                    pid.path()
                );
            }
        }
    }
    let token_file = stack.data.join("auth/owner-token");
    for f in files_under(&stack.data) {
        let Ok(text) = std::fs::read(&f) else {
            continue;
        };
        let text = String::from_utf8_lossy(&text);
        for secret in [&owner, &internal] {
            if f != token_file {
                assert!(
                    !text.contains(secret.as_str()),
                    "a secret in {}",
                    f.display()
                );
            }
        }
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn the_open_mode_is_on_purpose_and_said_in_red() {
    let (api, ui) = (free_port(), free_port());
    let stack = Stack::new(&format!(
        "[env]\nPORTOS_AUTH = \"off\"\n\n\
         [[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\", PORTOS_PROVIDER_CHECK_SECS = \"3600\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n\n\
         [[process]]\nname = \"portos-ui\"\ncommand = \"portos-ui\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{ui}\", PORTOS_API_PORT = \"{api}\" }}\n\
         ports = {{ ui = {ui} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n"
    ));
    let up = stack.portos(&["up", "-d"]);
    assert!(up.status.success());
    let said = String::from_utf8_lossy(&up.stderr);
    assert!(said.contains("PORTOS_AUTH=off"), "up warns: {said}");
    let status = stack.portos(&["status"]);
    assert!(
        String::from_utf8_lossy(&status.stderr).contains("PORTOS_AUTH=off"),
        "status warns"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        // No credential asked, as the original...
        let r = http
            .get(format!("http://127.0.0.1:{api}/api/apps"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page = http
            .get(format!("http://127.0.0.1:{ui}/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("PORTOS_AUTH=off"), "every page says so");
        // ...but another origin still changes nothing.
        let r = http
            .post(format!(
                "http://127.0.0.1:{api}/api/processes/portos-ui/stop"
            ))
            .header("origin", "http://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    });
    assert!(stack.process("portos-ui")["state"] == "healthy");
}
