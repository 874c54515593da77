//! HTTPS for the phone: with `[tls]` in `supervisor.toml` (a certificate from a
//! private CA made by the test), the UI and the api server answer https on
//! their own ports while plain HTTP on loopback keeps working (the probes, the
//! UI's calls to the api); Chromium logs in over https, its session cookie is
//! `Secure`, the live socket runs over wss; `portos pair` prints the https link.

use std::time::Duration;

use portos_e2e::{Stack, free_port};
use portos_test_support::PrivateCa;

use crate::ui::{chromium_with, eval, until};

#[test]
fn the_pages_and_the_api_answer_https_and_the_session_cookie_is_secure() {
    let (api, ui) = (free_port(), free_port());
    let ca = PrivateCa::new();
    let table = crate::ui::api_and_ui(api, ui)
        .replace(
            "command = \"portos-api\"\n",
            "command = \"portos-api\"\ntls = true\n",
        )
        .replace(
            "command = \"portos-ui\"\n",
            "command = \"portos-ui\"\ntls = true\n",
        );
    let stack = Stack::new(&format!(
        "[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n\n{table}"
    ));
    std::fs::write(stack.dir.path().join("cert.pem"), &ca.cert_pem).unwrap();
    std::fs::write(stack.dir.path().join("key.pem"), &ca.key_pem).unwrap();
    let up = stack.ok(&["up", "-d"]);
    assert!(
        up.contains("log in: https://localhost:5555/login?token="),
        "{up}"
    );
    let pair = stack.ok(&["pair", "--host", "127.0.0.1", "--port", &ui.to_string()]);
    assert!(
        pair.contains(&format!("https://127.0.0.1:{ui}/login?token=")),
        "{pair}"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // A client that connects and says nothing holds up no one.
        let _silent = tokio::net::TcpStream::connect(("127.0.0.1", ui)).await.unwrap();
        // A client that trusts the CA: https on both ports; plain http still answers.
        let trusting = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .add_root_certificate(reqwest::Certificate::from_pem(ca.ca_pem.as_bytes()).unwrap())
            .build()
            .unwrap();
        for port in [ui, api] {
            let r = trusting
                .get(format!("https://127.0.0.1:{port}/healthz"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("https on {port}: {e}"));
            assert_eq!(r.status(), 200, "{port}");
            let plain = reqwest::Client::builder().no_proxy().build().unwrap();
            let r = plain.get(format!("http://127.0.0.1:{port}/healthz")).send().await.unwrap();
            assert_eq!(r.status(), 200, "plain on {port}");
        }
        // A client that does not trust it gets no answer over https.
        let strict = reqwest::Client::builder().no_proxy().build().unwrap();
        assert!(strict.get(format!("https://127.0.0.1:{ui}/healthz")).send().await.is_err());

        // Chromium (told to accept the test's certificate) logs in over https.
        let (mut browser, _profile) = chromium_with(&["--ignore-certificate-errors"]).await;
        let page = browser.new_page("about:blank").await.unwrap();
        let base = format!("https://127.0.0.1:{ui}");
        page.goto(format!("{base}/login?token={}", stack.owner_token())).await.unwrap();
        until(&page, "the dashboard over https", 15, "document.body.dataset.page === 'dashboard'").await;
        assert_eq!(eval(&page, "location.protocol").await, "https:");
        until(&page, "the live socket over wss", 15, "document.getElementById('offline').hidden && document.getElementById('dash-summary').textContent.includes('healthy')").await;
        let cookies = page.get_cookies().await.unwrap();
        let session = cookies.iter().find(|c| c.name == "portos_session").expect("a session cookie");
        assert!(session.secure && session.http_only, "{session:?}");
        // A change through the page works from its own https origin.
        let status = eval(&page, "fetch('/api/settings', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ httpsMarker: 1 }) }).then(r => r.status)").await;
        assert_eq!(status, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
        browser.close().await.ok();
    });
}

/// A stand-in for the `tailscale` CLI (Tailscale is an internet service the
/// tests cannot reach), following its documented commands: `status --json`
/// names this machine, `cert --cert-file F --key-file K NAME` writes the
/// certificate and key; each call is logged.
fn fake_tailscale(dir: &std::path::Path, ca: &PrivateCa) -> std::path::PathBuf {
    let bin = dir.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(dir.join("ts.crt"), &ca.cert_pem).unwrap();
    std::fs::write(dir.join("ts.key"), &ca.key_pem).unwrap();
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> {log}\ncase \"$1\" in\n\
         status) echo '{{\"Self\": {{\"DNSName\": \"box.tail1234.ts.net.\"}}}}' ;;\n\
         cert) cp {crt} \"$3\"; cp {key} \"$5\" ;;\n\
         *) exit 1 ;;\nesac\n",
        log = dir.join("tailscale.log").display(),
        crt = dir.join("ts.crt").display(),
        key = dir.join("ts.key").display(),
    );
    let path = bin.join("tailscale");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn tailscale_issues_the_certificate_when_portos_starts() {
    let (api, ui) = (free_port(), free_port());
    let ca = PrivateCa::new();
    let table = crate::ui::api_and_ui(api, ui).replace(
        "command = \"portos-ui\"\n",
        "command = \"portos-ui\"\ntls = true\n",
    );
    let stack = Stack::new(&format!("[tls]\ntailscale = true\n\n{table}"));
    let bin = fake_tailscale(stack.dir.path(), &ca);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let portos = |args: &[&str]| {
        let out = std::process::Command::new(portos_e2e::bin("portos"))
            .arg("--config")
            .arg(&stack.config)
            .arg("--data-dir")
            .arg(&stack.data)
            .args(args)
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    portos(&["up", "-d"]);
    let calls = std::fs::read_to_string(stack.dir.path().join("tailscale.log")).unwrap();
    assert!(
        calls.contains("cert --cert-file") && calls.contains("box.tail1234.ts.net"),
        "{calls}"
    );
    let key = stack.data.join("tls/box.tail1234.ts.net.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let pair = portos(&["pair", "--port", &ui.to_string()]);
    assert!(
        pair.contains(&format!("https://box.tail1234.ts.net:{ui}/login?token=")),
        "{pair}"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let trusting = reqwest::Client::builder()
            .no_proxy()
            .add_root_certificate(reqwest::Certificate::from_pem(ca.ca_pem.as_bytes()).unwrap())
            .build()
            .unwrap();
        let r = trusting
            .get(format!("https://127.0.0.1:{ui}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
    // A reload keeps the certificate (the supervisor finds it in the data dir).
    let ui_pid = stack.pid_of("portos-ui");
    let out = portos(&["reload"]);
    assert!(out.contains("unchanged: portos-server, portos-ui"), "{out}");
    assert_eq!(stack.pid_of("portos-ui"), ui_pid);
}
