//! The browser host under the real supervisor, with Debian's real Chromium:
//! the original's health contract, a page served here on 127.0.0.1 loaded,
//! screenshotted (its colour checked in the saved PNG) and scripted, a cookie
//! kept across a relaunch of Chromium in the same profile, `kill -9` of
//! Chromium answered by the host itself (the supervisor restarts nothing), and
//! the DevTools port reachable on loopback only. Without Chromium the host
//! stays up and says why.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use axum::response::IntoResponse;
use portos_e2e::{Stack, free_port, wait_for};
use portos_proto::browser::v1 as pb;
use portos_rt::internal::{Auth, Authed};
use serde_json::{Value, json};

use crate::http::Api;

/// The test page's background, as the screenshot must show it.
const COLOUR: [u8; 3] = [18, 200, 90];

fn browser_stack(extra_env: &str) -> (Stack, u16, u16) {
    let (port, cdp) = (free_port(), free_port());
    let stack = Stack::new(&format!(
        "[[process]]\nname = \"portos-browser\"\ncommand = \"portos-browser\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{port}\", CDP_HOST = \"127.0.0.1\", CDP_PORT = \"{cdp}\"{extra_env} }}\n\
         ports = {{ cdp = {cdp}, health = {port} }}\n\
         health = {{ check = \"http\", port = \"health\", path = \"/healthz\", start_period = \"15s\" }}\n"
    ));
    (stack, port, cdp)
}

/// `GET http://127.0.0.1:<port><path>` → (status, JSON body; null when not JSON).
fn get(port: u16, path: &str) -> (u16, serde_json::Value) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let r = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
            .await
            .unwrap_or_else(|e| panic!("GET {path} on {port}: {e}"));
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    })
}

/// A client of the host's gRPC API, with the stack's internal token.
async fn client(port: u16, token: &str) -> pb::browser_client::BrowserClient<Authed> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    pb::browser_client::BrowserClient::with_interceptor(channel, Auth::new(Some(token)))
}

/// A page on 127.0.0.1 filled with [`COLOUR`] that sets a lasting cookie.
async fn serve_test_page() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let page = || async {
        let [r, g, b] = COLOUR;
        (
            [
                ("content-type", "text/html; charset=utf-8"),
                ("set-cookie", "portos_test=kept; Max-Age=86400; Path=/"),
            ],
            format!(
                "<!doctype html><html><head><title>PortOS test page</title></head>\
                 <body style=\"margin:0;background:rgb({r},{g},{b});height:2000px\">\
                 <h1 id=\"h\" style=\"display:none\">hello</h1></body></html>"
            ),
        )
            .into_response()
    };
    let app = axum::Router::new().route("/", axum::routing::get(page));
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

fn connects(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

#[test]
fn the_browser_host_drives_a_real_chromium_and_keeps_it_alive() {
    let (stack, port, cdp) = browser_stack("");
    stack.ok(&["up", "-d"]);
    let token = stack.internal_token();
    let rt = tokio::runtime::Runtime::new().unwrap();
    wait_for(Duration::from_secs(30), "the browser host healthy", || {
        (get(port, "/health").0 == 200).then_some(())
    });

    // The original's contract on the health port.
    let (_, health) = get(port, "/health");
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["cdpPort"], cdp);
    assert_eq!(health["cdpHost"], "127.0.0.1");
    assert_eq!(health["cdpEndpoint"], format!("ws://127.0.0.1:{cdp}"));
    assert_eq!(health["headless"], true);
    let (_, about) = get(port, "/");
    assert_eq!(about["service"], "portos-browser");
    assert_eq!(about["healthPort"], port);
    assert_eq!(about["endpoints"]["health"], "/health");
    // Chromium's /json/version on 5556, and the same through 5557.
    let (code, direct) = get(cdp, "/json/version");
    assert_eq!(code, 200);
    assert!(
        direct["Browser"].as_str().unwrap().contains("Chrome/"),
        "{direct}"
    );
    let (code, through) = get(port, "/json/version");
    assert_eq!(code, 200);
    assert_eq!(through["Browser"], direct["Browser"]);
    assert_eq!(
        through["webSocketDebuggerUrl"],
        direct["webSocketDebuggerUrl"]
    );

    // The DevTools port listens on loopback only.
    assert!(connects(SocketAddr::from(([127, 0, 0, 1], cdp))));
    assert!(
        !connects(SocketAddr::from(([127, 0, 0, 2], cdp))),
        "CDP answered on 127.0.0.2"
    );
    // Not reachable from the LAN: every socket listening on the port is bound
    // to loopback (read from the socket table; no traffic leaves this machine).
    let bound = portos_e2e::listening_addresses(cdp);
    assert!(!bound.is_empty(), "nothing listens on {cdp}");
    assert!(
        bound.iter().all(std::net::IpAddr::is_loopback),
        "CDP listens on {bound:?}"
    );

    let page_port = rt.block_on(serve_test_page());
    let page_url = format!("http://127.0.0.1:{page_port}/");
    let status = rt.block_on(async {
        let mut c = client(port, &token).await;
        let tab = c
            .navigate(pb::NavigateRequest {
                url: page_url.clone(),
                tab_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(tab.url, page_url);
        assert_eq!(tab.title, "PortOS test page");
        let tabs = c
            .list_tabs(pb::ListTabsRequest {})
            .await
            .unwrap()
            .into_inner()
            .tabs;
        assert!(tabs.iter().any(|t| t.id == tab.id), "{tabs:?}");
        let title = c
            .evaluate(pb::EvaluateRequest {
                expression: "document.title + ' ' + document.getElementById('h').textContent"
                    .into(),
                tab_id: tab.id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(title.json, "\"PortOS test page hello\"");
        let thrown = c
            .evaluate(pb::EvaluateRequest {
                expression: "nope.nothing".into(),
                tab_id: tab.id.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(thrown.code(), tonic::Code::FailedPrecondition);
        assert!(thrown.message().contains("nope"), "{}", thrown.message());
        let refused = c
            .navigate(pb::NavigateRequest {
                url: "file:///etc/passwd".into(),
                tab_id: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        let cookies = c
            .get_cookies(pb::GetCookiesRequest {
                urls: vec![page_url.clone()],
            })
            .await
            .unwrap()
            .into_inner()
            .cookies;
        assert!(
            cookies
                .iter()
                .any(|k| k.name == "portos_test" && k.value == "kept" && !k.session),
            "{cookies:?}"
        );
        c.status(pb::StatusRequest {}).await.unwrap().into_inner()
    });
    assert!(
        status.serving && status.launches == 1 && status.pid > 0,
        "{status:?}"
    );
    assert!(status.tab_count >= 1);

    // A screenshot through a gRPC client we did not write (Python, by reflection).
    // Without the internal token, a client we did not write gets no script run
    // and no cookie: UNAUTHENTICATED (reflection and health stay open to it).
    for (method, request) in [
        ("Evaluate", r#"{"expression": "document.cookie"}"#),
        ("GetCookies", "{}"),
    ] {
        let refused = portos_e2e::python_grpc_with(
            None,
            &[
                &format!("127.0.0.1:{port}"),
                "portos.browser.v1.Browser",
                method,
                request,
            ],
        );
        assert_eq!(refused["health"], "SERVING", "{refused}");
        assert_eq!(refused["error"]["code"], "UNAUTHENTICATED", "{refused}");
        assert!(refused.get("response").is_none(), "{refused}");
    }
    let shot = portos_e2e::python_grpc_with(
        Some(&token),
        &[
            &format!("127.0.0.1:{port}"),
            "portos.browser.v1.Browser",
            "Screenshot",
            r#"{"filename": "test-page", "fullPage": true}"#,
        ],
    );
    assert_eq!(shot["health"], "SERVING");
    let shot = &shot["response"];
    assert_eq!(shot["filename"], "test-page.png");
    let file = stack.data.join("screenshots/test-page.png");
    assert_eq!(shot["path"], file.display().to_string());
    let bytes = std::fs::read(&file).expect("the screenshot is saved");
    assert!(bytes.len() > 100);
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert!(info.height >= 2000, "full page: {} px high", info.height);
    let channels = info.line_size / info.width as usize;
    for (x, y) in [
        (5, 5),
        (info.width / 2, info.height / 2),
        (info.width - 5, info.height - 5),
    ] {
        let at = y as usize * info.line_size + x as usize * channels;
        assert_eq!(&buf[at..at + 3], &COLOUR, "pixel at {x},{y}");
    }

    // Close: Chromium ends cleanly, health says so; Launch: the same profile, the cookie kept.
    let old_pid = status.pid;
    rt.block_on(async {
        let mut c = client(port, &token).await;
        let closed = c.close(pb::CloseRequest {}).await.unwrap().into_inner();
        assert!(!closed.serving && closed.closed_by_request, "{closed:?}");
        assert!(
            !portos_e2e::alive(old_pid as i32),
            "Chromium still runs after Close"
        );
    });
    let (code, health) = get(port, "/health");
    assert_eq!((code, health["status"].as_str()), (503, Some("unhealthy")));
    let status = rt.block_on(async {
        let mut c = client(port, &token).await;
        let launched = c.launch(pb::LaunchRequest {}).await.unwrap().into_inner();
        assert!(launched.serving && launched.launches == 2, "{launched:?}");
        let cookies = c
            .get_cookies(pb::GetCookiesRequest { urls: vec![] })
            .await
            .unwrap()
            .into_inner()
            .cookies;
        assert!(
            cookies
                .iter()
                .any(|k| k.name == "portos_test" && k.value == "kept"),
            "the cookie did not survive the relaunch: {cookies:?}"
        );
        launched
    });

    // kill -9 of Chromium: the host relaunches it; the supervisor restarts nothing.
    let host_pid = stack.pid_of("portos-browser").expect("host pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(status.pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let again = wait_for(Duration::from_secs(30), "Chromium relaunched", || {
        let s = rt.block_on(async {
            client(port, &token)
                .await
                .status(pb::StatusRequest {})
                .await
        });
        s.ok()
            .map(|s| s.into_inner())
            .filter(|s| s.serving && s.pid != status.pid && s.pid != 0)
    });
    assert_eq!(again.launches, 3);
    assert_eq!(get(port, "/health").0, 200);
    assert_eq!(get(cdp, "/json/version").0, 200);
    let p = stack.process("portos-browser");
    assert_eq!(p["restarts"], 0, "{p}");
    assert_eq!(stack.pid_of("portos-browser"), Some(host_pid));
}

#[test]
fn without_chromium_the_host_stays_up_and_says_why() {
    let empty = tempfile::tempdir().unwrap();
    let (stack, port, _cdp) = browser_stack(&format!(
        ", PATH = \"{}\", CHROME_PATH = \"\"",
        empty.path().display()
    ));
    // `up` says which process is not healthy, and why.
    let up = stack.portos(&["up", "-d", "--timeout", "20s"]);
    let said = String::from_utf8_lossy(&up.stderr);
    assert!(!up.status.success());
    assert!(
        said.contains("portos-browser is unhealthy: chromium not found"),
        "{said}"
    );
    let (code, health) = wait_for(Duration::from_secs(20), "health answering", || {
        let r = get(port, "/health");
        r.1["reason"]
            .as_str()
            .is_some_and(|s| s.contains("not found"))
            .then_some(r)
    });
    assert_eq!(code, 503);
    assert_eq!(health["status"], "unhealthy");
    let reason = health["reason"].as_str().unwrap();
    assert!(reason.starts_with("chromium not found at"), "{reason}");
    assert!(reason.contains("apt install chromium"), "{reason}");
    let (code, _) = get(port, "/json/version");
    assert_eq!(code, 503);

    let token = stack.internal_token();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut c = client(port, &token).await;
        let err = c
            .navigate(pb::NavigateRequest {
                url: "http://127.0.0.1:1/".into(),
                tab_id: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unavailable);
        assert!(
            err.message().contains("chromium not found"),
            "{}",
            err.message()
        );
        let s = c.status(pb::StatusRequest {}).await.unwrap().into_inner();
        assert!(
            !s.serving && s.reason.contains("chromium not found"),
            "{s:?}"
        );
        // Launch looks again at once, and says why it cannot.
        let err = c.launch(pb::LaunchRequest {}).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unavailable);
        assert!(
            err.message().contains("chromium not found"),
            "{}",
            err.message()
        );
        let mut h = tonic_health::pb::health_client::HealthClient::new(
            tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
                .unwrap()
                .connect()
                .await
                .unwrap(),
        );
        let status = h
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::NotServing as i32
        );
    });
    // No crash loop: the same host, never restarted.
    let pid = stack.pid_of("portos-browser");
    std::thread::sleep(Duration::from_secs(2));
    let p = stack.process("portos-browser");
    assert_eq!(p["restarts"], 0, "{p}");
    assert_eq!(stack.pid_of("portos-browser"), pid);
}

#[test]
fn the_api_server_drives_the_browser_through_the_host() {
    let (port, cdp, api_port) = (free_port(), free_port(), free_port());
    let stack = Stack::new(&format!(
        "[[process]]\nname = \"portos-browser\"\ncommand = \"portos-browser\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{port}\", CDP_PORT = \"{cdp}\" }}\n\
         ports = {{ health = {port} }}\n\
         health = {{ check = \"http\", port = \"health\", path = \"/healthz\", start_period = \"15s\" }}\n\n\
         [[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api_port}\", PORTOS_PROVIDER_CHECK_SECS = \"3600\" }}\n\
         ports = {{ api = {api_port} }}\n\
         health = {{ check = \"grpc\", interval = \"200ms\" }}\n"
    ));
    // Where the api server looks for the host: the config file, as in the original.
    std::fs::create_dir_all(&stack.data).unwrap();
    let config = stack.data.join("browser-config.json");
    std::fs::write(
        &config,
        format!(r#"{{"cdpPort": {cdp}, "cdpHost": "127.0.0.1", "healthPort": {port}, "autoConnect": true, "headless": true, "userDataDir": ""}}"#),
    )
    .unwrap();
    stack.ok(&["up", "-d"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let api = Api::new(api_port, &stack.owner_token());
        let health = api.get("/api/browser/health").await;
        assert_eq!(health["connected"], true, "{health}");
        assert_eq!(health["processRunning"], true);
        assert_eq!(health["cdpEndpoint"], format!("ws://127.0.0.1:{cdp}"));

        let page_port = serve_test_page().await;
        let page_url = format!("http://127.0.0.1:{page_port}/");
        let (code, tab) = api
            .post("/api/browser/navigate", json!({ "url": page_url }))
            .await;
        assert_eq!(code, 200, "{tab}");
        assert_eq!(tab["url"], page_url);
        assert_eq!(tab["type"], "page");
        for bad in [
            json!({ "url": "file:///etc/passwd" }),
            json!({}),
            json!({ "url": 3 }),
        ] {
            let (code, body) = api.post("/api/browser/navigate", bad.clone()).await;
            assert_eq!(
                (code, body["code"].as_str()),
                (400, Some("VALIDATION_ERROR")),
                "{bad}: {body}"
            );
        }
        let pages = api.get("/api/browser/pages").await;
        assert!(
            pages
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["id"] == tab["id"]),
            "{pages}"
        );

        // A screenshot of that tab lands among the screenshots.
        let (code, shot) = api
            .post(
                "/api/browser/screenshot",
                json!({ "tabId": tab["id"], "filename": "api-shot" }),
            )
            .await;
        assert_eq!(code, 200, "{shot}");
        assert_eq!(shot["url"], "/api/screenshots/api-shot.png");
        assert!(shot["width"].as_u64().unwrap() > 100);
        let listed = api.get("/api/screenshots").await;
        assert!(listed.to_string().contains("api-shot.png"), "{listed}");
        let (code, png) = api.bytes("/api/screenshots/api-shot.png").await;
        assert_eq!(code, 200);
        assert!(png.starts_with(b"\x89PNG"));
        let (code, body) = api
            .post(
                "/api/browser/screenshot",
                json!({ "filename": "../escape" }),
            )
            .await;
        assert_eq!(code, 400, "{body}");

        // Cookies are listed without their values.
        let cookies = api
            .get(&format!("/api/browser/cookies?url={page_url}"))
            .await;
        let c = cookies["cookies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "portos_test")
            .unwrap_or_else(|| panic!("{cookies}"));
        assert_eq!(c["valueLength"], 4);
        assert!(!cookies.to_string().contains("kept"), "{cookies}");

        let version = api.get("/api/browser/version").await;
        assert!(version["Browser"].as_str().unwrap().contains("Chrome/"));
        let process = api.get("/api/browser/process").await;
        assert_eq!(process["exists"], true, "{process}");
        assert!(process["pid"].as_u64().unwrap() > 0);
        let logs = api.get("/api/browser/logs?lines=200").await;
        assert!(
            logs["stderr"].as_str().unwrap().contains("Chromium ready"),
            "{logs}"
        );
        let all = api.get("/api/browser").await;
        assert_eq!(all["connected"], true);
        assert!(all["pageCount"].as_u64().unwrap() >= 1);
        assert_eq!(all["config"]["healthPort"], port);

        // Config: bad values are 400s naming the field and change nothing.
        let before = std::fs::read_to_string(&config).unwrap();
        for (bad, field) in [
            (json!({ "cdpHost": "0.0.0.0" }), "cdpHost"),
            (json!({ "headless": "yes" }), "headless"),
            (json!({ "cdpPort": 80 }), "cdpPort"),
            (json!({ "userDataDir": "/tmp/../etc" }), "userDataDir"),
            (json!({ "chromePath": "/no/such/chromium" }), "chromePath"),
        ] {
            let (code, body) = api.put("/api/browser/config", bad.clone()).await;
            assert_eq!(code, 400, "{bad}: {body}");
            assert!(body["error"].as_str().unwrap().contains(field), "{body}");
        }
        assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
        let (code, saved) = api
            .put(
                "/api/browser/config",
                json!({ "autoConnect": false, "unknown": 1 }),
            )
            .await;
        assert_eq!(code, 200, "{saved}");
        assert_eq!(saved["autoConnect"], false);
        assert!(saved.get("unknown").is_none());
        let on_disk: Value =
            serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
        assert_eq!(on_disk["autoConnect"], false);
        assert_eq!(on_disk["healthPort"], port);

        // A hand edit of `healthPort` does not move the host: the supervisor's
        // table says where it listens, and the api server looks there.
        let moved = std::fs::read_to_string(&config)
            .unwrap()
            .replace(&format!("\"healthPort\": {port}"), "\"healthPort\": 1");
        std::fs::write(&config, &moved).unwrap();
        let health = api.get("/api/browser/health").await;
        assert_eq!(
            (
                health["processRunning"].clone(),
                health["healthPort"].clone()
            ),
            (json!(true), json!(port)),
            "{health}"
        );
        std::fs::write(&config, &before).unwrap();

        // Stop closes Chromium and keeps it closed; launch brings it back.
        let (code, stopped) = api.post("/api/browser/stop", json!({})).await;
        assert_eq!(code, 200, "{stopped}");
        assert_eq!(stopped["connected"], false);
        assert_eq!(stopped["closedByRequest"], true);
        assert_eq!(api.get("/api/browser/pages").await, json!([]));
        let (code, _) = api
            .post("/api/browser/navigate", json!({ "url": page_url }))
            .await;
        assert_eq!(code, 503);
        let (code, launched) = api.post("/api/browser/launch", json!({})).await;
        assert_eq!(code, 200, "{launched}");
        assert_eq!(launched["connected"], true);
        let (code, restarted) = api.post("/api/browser/restart", json!({})).await;
        assert_eq!(code, 200, "{restarted}");
        assert_eq!(restarted["launches"], 3);
    });
}
