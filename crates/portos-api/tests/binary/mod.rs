//! The real `portos-api` binary for the tests that need a process of its own
//! (its logs, its environment): started on a free loopback port over a data
//! dir, and ready when `/healthz` answers.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Api {
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The owner token the server made (or found) in its data dir.
    #[allow(dead_code)] // read by the tests that call the binary as a script
    pub token: String,
}

/// Starts the binary with `envs` beside `HOST`, `PORT` and `PORTOS_DATA_DIR`;
/// its stdout and stderr are piped when `capture`, else discarded.
pub async fn start(data: &Path, envs: &[(&str, &str)], capture: bool) -> Api {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = || {
        if capture {
            Stdio::piped()
        } else {
            Stdio::null()
        }
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_portos-api"))
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("PORTOS_DATA_DIR", data)
        .envs(envs.iter().copied())
        .stdout(out())
        .stderr(out())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..400 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            let token = std::fs::read_to_string(data.join("auth/owner-token"))
                .unwrap_or_default()
                .trim()
                .to_string();
            return Api { child, base, token };
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("portos-api did not come up on {base}");
}
