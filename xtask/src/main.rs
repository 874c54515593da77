//! `cargo xtask`: the build system for what cargo alone does not do.
//!
//! - `cargo xtask test [ARGS]`: build every binary, then run every test
//!   (the end-to-end tests drive the built binaries).
//! - `cargo xtask bench supervisor`: our supervisor and PM2 side by side on the
//!   same children; prints one table with ratios. Not a test.
//!
//! Depends on no PortOS crate: it drives the binaries as a user would.

mod bench;

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("bench") => match args.get(1).map(String::as_str) {
            Some("supervisor") => bench::supervisor(),
            other => Err(anyhow::anyhow!(
                "unknown benchmark {other:?}; known: supervisor"
            )),
        },
        _ => {
            eprintln!("usage: cargo xtask test [CARGO TEST ARGS] | cargo xtask bench supervisor");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `cargo ARGS` in the workspace root.
pub fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("running {cargo}"))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

fn test(extra: &[String]) -> Result<()> {
    cargo(&["build", "--workspace", "--bins"])?;
    let mut args = vec!["test", "--workspace"];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args)
}
