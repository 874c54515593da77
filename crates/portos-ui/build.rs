//! Fetches the browser libraries the Shell page uses (xterm.js and its fit
//! addon) from the npm registry at build time, pinned by version and by the
//! registry's own sha512 integrity, and puts the files the UI embeds in
//! `OUT_DIR/vendor/`. Nothing of them is committed. A tarball whose digest
//! differs stops the build. Downloads are kept in
//! `$XDG_CACHE_HOME/portos-rs/npm` (or `PORTOS_NPM_CACHE`) and checked again
//! on every use; `PORTOS_NPM_REGISTRY` points at a mirror.

use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::Digest;

struct Package {
    name: &'static str,
    version: &'static str,
    integrity: &'static str,
    /// (path in the tarball, name in `vendor/`).
    files: &'static [(&'static str, &'static str)],
}

const PACKAGES: &[Package] = &[
    Package {
        name: "@xterm/xterm",
        version: "5.5.0",
        integrity: "sha512-hqJHYaQb5OptNunnyAnkHyM8aCjZ1MEIDTQu1iIbbTD/xops91NB5yq1ZK/dC2JDbVWtF23zUtl9JE2NqwT87A==",
        files: &[
            ("package/lib/xterm.js", "xterm.js"),
            ("package/css/xterm.css", "xterm.css"),
            ("package/LICENSE", "xterm.LICENSE.txt"),
        ],
    },
    Package {
        name: "@xterm/addon-fit",
        version: "0.10.0",
        integrity: "sha512-UFYkDm4HUahf2lnEyHvio51TNGiLK66mqP2JoATy7hRZeXaGMRDr00JiSF7m63vR5WKATF605yEggJKsw0JpMQ==",
        files: &[
            ("package/lib/addon-fit.js", "addon-fit.js"),
            ("package/LICENSE", "addon-fit.LICENSE.txt"),
        ],
    },
];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=PORTOS_NPM_REGISTRY");
    println!("cargo::rerun-if-env-changed=PORTOS_NPM_CACHE");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("vendor");
    std::fs::create_dir_all(&out).expect("creating OUT_DIR/vendor");
    for p in PACKAGES {
        if let Err(e) = vendor(p, &out) {
            panic!("{}@{}: {e}", p.name, p.version);
        }
    }
}

fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PORTOS_NPM_CACHE") {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("portos-rs/npm")
}

fn matches(bytes: &[u8], integrity: &str) -> bool {
    let digest = base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(bytes));
    integrity.strip_prefix("sha512-") == Some(digest.as_str())
}

fn tarball(p: &Package) -> Result<Vec<u8>, String> {
    let short = p.name.rsplit('/').next().unwrap_or(p.name);
    let file = format!("{short}-{}.tgz", p.version);
    let cached = cache_dir().join(&file);
    if let Ok(bytes) = std::fs::read(&cached)
        && matches(&bytes, p.integrity)
    {
        return Ok(bytes);
    }
    let registry = std::env::var("PORTOS_NPM_REGISTRY")
        .unwrap_or_else(|_| "https://registry.npmjs.org".into());
    let url = format!("{}/{}/-/{file}", registry.trim_end_matches('/'), p.name);
    let mut bytes = Vec::new();
    // The machine's own roots, so a registry behind a company's TLS proxy works.
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).build().into();
    agent
        .get(&url)
        .call()
        .map_err(|e| format!("fetching {url}: {e}"))?
        .into_body()
        .into_reader()
        .take(64 << 20)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("reading {url}: {e}"))?;
    if !matches(&bytes, p.integrity) {
        return Err(format!(
            "{url} does not match its pinned integrity {}: refusing it",
            p.integrity
        ));
    }
    // The cache is a convenience: a failure to keep it is not an error.
    if std::fs::create_dir_all(cached.parent().unwrap_or(Path::new("."))).is_ok() {
        let tmp = cached.with_extension("tgz.part");
        if std::fs::write(&tmp, &bytes).is_ok() {
            let _ = std::fs::rename(&tmp, &cached);
        }
    }
    Ok(bytes)
}

fn vendor(p: &Package, out: &Path) -> Result<(), String> {
    let bytes = tarball(p)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
    let mut found = 0;
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry
            .path()
            .map_err(|e| e.to_string())?
            .display()
            .to_string();
        if let Some((_, name)) = p.files.iter().find(|(inside, _)| *inside == path) {
            let mut content = Vec::new();
            entry.read_to_end(&mut content).map_err(|e| e.to_string())?;
            std::fs::write(out.join(name), content).map_err(|e| e.to_string())?;
            found += 1;
        }
    }
    if found != p.files.len() {
        return Err(format!("the tarball lacks some of {:?}", p.files));
    }
    Ok(())
}
