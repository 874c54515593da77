//! `portos service install | uninstall | status`: PortOS started at login (and,
//! with lingering, at boot) by the user's service manager — a systemd user
//! unit on Linux, a launchd agent on macOS — running `portos up` in the
//! foreground for this config and data dir, restarted on failure, its lines in
//! the journal. `uninstall` removes exactly what `install` wrote.

use std::path::{Path, PathBuf};

use crate::{Failure, Outcome};

/// The first line of every file we write: `uninstall` removes only such a file.
const MARK: &str = "# Written by `portos service install`; `portos service uninstall` removes it.";

/// Where the unit goes and what it says.
struct Unit {
    path: PathBuf,
    text: String,
    /// Folders under the config home the unit needs (removed again when empty).
    dirs: Vec<PathBuf>,
    enable: Vec<String>,
}

fn config_home() -> Result<PathBuf, Failure> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x));
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".config"))
        .ok_or_else(|| Failure::state("neither XDG_CONFIG_HOME nor HOME is set"))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// A systemd `ExecStart` word: quoted, with `\`, `"` and `%` escaped.
fn systemd_word(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('%', "%%")
    )
}

fn unit(config: &Path, data_dir: &Path) -> Result<Unit, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::state(format!("cannot find the portos binary: {e}")))?;
    let (config, data_dir) = (absolute(config), absolute(data_dir));
    let root = config_home()?;
    if cfg!(target_os = "macos") {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .ok_or_else(|| Failure::state("HOME is not set"))?;
        let dir = home.join("Library/LaunchAgents");
        let arg = |s: &Path| format!("    <string>{}</string>\n", xml(&s.display().to_string()));
        let text = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- {} -->\n<plist version=\"1.0\">\n<dict>\n  <key>Label</key><string>dev.portos</string>\n  <key>ProgramArguments</key>\n  <array>\n{}    <string>--config</string>\n{}    <string>--data-dir</string>\n{}    <string>up</string>\n  </array>\n  <key>RunAtLoad</key><true/>\n  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>\n  <key>StandardOutPath</key><string>{}</string>\n  <key>StandardErrorPath</key><string>{}</string>\n</dict>\n</plist>\n",
            MARK.trim_start_matches("# "),
            arg(&exe),
            arg(&config),
            arg(&data_dir),
            xml(&data_dir.join("supervisor.log").display().to_string()),
            xml(&data_dir.join("supervisor.log").display().to_string()),
        );
        return Ok(Unit {
            path: dir.join("dev.portos.plist"),
            text,
            dirs: vec![dir.clone()],
            enable: vec![format!(
                "launchctl load -w {}",
                dir.join("dev.portos.plist").display()
            )],
        });
    }
    let dir = root.join("systemd/user");
    let exec = [
        exe.display().to_string(),
        "--config".into(),
        config.display().to_string(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "up".into(),
    ]
    .iter()
    .map(|w| systemd_word(w))
    .collect::<Vec<_>>()
    .join(" ");
    let text = format!(
        "{MARK}\n[Unit]\nDescription=PortOS: the dashboard of this dev machine ({data})\nAfter=network-online.target\nWants=network-online.target\n\n\
         [Service]\nType=simple\nExecStart={exec}\nWorkingDirectory={cwd}\nEnvironment=NO_COLOR=1\n\
         # The supervisor stops its processes on SIGTERM; what is left after the timeout is killed.\n\
         KillMode=mixed\nTimeoutStopSec=90\nRestart=on-failure\nRestartSec=2\n\n\
         [Install]\nWantedBy=default.target\n",
        data = data_dir.display(),
        cwd = systemd_word(
            &config
                .parent()
                .unwrap_or(Path::new("/"))
                .display()
                .to_string()
        )
        .trim_matches('"'),
    );
    Ok(Unit {
        path: dir.join("portos.service"),
        text,
        dirs: vec![dir, root.join("systemd")],
        enable: vec![
            "systemctl --user daemon-reload".into(),
            "systemctl --user enable --now portos.service".into(),
        ],
    })
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn ours(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| {
        t.lines()
            .take(2)
            .any(|l| l.contains(MARK.trim_start_matches("# ")))
    })
}

/// `portos service install`.
pub fn install(config: &Path, data_dir: &Path) -> Outcome {
    portos_config::Config::load(config).map_err(|e| Failure::input(e.to_string()))?;
    let u = unit(config, data_dir)?;
    if u.path.exists() && !ours(&u.path) {
        return Err(Failure::state(format!(
            "{} exists and was not written by portos: not replaced",
            u.path.display()
        )));
    }
    let dir = u.path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::state(format!("cannot create {}: {e}", dir.display())))?;
    let tmp = u.path.with_extension("tmp");
    std::fs::write(&tmp, &u.text)
        .and_then(|()| std::fs::rename(&tmp, &u.path))
        .map_err(|e| Failure::state(format!("cannot write {}: {e}", u.path.display())))?;
    println!("wrote {}", u.path.display());
    println!("start it now and at every login:");
    for c in &u.enable {
        println!("  {c}");
    }
    if !cfg!(target_os = "macos") {
        let user = std::env::var("USER").unwrap_or_else(|_| "$USER".into());
        println!("and at boot, before you log in (once):");
        println!("  loginctl enable-linger {user}");
    }
    Ok(())
}

/// `portos service uninstall`: the file `install` wrote, and the folders it
/// made when they are empty again.
pub fn uninstall(config: &Path, data_dir: &Path) -> Outcome {
    let u = unit(config, data_dir)?;
    if !u.path.exists() {
        println!("nothing to remove: {} does not exist", u.path.display());
        return Ok(());
    }
    if !ours(&u.path) {
        return Err(Failure::state(format!(
            "{} was not written by portos: left as it is",
            u.path.display()
        )));
    }
    std::fs::remove_file(&u.path)
        .map_err(|e| Failure::state(format!("cannot remove {}: {e}", u.path.display())))?;
    for d in &u.dirs {
        // Only an empty folder goes (remove_dir refuses any other).
        let _ = std::fs::remove_dir(d);
    }
    println!("removed {}", u.path.display());
    if !cfg!(target_os = "macos") {
        println!(
            "if it was running: systemctl --user stop portos.service; systemctl --user daemon-reload"
        );
    }
    Ok(())
}

/// `portos service status`.
pub fn status(config: &Path, data_dir: &Path) -> Outcome {
    let u = unit(config, data_dir)?;
    if !u.path.exists() {
        println!("not installed ({} does not exist)", u.path.display());
        return Err(Failure::state(""));
    }
    println!("installed: {}", u.path.display());
    if let Some(line) = std::fs::read_to_string(&u.path)
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("ExecStart="))
    {
        println!("{line}");
    }
    if !cfg!(target_os = "macos")
        && let Ok(out) = std::process::Command::new("systemctl")
            .args(["--user", "is-active", "portos.service"])
            .output()
    {
        println!("systemd: {}", String::from_utf8_lossy(&out.stdout).trim());
    }
    Ok(())
}
