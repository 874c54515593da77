//! `[tls] tailscale = true`: the machine's certificate, issued by Tailscale for
//! its tailnet name (`tailscale cert`), kept in `data/tls/` (the key 0600),
//! fetched when PortOS starts and renewed once a day while it runs; a renewed
//! certificate restarts the processes that serve https.

use std::path::{Path, PathBuf};
use std::time::Duration;

use portos_config::{Config, Tls};

use crate::Failure;

/// How often the certificate is asked for again (Tailscale renews it when due).
const RENEW_EVERY: Duration = Duration::from_secs(24 * 3600);

fn tailscale(args: &[&str]) -> Result<String, Failure> {
    let out = std::process::Command::new("tailscale")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            Failure::state(format!(
                "[tls] tailscale = true, but `tailscale` cannot run ({e}): install Tailscale, or give [tls] cert and key"
            ))
        })?;
    if !out.status.success() {
        return Err(Failure::state(format!(
            "tailscale {}: {} (is Tailscale up, with HTTPS certificates enabled for the tailnet?)",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// This machine's name on the tailnet (`box.tail1234.ts.net`).
pub fn dns_name() -> Result<String, Failure> {
    let status: serde_json::Value = serde_json::from_str(&tailscale(&["status", "--json"])?)
        .map_err(|e| Failure::state(format!("tailscale status --json: {e}")))?;
    status["Self"]["DNSName"]
        .as_str()
        .map(|n| n.trim_end_matches('.').to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Failure::state("tailscale status names no DNS name for this machine"))
}

/// The certificate and key files for this machine, fetched (or renewed) now.
fn obtain(data_dir: &Path) -> Result<(PathBuf, PathBuf), Failure> {
    let name = dns_name()?;
    let dir = data_dir.join("tls");
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::state(format!("cannot create {}: {e}", dir.display())))?;
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    tailscale(&[
        "cert",
        "--cert-file",
        &cert.display().to_string(),
        "--key-file",
        &key.display().to_string(),
        &name,
    ])?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Failure::state(format!("cannot restrict {}: {e}", key.display())))?;
    Ok((cert, key))
}

/// `config` ready to run: with `tailscale = true`, the certificate fetched and
/// handed to the processes that serve https.
pub fn resolve(mut config: Config, data_dir: &Path) -> Result<Config, Failure> {
    if config.tls == Some(Tls::Tailscale) {
        let (cert, key) = obtain(data_dir)?;
        config.serve_tls_with(&cert, &key);
    }
    Ok(config)
}

/// Once a day: the certificate asked for again; when it changed, the
/// processes serving https restart on it.
pub async fn renew(sup: portos_supervisor::Supervisor, data_dir: PathBuf) {
    if sup.config().tls != Some(Tls::Tailscale) {
        return;
    }
    let names: Vec<String> = sup
        .config()
        .processes
        .iter()
        .filter(|p| p.tls)
        .map(|p| p.name.clone())
        .collect();
    let token = sup.shutdown_token();
    loop {
        tokio::select! {
            () = tokio::time::sleep(RENEW_EVERY) => {}
            () = token.cancelled() => return,
        }
        let dir = data_dir.clone();
        let fetched = tokio::task::spawn_blocking(move || {
            let cert = dir.join("tls").join(format!("{}.crt", dns_name()?));
            let before = std::fs::read(&cert).ok();
            obtain(&dir)?;
            Ok::<_, Failure>(std::fs::read(&cert).ok() != before)
        })
        .await;
        match fetched {
            Ok(Ok(true)) => {
                tracing::info!("Tailscale certificate renewed; restarting the https processes");
                for n in &names {
                    let _ = sup.control(portos_supervisor::Action::Restart, n).await;
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e.message, "Tailscale certificate not renewed"),
            Err(e) => tracing::warn!(error = %e, "Tailscale certificate not renewed"),
        }
    }
}
