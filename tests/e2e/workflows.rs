//! The GitHub workflows (`.github/workflows/`) are valid: checked against the
//! GitHub workflow schema vendored in check-jsonschema (a PyPI wheel in the test
//! peers' venv; actionlint's wheel builds from a GitHub download a closed
//! network cannot reach), and the check really reads them: a broken workflow fails it.

use std::path::Path;
use std::process::{Command, Output};

use portos_e2e::{python, repo_root};

fn check(files: &[&Path]) -> Output {
    let tool = python().parent().unwrap().join("check-jsonschema");
    assert!(
        tool.is_file(),
        "no check-jsonschema beside {}: run the tests with `cargo xtask test`, which installs it",
        python().display()
    );
    Command::new(tool)
        .args(["--builtin-schema", "vendor.github-workflows"])
        .args(files)
        .output()
        .unwrap()
}

#[test]
fn the_github_workflows_are_valid() {
    let dir = repo_root().join(".github/workflows");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no workflow in {}", dir.display());
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let out = check(&refs);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The CI workflow runs the README's test command through .ci/run.
    let ci = std::fs::read_to_string(dir.join("ci.yml")).unwrap();
    assert!(ci.contains("run: bash .ci/run"), "{ci}");

    let bad = tempfile::tempdir().unwrap();
    let broken = bad.path().join("broken.yml");
    std::fs::write(
        &broken,
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    stepz: []\n",
    )
    .unwrap();
    assert!(
        !check(&[&broken]).status.success(),
        "a broken workflow passed"
    );
}
