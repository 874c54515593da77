use std::path::Path;

use super::*;

fn sh(dir: &Path, args: &[&str]) {
    portos_test_support::git(dir, args);
}

fn repo() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    sh(d.path(), &["init", "-q", "-b", "main"]);
    sh(d.path(), &["config", "user.name", "T"]);
    sh(d.path(), &["config", "user.email", "t@example.com"]);
    std::fs::write(d.path().join("a.txt"), "one\n").unwrap();
    sh(d.path(), &["add", "."]);
    sh(d.path(), &["commit", "-q", "-m", "first \"quoted\" commit"]);
    d
}

#[tokio::test]
async fn status_keeps_the_first_letter_of_an_unstaged_first_path() {
    let d = repo();
    std::fs::write(d.path().join("a.txt"), "two\n").unwrap();
    std::fs::write(d.path().join("new file.txt"), "x\n").unwrap();
    let s = status(d.path()).await.unwrap().to_json();
    assert_eq!(s["files"][0]["path"], "a.txt", "{s}");
    assert_eq!(s["files"][0]["status"], "modified");
    assert_eq!(s["files"][1]["path"], "new file.txt");
    assert_eq!(s["files"][1]["status"], "untracked");
    assert_eq!(
        (s["staged"].as_u64(), s["unstaged"].as_u64()),
        (Some(0), Some(2))
    );
}

#[tokio::test]
async fn a_commit_with_quotes_is_listed_and_commit_stage_work() {
    let d = repo();
    std::fs::write(d.path().join("b.txt"), "b\n").unwrap();
    stage(d.path(), &json!(["b.txt"])).await.unwrap();
    let c = commit(d.path(), "add \"b\"").await.unwrap();
    let log = commits(d.path(), 10).await.unwrap();
    assert_eq!(log["commits"][0]["message"], "add \"b\"");
    assert_eq!(log["commits"][0]["hash"], c["hash"]);
    assert_eq!(log["commits"][1]["message"], "first \"quoted\" commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stages_at_once_with_a_status_alongside_all_succeed() {
    let d = repo();
    let names: Vec<String> = (0..16).map(|i| format!("f{i}.txt")).collect();
    for n in &names {
        std::fs::write(d.path().join(n), "x\n").unwrap();
    }
    let runs = names.iter().map(|n| {
        let (p, body, none) = (d.path().to_path_buf(), json!({ "files": [n] }), json!({}));
        tokio::spawn(async move {
            let (staged, _) = tokio::join!(act(&p, "stage", &body), act(&p, "status", &none));
            staged
        })
    });
    for r in runs.collect::<Vec<_>>() {
        r.await.unwrap().unwrap();
    }
    assert_eq!(status(d.path()).await.unwrap().to_json()["staged"], 16);
}

#[tokio::test]
async fn options_and_escapes_are_refused() {
    let d = repo();
    for bad in ["--output=/tmp/x", "-f", "a..b", "x y", ""] {
        assert!(
            matches!(checkout(d.path(), bad).await, Err(GitError::Invalid(_))),
            "{bad}"
        );
    }
    assert!(matches!(
        push(d.path(), Some("--force")).await,
        Err(GitError::Invalid(_))
    ));
    for bad in [json!(["../x"]), json!(["/etc/passwd"]), json!([]), json!(3)] {
        assert!(
            matches!(stage(d.path(), &bad).await, Err(GitError::Invalid(_))),
            "{bad}"
        );
    }
    // A file named like an option is a file.
    std::fs::write(d.path().join("-n"), "x\n").unwrap();
    stage(d.path(), &json!("-n")).await.unwrap();
    assert_eq!(status(d.path()).await.unwrap().files[0].path, "-n");
}

#[tokio::test]
async fn branches_and_comparison() {
    let d = repo();
    sh(d.path(), &["checkout", "-q", "-b", "dev"]);
    std::fs::write(d.path().join("c.txt"), "c\n").unwrap();
    sh(d.path(), &["add", "."]);
    sh(d.path(), &["commit", "-q", "-m", "on dev"]);
    let b = branches(d.path()).await.unwrap();
    let names: Vec<&str> = b["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dev", "main"]);
    assert_eq!(b["branches"][0]["current"], true);
    let cmp = branch_comparison(d.path(), "main", "dev").await.unwrap();
    assert_eq!(cmp["ahead"], 1);
    assert_eq!(cmp["stats"]["files"], 1);
    checkout(d.path(), "main").await.unwrap();
    let i = info(d.path()).await.unwrap();
    assert_eq!(
        (
            i["branch"].as_str(),
            i["baseBranch"].as_str(),
            i["devBranch"].as_str()
        ),
        (Some("main"), Some("main"), Some("dev"))
    );
}
