//! First-start setup: the seed embedded in the binary, copied where missing.

use std::path::{Path, PathBuf};

use include_dir::{Dir, DirEntry, include_dir};

use crate::{StoreError, io_at, write_atomic};

static SEED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/seed");

/// Placeholder in `apps.json` replaced by the PortOS checkout's path.
const ROOT_PLACEHOLDER: &str = "\"__PORTOS_ROOT__\"";

/// Marker files that only keep empty seed folders in version control.
const KEEP_MARKER: &str = ".gitkeep";

/// What a seeding run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub created_dirs: Vec<PathBuf>,
    pub created_files: Vec<PathBuf>,
}

/// Seeds `data_dir` idempotently: creates every missing folder and file of the
/// seed, never overwrites an existing file. `root` (the PortOS checkout) is
/// written into `apps.json` as the baseline app's `repoPath`.
pub fn seed(data_dir: &Path, root: &Path) -> Result<SeedReport, StoreError> {
    let mut report = SeedReport::default();
    if !data_dir.exists() {
        std::fs::create_dir_all(data_dir).map_err(io_at(data_dir))?;
        report.created_dirs.push(data_dir.to_path_buf());
    }
    seed_dir(&SEED, data_dir, root, &mut report)?;
    Ok(report)
}

fn seed_dir(
    dir: &Dir<'_>,
    data_dir: &Path,
    root: &Path,
    report: &mut SeedReport,
) -> Result<(), StoreError> {
    for entry in dir.entries() {
        let dest = data_dir.join(entry.path());
        match entry {
            DirEntry::Dir(d) => {
                if !dest.exists() {
                    std::fs::create_dir_all(&dest).map_err(io_at(&dest))?;
                    report.created_dirs.push(dest.clone());
                }
                seed_dir(d, data_dir, root, report)?;
            }
            DirEntry::File(f) => {
                if f.path().file_name().is_some_and(|n| n == KEEP_MARKER) || dest.exists() {
                    continue;
                }
                let mut bytes = f.contents().to_vec();
                if f.path() == Path::new("apps.json") {
                    let text = String::from_utf8_lossy(&bytes);
                    let root = serde_json::to_string(&root.to_string_lossy()).unwrap_or_default();
                    bytes = text.replace(ROOT_PLACEHOLDER, &root).into_bytes();
                }
                write_atomic(&dest, &bytes)?;
                report.created_files.push(dest);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_once_and_never_overwrites() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let first = seed(&data, Path::new("/opt/my \"portos\"")).unwrap();
        assert!(first.created_files.len() >= 10, "{first:?}");
        for dir in ["runs", "cos/agents", "autofixer/sessions", "prompts/stages"] {
            assert!(data.join(dir).is_dir(), "{dir}");
        }
        assert!(!data.join("runs/.gitkeep").exists());
        let apps: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(data.join("apps.json")).unwrap())
                .unwrap();
        assert_eq!(
            apps["apps"]["portos-default"]["repoPath"],
            "/opt/my \"portos\""
        );
        assert_eq!(
            apps["apps"]["portos-default"]["pm2ProcessNames"]
                .as_array()
                .unwrap()
                .len(),
            6
        );

        std::fs::write(data.join("settings.json"), "{\"mine\":true}").unwrap();
        std::fs::remove_file(data.join("history.json")).unwrap();
        std::fs::remove_dir_all(data.join("cos")).unwrap();
        let second = seed(&data, Path::new("/elsewhere")).unwrap();
        assert_eq!(
            std::fs::read_to_string(data.join("settings.json")).unwrap(),
            "{\"mine\":true}"
        );
        assert!(second.created_files.contains(&data.join("history.json")));
        assert!(second.created_files.contains(&data.join("cos/state.json")));
        assert!(!second.created_files.contains(&data.join("apps.json")));
        let third = seed(&data, Path::new("/elsewhere")).unwrap();
        assert_eq!(third, SeedReport::default(), "idempotent");
    }

    #[test]
    fn a_first_start_has_the_originals_providers_with_their_tiers_and_its_variables() {
        let tmp = tempfile::tempdir().unwrap();
        seed(tmp.path(), Path::new("/opt/portos")).unwrap();
        let read = |f: &str| -> serde_json::Value {
            serde_json::from_str(&std::fs::read_to_string(tmp.path().join(f)).unwrap()).unwrap()
        };
        let providers = read("providers.json");
        let claude = &providers["providers"]["claude-code"];
        assert_eq!(providers["activeProvider"], "claude-code");
        for tier in ["lightModel", "mediumModel", "heavyModel", "defaultModel"] {
            let m = claude[tier].as_str().unwrap();
            assert!(
                claude["models"].as_array().unwrap().iter().any(|x| x == m),
                "{tier}"
            );
        }
        assert!(providers["providers"]["codex"]["heavyModel"].is_string());
        let ids: Vec<&String> = providers["providers"].as_object().unwrap().keys().collect();
        assert_eq!(ids.len(), 7, "{ids:?}");
        let vars = read("prompts/variables.json");
        let keys: Vec<&String> = vars["variables"].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "jsonOutputFormat",
                "appDetectionSchema",
                "portDetectionRules",
                "pm2NamingConvention"
            ]
        );
    }
}
