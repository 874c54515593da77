//! The owner's own apps under the supervisor, through the real binaries: an
//! app folder with a PM2 ecosystem file registered over REST runs as its own
//! group, comes back after `kill -9`, stops as a whole, leaves nothing behind
//! when deleted, and an `apps.json` written in the original's format runs at
//! the next `portos up`.

use std::path::Path;
use std::time::Duration;

use portos_e2e::{Stack, alive, free_port, wait_for};
use serde_json::{Value, json};

use crate::http::Api;

/// The api server alone under the supervisor (the apps need nothing else).
pub(crate) fn api_stack() -> (Stack, u16) {
    let api = free_port();
    let stack = Stack::new(&format!(
        "[[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\", PORTOS_PROVIDER_CHECK_SECS = \"3600\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n"
    ));
    stack.ok(&["up", "-d"]);
    (stack, api)
}

/// An app folder: a Node.js HTTP server on `port` (from `PORT`) and a Python
/// worker, in a PM2 ecosystem file that also asks for what we cannot honour.
pub(crate) fn fixture_app(dir: &Path, port: u16, names: (&str, &str)) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("server.js"),
        "require('http').createServer((q, s) => s.end('hello from the app')).listen(Number(process.env.PORT), '127.0.0.1');\n\
         console.log('app server on ' + process.env.PORT + ' greeting ' + process.env.GREETING);\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("worker.py"),
        "import time\nprint('worker up', flush=True)\nwhile True:\n    time.sleep(1)\n",
    )
    .unwrap();
    std::fs::write(dir.join(".env"), "GREETING=from-dotenv\n").unwrap();
    let (web, worker) = names;
    std::fs::write(
        dir.join("ecosystem.config.cjs"),
        format!(
            "const PORT = {port};\n\
             module.exports = {{ apps: [\n\
               {{ name: '{web}', script: 'server.js', env: {{ PORT }}, max_restarts: 5, kill_timeout: 3000, watch: true }},\n\
               {{ name: '{worker}', script: 'worker.py', instances: 2, min_uptime: '500ms' }},\n\
             ] }};\n"
        ),
    )
    .unwrap();
}

fn group_of(stack: &Stack, group: &str) -> Vec<Value> {
    stack
        .status()
        .into_iter()
        .filter(|p| p["group"] == group)
        .collect()
}

/// Waits until `name` is listed and healthy (an app's group may be applied a
/// moment after the api server starts); its pid.
fn healthy(stack: &Stack, name: &str) -> i32 {
    wait_for(Duration::from_secs(30), &format!("{name} healthy"), || {
        let p = stack.status().into_iter().find(|p| p["name"] == name)?;
        (p["state"] == "healthy").then(|| p["pid"].as_i64().map(|p| p as i32))?
    })
}

#[tokio::test]
async fn an_app_registered_over_rest_runs_under_the_supervisor_and_leaves_no_orphan() {
    let (stack, port) = api_stack();
    let api = Api::new(port, &stack.owner_token());
    let app_port = free_port();
    let folder = stack.dir.path().join("my-app");
    fixture_app(&folder, app_port, ("my-web", "my-worker"));

    let (st, app) = api
        .post(
            "/api/apps",
            json!({ "name": "My App", "repoPath": folder.display().to_string() }),
        )
        .await;
    assert_eq!(st, 201, "{app}");
    let id = app["id"].as_str().unwrap().to_string();
    let sup = &app["supervision"];
    assert_eq!(sup["started"], json!(["my-web", "my-worker"]), "{app}");
    assert_eq!(app["pm2ProcessNames"], json!(["my-web", "my-worker"]));
    // What cannot be honoured is named, not dropped.
    let notes = sup["unhonoured"].to_string();
    assert!(notes.contains("my-web: watch"), "{notes}");
    assert!(notes.contains("my-worker: instances: 2"), "{notes}");

    // Both healthy, listed under the app's group in `portos status`.
    let web = healthy(&stack, "my-web");
    let worker = healthy(&stack, "my-worker");
    let table = stack.ok(&["status"]);
    assert!(table.contains(&id), "{table}");
    assert_eq!(group_of(&stack, &id).len(), 2);
    let body = reqwest::get(format!("http://127.0.0.1:{app_port}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "hello from the app");
    let log = stack.ok(&["logs", &format!("{id}:my-web"), "-n", "5"]);
    assert!(
        log.contains(&format!("app server on {app_port} greeting from-dotenv")),
        "{log}"
    );
    // No internal token in an app's environment.
    let environ = std::fs::read(format!("/proc/{web}/environ")).unwrap();
    assert!(!String::from_utf8_lossy(&environ).contains("PORTOS_INTERNAL_TOKEN"));

    // kill -9 of one: back with a new pid.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(worker),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_for(Duration::from_secs(20), "the worker back", || {
        let p = stack.process("my-worker");
        (p["state"] == "healthy" && p["pid"].as_i64()? as i32 != worker).then_some(())
    });

    // The app's stop stops both; the stack is untouched.
    let server = stack.pid_of("portos-server");
    let (st, out) = api.post(&format!("/api/apps/{id}/stop"), json!({})).await;
    assert_eq!(st, 200, "{out}");
    for p in group_of(&stack, &id) {
        assert_eq!(p["state"], "stopped", "{p}");
    }
    assert!(!alive(web));
    assert_eq!(stack.pid_of("portos-server"), server);
    let view = api.get(&format!("/api/apps/{id}")).await;
    assert_eq!(view["pm2Status"]["my-web"]["status"], "stopped", "{view}");

    // Started again, then deleted: its processes gone, nothing left running.
    let (st, _) = api.post(&format!("/api/apps/{id}/start"), json!({})).await;
    assert_eq!(st, 200);
    let web = healthy(&stack, "my-web");
    let worker = healthy(&stack, "my-worker");
    let (st, _) = api
        .call(reqwest::Method::DELETE, &format!("/api/apps/{id}"), None)
        .await;
    assert_eq!(st, 204);
    assert!(group_of(&stack, &id).is_empty());
    assert!(!alive(web) && !alive(worker), "no orphan");
    assert!(!stack.data.join(format!("supervisor.d/{id}.toml")).exists());
    assert!(stack.pid_of("portos-server").is_some());
}

#[tokio::test]
async fn an_app_whose_names_or_ports_are_taken_is_refused_whole() {
    let (stack, port) = api_stack();
    let api = Api::new(port, &stack.owner_token());
    let app_port = free_port();
    let first = stack.dir.path().join("first");
    fixture_app(&first, app_port, ("one-web", "one-worker"));
    let (st, a) = api
        .post(
            "/api/apps",
            json!({ "name": "First", "repoPath": first.display().to_string() }),
        )
        .await;
    assert_eq!(st, 201, "{a}");

    // Another app on the same port: refused, naming who holds it; not registered.
    let second = stack.dir.path().join("second");
    fixture_app(&second, app_port, ("two-web", "two-worker"));
    let (st, err) = api
        .post(
            "/api/apps",
            json!({ "name": "Second", "repoPath": second.display().to_string() }),
        )
        .await;
    assert_eq!(st, 400, "{err}");
    let msg = err["error"].as_str().unwrap();
    assert!(
        msg.contains(&app_port.to_string()) && msg.contains("one-web"),
        "{msg}"
    );
    let apps = api.get("/api/apps").await;
    assert!(
        apps.as_array()
            .unwrap()
            .iter()
            .all(|a| a["name"] != "Second"),
        "{apps}"
    );
    assert!(stack.status().iter().all(|p| p["name"] != "two-web"));
}

#[test]
fn an_apps_json_in_the_original_format_runs_after_up() {
    let api = free_port();
    let stack = Stack::new(&format!(
        "[[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n"
    ));
    // The original's data.sample apps.json, plus an app of the user's as the
    // original wrote it (a PM2 app: process names and ports, no group of ours).
    let app_port = free_port();
    let folder = stack.dir.path().join("legacy");
    fixture_app(&folder, app_port, ("legacy-web", "legacy-worker"));
    std::fs::create_dir_all(&stack.data).unwrap();
    let sample = json!({ "apps": {
        "portos-default": {
            "id": "portos-default", "name": "PortOS", "repoPath": stack.dir.path().display().to_string(),
            "type": "express", "uiPort": 5555, "apiPort": 5554, "startCommands": ["npm run dev"],
            "pm2ProcessNames": ["portos-server", "portos-cos", "portos-ui", "portos-autofixer", "portos-autofixer-ui", "portos-browser"],
            "envFile": ".env", "icon": "portos", "editorCommand": "code .",
            "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z"
        },
        "legacy-app": {
            "name": "Legacy", "repoPath": folder.display().to_string(), "type": "express",
            "uiPort": app_port, "startCommands": ["npm run dev"],
            "pm2ProcessNames": ["legacy-web", "legacy-worker"], "envFile": ".env",
            "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z"
        }
    }});
    std::fs::write(
        stack.data.join("apps.json"),
        serde_json::to_string_pretty(&sample).unwrap(),
    )
    .unwrap();
    // A kept group whose app is gone (deleted while the supervisor was down).
    std::fs::create_dir_all(stack.data.join("supervisor.d")).unwrap();
    std::fs::write(
        stack.data.join("supervisor.d/ghost-app.toml"),
        "[[process]]\nname = \"ghost\"\ncommand = \"sleep\"\nargs = [\"1000\"]\n",
    )
    .unwrap();
    stack.ok(&["up", "-d"]);
    healthy(&stack, "legacy-web");
    healthy(&stack, "legacy-worker");
    assert_eq!(group_of(&stack, "legacy-app").len(), 2);
    // The api server removes it when it starts.
    wait_for(
        Duration::from_secs(10),
        "the gone app's group removed",
        || group_of(&stack, "ghost-app").is_empty().then_some(()),
    );
    assert!(!stack.data.join("supervisor.d/ghost-app.toml").exists());
    // PortOS's own app is never a group of its own.
    assert!(group_of(&stack, "portos-default").is_empty());

    // Kept in the data dir: the next `up` runs it again before the api server
    // asks — all but what the owner stopped.
    stack.ok(&["stop", "legacy-app:legacy-worker"]);
    stack.ok(&["down"]);
    assert!(stack.data.join("supervisor.d/legacy-app.toml").exists());
    stack.ok(&["up", "-d"]);
    wait_for(Duration::from_secs(10), "the kept group applied", || {
        (group_of(&stack, "legacy-app").len() == 2).then_some(())
    });
    healthy(&stack, "legacy-web");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(stack.process("legacy-worker")["state"], "stopped");
    // Started again, it is no longer held.
    stack.ok(&["start", "legacy-worker"]);
    assert!(!stack.data.join("supervisor.d/legacy-app.stopped").exists());
    stack.ok(&["down"]);
    stack.ok(&["up", "-d"]);
    healthy(&stack, "legacy-worker");
}

#[tokio::test]
async fn an_update_pulls_and_restarts_the_apps_processes_on_their_new_table() {
    use portos_test_support::git;
    let (stack, port) = api_stack();
    let api = Api::new(port, &stack.owner_token());
    let app_port = free_port();
    let upstream = stack.dir.path().join("upstream");
    fixture_app(&upstream, app_port, ("up-web", "up-worker"));
    git(&upstream, &["init", "-q", "-b", "main"]);
    git(&upstream, &["add", "."]);
    git(&upstream, &["commit", "-q", "-m", "first"]);
    let checkout = stack.dir.path().join("checkout");
    git(
        stack.dir.path(),
        &[
            "clone",
            "-q",
            upstream.to_str().unwrap(),
            checkout.to_str().unwrap(),
        ],
    );
    let (st, app) = api
        .post(
            "/api/apps",
            json!({ "name": "Up", "repoPath": checkout.display().to_string() }),
        )
        .await;
    assert_eq!(st, 201, "{app}");
    let id = app["id"].as_str().unwrap().to_string();
    let web = healthy(&stack, "up-web");
    let worker = healthy(&stack, "up-worker");

    // Upstream, the web process gets a new environment.
    let eco = std::fs::read_to_string(upstream.join("ecosystem.config.cjs")).unwrap();
    std::fs::write(
        upstream.join("ecosystem.config.cjs"),
        eco.replace("env: { PORT }", "env: { PORT, GREETING: 'from-upstream' }"),
    )
    .unwrap();
    git(&upstream, &["commit", "-q", "-am", "a greeting"]);

    let (st, out) = api.post(&format!("/api/apps/{id}/update"), json!({})).await;
    assert_eq!(st, 200, "{out}");
    assert_eq!(out["success"], true, "{out}");
    let web2 = healthy(&stack, "up-web");
    let worker2 = healthy(&stack, "up-worker");
    assert_ne!(web, web2, "the changed process runs its new table");
    assert_ne!(
        worker, worker2,
        "the unchanged one restarted for the new code"
    );
    let log = stack.ok(&["logs", "up-web", "-n", "5"]);
    assert!(log.contains("greeting from-upstream"), "{log}");
}
