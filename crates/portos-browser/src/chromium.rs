//! The Chromium process: where its binary is, the flags it gets, how it stops.

use std::path::PathBuf;
use std::time::Duration;

/// The names looked up on `PATH`, in order, when no binary is configured.
const NAMES: [&str; 4] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

/// What to launch and how.
#[derive(Clone, Debug)]
pub struct LaunchSpec {
    pub binary: PathBuf,
    pub cdp_host: String,
    pub cdp_port: u16,
    pub headless: bool,
    pub profile_dir: PathBuf,
}

/// Finds the Chromium binary: `configured` (`chromePath` of the config, else
/// `CHROME_PATH`), else the usual names on `PATH`. The error is the reason shown
/// in health: where it looked and how to install it.
pub fn find(configured: Option<PathBuf>) -> Result<PathBuf, String> {
    const HINT: &str = "install it with `apt install chromium` (Debian/Ubuntu), or set `chromePath` in data/browser-config.json";
    if let Some(p) = configured {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("chromium not found at {}: {HINT}", p.display()))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    NAMES
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "chromium not found at PATH={} (looked for {}): {HINT}",
                path.to_string_lossy(),
                NAMES.join(", ")
            )
        })
}

/// Starts Chromium with its DevTools protocol on `cdp_host:cdp_port`, the given
/// profile, and the flags a closed network needs. It dies with the host.
pub fn launch(spec: &LaunchSpec) -> std::io::Result<tokio::process::Child> {
    std::fs::create_dir_all(&spec.profile_dir)?;
    let mut cmd = std::process::Command::new(&spec.binary);
    cmd.env_remove(portos_rt::internal::ENV);
    if spec.headless {
        cmd.arg("--headless=new");
    }
    if nix::unistd::geteuid().is_root() {
        // Chromium refuses to run as root with its sandbox on.
        cmd.arg("--no-sandbox");
    }
    cmd.arg(format!("--remote-debugging-port={}", spec.cdp_port))
        .arg(format!("--remote-debugging-address={}", spec.cdp_host))
        .arg(format!("--user-data-dir={}", spec.profile_dir.display()))
        .args([
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-domain-reliability",
            "--disable-breakpad",
            "--metrics-recording-only",
            "--disable-background-timer-throttling",
            "--disable-backgrounding-occluded-windows",
            "--disable-renderer-backgrounding",
            "--disable-ipc-flooding-protection",
            "--window-size=1280,800",
            "about:blank",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    portos_rt::child::die_with_parent(&mut cmd, nix::sys::signal::Signal::SIGKILL, false);
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    tracing::info!(binary = %spec.binary.display(), profile = %spec.profile_dir.display(), headless = spec.headless, "launching Chromium");
    cmd.spawn()
}

/// Waits up to `grace` for Chromium to exit by itself, then SIGTERM, then SIGKILL.
pub async fn stop(child: &mut tokio::process::Child, grace: Duration) {
    if tokio::time::timeout(grace, child.wait()).await.is_ok() {
        return;
    }
    if let Some(pid) = child.id() {
        let pid = nix::unistd::Pid::from_raw(pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        if tokio::time::timeout(Duration::from_secs(3), child.wait())
            .await
            .is_ok()
        {
            return;
        }
    }
    let _ = child.kill().await;
}

/// The configured binary: `chromePath` of the config, else `CHROME_PATH`.
pub fn configured_binary(chrome_path: &str) -> Option<PathBuf> {
    if !chrome_path.trim().is_empty() {
        return Some(PathBuf::from(chrome_path));
    }
    std::env::var_os("CHROME_PATH")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// Width and height of a PNG, from its header.
pub fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    if png.len() < 24 || &png[..8] != b"\x89PNG\r\n\x1a\n" || &png[12..16] != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(png[16..20].try_into().ok()?);
    let h = u32::from_be_bytes(png[20..24].try_into().ok()?);
    Some((w, h))
}
