//! `open-editor` and `open-folder` start real programs: the real `portos-api`
//! binary, with stand-ins for the editor and `xdg-open` first on its PATH that
//! write down where and how they were started.

mod binary;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

fn stand_in(bin: &Path, name: &str, record: &Path) {
    let script = format!(
        "#!/bin/sh\necho \"{name} cwd=$(pwd) args=$*\" >> {}\n",
        record.display()
    );
    let path = bin.join(name);
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test]
async fn editors_and_folders_open_without_a_shell() {
    let root = tempfile::tempdir().unwrap();
    let (data, bin, repo) = (
        root.path().join("data"),
        root.path().join("bin"),
        root.path().join("repo"),
    );
    for d in [&data, &bin, &repo] {
        std::fs::create_dir_all(d).unwrap();
    }
    let record = root.path().join("started.txt");
    stand_in(&bin, "zed", &record);
    stand_in(&bin, "xdg-open", &record);
    let app = |editor: &str, repo: &Path| json!({ "name": "x", "repoPath": repo, "editorCommand": editor, "pm2ProcessNames": ["x"] });
    std::fs::write(
        data.join("apps.json"),
        json!({ "apps": {
            "good": app("zed . --wait", &repo),
            "unknown-editor": app("rm -rf .", &repo),
            "shell-args": app("zed .;reboot", &repo),
            "no-repo": app("zed .", &root.path().join("missing")),
            "not-installed": app("emacs .", &repo),
        }})
        .to_string(),
    )
    .unwrap();

    // Only our stand-ins and the basic tools: no real editor can be found.
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let api = binary::start(&data, &[("PATH", &path)], false).await;
    let (mut server, base) = (api.child, api.base);
    let auth: reqwest::header::HeaderMap = [(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {}", api.token).parse().unwrap(),
    )]
    .into_iter()
    .collect();
    let http = reqwest::Client::builder()
        .no_proxy()
        .default_headers(auth)
        .build()
        .unwrap();
    let post = |id: &str, what: &str| {
        let url = format!("{base}/api/apps/{id}/{what}");
        let http = http.clone();
        async move {
            let r = http.post(url).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };

    let (st, body) = post("good", "open-editor").await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["command"], "zed . --wait");
    let (st, body) = post("good", "open-folder").await;
    assert_eq!(st, 200, "{body}");
    let repo = repo.canonicalize().unwrap();
    let mut seen = String::new();
    for _ in 0..200 {
        seen = std::fs::read_to_string(&record).unwrap_or_default();
        if seen.lines().count() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut lines: Vec<&str> = seen.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            format!("xdg-open cwd={} args={}", repo.display(), repo.display()),
            format!("zed cwd={} args=. --wait", repo.display()),
        ],
        "each started once, in the repo, with its arguments as given"
    );

    for (id, what, code) in [
        ("unknown-editor", "open-editor", "INVALID_EDITOR"),
        ("shell-args", "open-editor", "INVALID_EDITOR_ARGS"),
        ("no-repo", "open-editor", "PATH_NOT_FOUND"),
        ("no-repo", "open-folder", "PATH_NOT_FOUND"),
        ("not-installed", "open-editor", "COMMAND_NOT_FOUND"),
    ] {
        let (st, body) = post(id, what).await;
        assert_eq!(
            (st, body["code"].as_str()),
            (400, Some(code)),
            "{id}: {body}"
        );
    }
    let (_, body) = post("unknown-editor", "open-editor").await;
    assert!(
        body["context"]["allowedEditors"]
            .as_array()
            .unwrap()
            .contains(&json!("zed"))
    );
    let (st, _) = post("nope", "open-folder").await;
    assert_eq!(st, 404);
    assert_eq!(
        std::fs::read_to_string(&record).unwrap().lines().count(),
        2,
        "nothing else was started"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}
