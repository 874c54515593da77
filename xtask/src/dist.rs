//! `cargo xtask dist [--check]`: a release tarball for this host,
//! `target/dist/portos-<version>-<target>.tar.gz` (and its `.sha256`): the
//! binaries in `bin/` (the supervisor finds them beside `portos`),
//! `supervisor.toml`, `README.md`, `CHANGELOG.md`, shell completions and a
//! systemd user unit for the unpacked folder. `--check` unpacks it into an
//! empty folder and runs `bin/portos up -d` there until every process is
//! healthy, then `down`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// The binaries a release carries (every service of `supervisor.toml` and `portos`).
const BINARIES: &[&str] = &[
    "portos",
    "portos-supervisord",
    "portos-api",
    "portos-runner",
    "portos-ui",
    "portos-autofixer",
    "portos-autofixer-ui",
    "portos-browser",
];

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target"))
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> Result<String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .context("rustc -vV names no host")
}

/// A systemd user unit for a release unpacked into `~/portos`.
const UNIT: &str = "# A systemd user unit for PortOS unpacked into ~/portos: copy it to
# ~/.config/systemd/user/, then `systemctl --user enable --now portos.service`.
# Elsewhere, `bin/portos service install` writes one with your paths.
[Unit]
Description=PortOS: the dashboard of this dev machine
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
WorkingDirectory=%h/portos
ExecStart=%h/portos/bin/portos --config %h/portos/supervisor.toml --data-dir %h/portos/data up
Environment=NO_COLOR=1
KillMode=mixed
TimeoutStopSec=90
Restart=on-failure
RestartSec=2

[Install]
WantedBy=default.target
";

pub fn dist(args: &[String]) -> Result<()> {
    let check = args.iter().any(|a| a == "--check");
    let started = Instant::now();
    crate::cargo(&["build", "--release", "--bins"])?;
    let built = started.elapsed();
    // xtask shares the workspace's version.
    let name = format!("portos-{}-{}", env!("CARGO_PKG_VERSION"), host_triple()?);
    let out = target_dir().join("dist");
    let stage = out.join(&name);
    let _ = std::fs::remove_dir_all(&stage);
    std::fs::create_dir_all(stage.join("bin"))?;
    std::fs::create_dir_all(stage.join("completions"))?;
    std::fs::create_dir_all(stage.join("service"))?;
    let release = target_dir().join("release");
    for b in BINARIES {
        std::fs::copy(release.join(b), stage.join("bin").join(b))
            .with_context(|| format!("copying {b}"))?;
    }
    let root = crate::workspace_root();
    for f in ["supervisor.toml", "README.md", "CHANGELOG.md"] {
        std::fs::copy(root.join(f), stage.join(f)).with_context(|| format!("copying {f}"))?;
    }
    for (shell, file) in [
        ("bash", "portos.bash"),
        ("zsh", "_portos"),
        ("fish", "portos.fish"),
    ] {
        let c = Command::new(stage.join("bin/portos"))
            .args(["completions", shell])
            .output()?;
        if !c.status.success() {
            bail!("portos completions {shell} failed");
        }
        std::fs::write(stage.join("completions").join(file), c.stdout)?;
    }
    std::fs::write(stage.join("service/portos.service"), UNIT)?;
    let tarball = out.join(format!("{name}.tar.gz"));
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(&out)
        .arg(&name)
        .status()
        .context("tar")?;
    if !status.success() {
        bail!("tar failed");
    }
    let sum = Command::new("sha256sum")
        .arg(tarball.file_name().unwrap_or_default())
        .current_dir(&out)
        .output()
        .context("sha256sum")?;
    std::fs::write(out.join(format!("{name}.tar.gz.sha256")), sum.stdout)?;
    let size = std::fs::metadata(&tarball)?.len();
    println!(
        "{} ({:.1} MiB), release build {:.0} s",
        tarball.display(),
        size as f64 / (1 << 20) as f64,
        built.as_secs_f64()
    );
    for b in BINARIES {
        let s = std::fs::metadata(stage.join("bin").join(b))?.len();
        println!("  bin/{b:<22} {:>6.1} MiB", s as f64 / (1 << 20) as f64);
    }
    if check {
        check_unpacked(&tarball, &name)?;
    }
    Ok(())
}

/// Unpacks the tarball into an empty folder and brings the stack up from it.
fn check_unpacked(tarball: &Path, name: &str) -> Result<()> {
    let dir = tempfile::Builder::new().prefix("portos-dist").tempdir()?;
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(tarball)
        .arg("-C")
        .arg(dir.path())
        .status()?;
    if !status.success() {
        bail!("tar -x failed");
    }
    let home = dir.path().join(name);
    let portos = |args: &[&str]| {
        let mut c = Command::new(home.join("bin/portos"));
        c.args(args)
            .current_dir(&home)
            .env_remove("PORTOS_CONFIG")
            .env_remove("PORTOS_DATA_DIR");
        c
    };
    let started = Instant::now();
    let up = portos(&["up", "-d"]).status()?;
    let settled = started.elapsed();
    let status = portos(&["status"]).status();
    let _ = portos(&["down"]).status();
    if !up.success() {
        bail!("bin/portos up -d from the unpacked release did not bring every process up");
    }
    status?;
    println!(
        "unpacked into {} and brought up: every process healthy in {:.1} s",
        home.display(),
        settled.as_secs_f64()
    );
    Ok(())
}
