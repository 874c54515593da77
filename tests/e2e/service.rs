//! `portos service install` writes a systemd user unit that systemd itself
//! accepts and that runs this `portos up`; `uninstall` leaves the folder as it was.

use std::process::Command;

use portos_e2e::{Stack, bin};

fn service(stack: &Stack, home: &std::path::Path, action: &str) -> std::process::Output {
    Command::new(bin("portos"))
        .arg("--config")
        .arg(&stack.config)
        .arg("--data-dir")
        .arg(&stack.data)
        .args(["service", action])
        .env("XDG_CONFIG_HOME", home)
        .output()
        .unwrap()
}

fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut out: Vec<String> = walk(dir)
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect();
    out.sort();
    out
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        out.push(e.path());
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        }
    }
    out
}

#[test]
fn a_unit_systemd_accepts_and_an_uninstall_that_leaves_nothing() {
    let stack = Stack::new("[[process]]\nname = \"a\"\ncommand = \"sleep\"\nargs = [\"1000\"]\n");
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("other")).unwrap();
    let before = listing(home.path());

    let out = service(&stack, home.path(), "install");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("systemctl --user enable --now portos.service")
            && said.contains("loginctl enable-linger"),
        "{said}"
    );
    let unit = home.path().join("systemd/user/portos.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    let exec = text.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
    assert!(
        exec.contains(&format!("\"{}\"", bin("portos").display())),
        "{exec}"
    );
    assert!(
        exec.contains(&format!("\"--config\" \"{}\"", stack.config.display())),
        "{exec}"
    );
    assert!(exec.ends_with("\"up\""), "{exec}");
    for key in [
        "Restart=on-failure",
        "WantedBy=default.target",
        "KillMode=mixed",
    ] {
        assert!(text.contains(key), "{key} in {text}");
    }
    // systemd's own check, where the tool is there.
    if std::path::Path::new("/usr/bin/systemd-analyze").exists() {
        let v = Command::new("systemd-analyze")
            .args(["verify", "--user"])
            .arg(&unit)
            .env("XDG_CONFIG_HOME", home.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&v.stderr);
        // Only what concerns our unit counts (a container has no user manager).
        let ours: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("portos.service"))
            .collect();
        assert!(ours.is_empty(), "systemd-analyze: {err}");
    }
    let status = service(&stack, home.path(), "status");
    assert!(String::from_utf8_lossy(&status.stdout).contains("installed:"));

    // A file we did not write is never replaced or removed.
    let out = service(&stack, home.path(), "uninstall");
    assert!(out.status.success());
    assert_eq!(listing(home.path()), before, "the folder as it was");
    std::fs::create_dir_all(unit.parent().unwrap()).unwrap();
    std::fs::write(&unit, "[Unit]\nDescription=mine\n").unwrap();
    assert_eq!(
        service(&stack, home.path(), "install").status.code(),
        Some(1)
    );
    assert_eq!(
        service(&stack, home.path(), "uninstall").status.code(),
        Some(1)
    );
    assert_eq!(
        std::fs::read_to_string(&unit).unwrap(),
        "[Unit]\nDescription=mine\n"
    );
}
