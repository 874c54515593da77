//! `cargo xtask bench <name>`: our binaries side by side with what they
//! replace, measured in one run on this machine. Not tests: figures to read.
//!
//! - `supervisor`: `portos` against PM2 (see `supervisor.rs`).
//! - `api`: the api server against the original's Express routes (see `api.rs`).

mod api;
mod supervisor;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

pub use api::api;
pub use supervisor::supervisor;

/// Builds the release binaries and returns the folder holding them.
fn release_bins() -> Result<PathBuf> {
    crate::cargo(&["build", "--release", "--workspace", "--bins"])?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target"));
    Ok(target.join("release"))
}

/// `npm install PACKAGES` into `dir`: the peers we measure against come from
/// the npm registry at bench time, never from the repository.
fn npm_install(dir: &Path, packages: &[&str]) -> Result<()> {
    println!(
        "installing {} from npm into {} …",
        packages.join(" "),
        dir.display()
    );
    let status = Command::new("npm")
        .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
        .arg(dir)
        .args(packages)
        .status()
        .context("running npm (is Node.js installed?)")?;
    if !status.success() {
        bail!("npm install {} failed", packages.join(" "));
    }
    Ok(())
}

/// The version an npm package in `dir` was installed at, from its package.json.
fn npm_version(dir: &Path, package: &str) -> String {
    std::fs::read_to_string(dir.join("node_modules").join(package).join("package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}
