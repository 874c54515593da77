//! `detect:start { path }` on the live socket: what an app in a folder looks
//! like, step by step to the asking client (`detect:step { step, status, data,
//! timestamp }` for `validate`, `files`, `package`, `config`, `pm2`, `readme`),
//! then `detect:complete { success, result | error }`, as the original.
//!
//! Better than the original: the PM2 ecosystem file is read by Node.js (every
//! computed port), and the `pm2` step asks our supervisor.

use std::path::Path;

use serde_json::{Value, json};

use portos_core::time::now_ms;

use crate::Apps;
use crate::ecosystem::{ecosystem_file, read_ecosystem};

/// The first `port: N` (or `PORT=N`) in a config text.
fn port_after(text: &str, key: &str, sep: char) -> Option<u64> {
    text.match_indices(key).find_map(|(i, _)| {
        let rest = text[i + key.len()..].trim_start();
        let rest = rest.strip_prefix(sep)?.trim_start();
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok().filter(|p| (1..=65535).contains(p))
    })
}

/// What the folder's `.env` says: `PORT=` and `VITE_PORT=` lines.
fn env_ports(text: &str) -> (Option<u64>, Option<u64>) {
    let mut api = None;
    let mut ui = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let port = v.trim().trim_matches(['"', '\'']).parse::<u64>().ok();
        match k.trim() {
            "PORT" => api = api.or(port),
            "VITE_PORT" => ui = ui.or(port),
            _ => {}
        }
    }
    (api, ui)
}

/// The project type from its dependencies, in the original's words.
fn kind_of(pkg: &Value) -> &'static str {
    let has =
        |d: &str| pkg["dependencies"].get(d).is_some() || pkg["devDependencies"].get(d).is_some();
    if has("vite") && has("express") {
        "vite+express"
    } else if has("vite") || has("react") || has("vue") {
        "vite"
    } else if has("express") || has("fastify") || has("koa") {
        "single-node-server"
    } else if has("next") {
        "nextjs"
    } else {
        "unknown"
    }
}

/// Runs the detection of `path`; each event (`detect:step`, then
/// `detect:complete`) goes to `send` with its data.
pub async fn detect(apps: &Apps, path: &str, send: impl Fn(&str, &Value)) {
    let emit = |step: &str, status: &str, data: Value| {
        send(
            "detect:step",
            &json!({ "step": step, "status": status, "data": data, "timestamp": now_ms() }),
        );
    };
    let fail = |error: &str| {
        emit("validate", "error", json!({ "message": error }));
        send(
            "detect:complete",
            &json!({ "success": false, "error": error }),
        );
    };
    let dir = Path::new(path);
    emit(
        "validate",
        "running",
        json!({ "message": "Validating directory path..." }),
    );
    match tokio::fs::metadata(dir).await {
        Err(_) => return fail("Directory does not exist"),
        Ok(m) if !m.is_dir() => return fail("Path is not a directory"),
        Ok(_) => {}
    }
    emit("validate", "done", json!({ "message": "Valid directory" }));
    let mut r = json!({
        "name": dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        "description": "", "uiPort": null, "apiPort": null, "startCommands": [],
        "pm2ProcessNames": [], "pm2Status": null, "processes": [], "pm2Home": null, "type": "unknown",
    });

    emit(
        "files",
        "running",
        json!({ "message": "Scanning directory..." }),
    );
    let mut files = Vec::new();
    if let Ok(mut rd) = tokio::fs::read_dir(dir).await {
        while let Ok(Some(e)) = rd.next_entry().await {
            files.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    files.sort();
    emit(
        "files",
        "done",
        json!({ "message": format!("Found {} files", files.len()), "files": files.iter().take(20).collect::<Vec<_>>() }),
    );

    emit(
        "package",
        "running",
        json!({ "message": "Reading package.json..." }),
    );
    match tokio::fs::read(dir.join("package.json")).await {
        Err(_) => emit(
            "package",
            "done",
            json!({ "message": "No package.json found" }),
        ),
        Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Err(_) => emit(
                "package",
                "error",
                json!({ "message": "Invalid package.json format" }),
            ),
            Ok(pkg) => {
                if let Some(n) = pkg["name"].as_str().filter(|n| !n.is_empty()) {
                    r["name"] = json!(n);
                }
                r["description"] = json!(pkg["description"].as_str().unwrap_or_default());
                r["type"] = json!(kind_of(&pkg));
                let scripts = &pkg["scripts"];
                if scripts.get("dev").is_some() {
                    r["startCommands"] = json!(["npm run dev"]);
                } else if scripts.get("start").is_some() {
                    r["startCommands"] = json!(["npm start"]);
                }
                emit(
                    "package",
                    "done",
                    json!({ "message": format!("Found: {}", r["name"].as_str().unwrap_or_default()),
                            "name": r["name"], "description": r["description"], "type": r["type"],
                            "startCommands": r["startCommands"] }),
                );
            }
        },
    }

    emit(
        "config",
        "running",
        json!({ "message": "Checking configuration files..." }),
    );
    let mut config_files = Vec::new();
    if let Ok(text) = tokio::fs::read_to_string(dir.join(".env")).await {
        let (api, ui) = env_ports(&text);
        r["apiPort"] = json!(api);
        r["uiPort"] = json!(ui);
        config_files.push(".env".to_string());
    }
    for vite in ["vite.config.js", "vite.config.ts"] {
        if let Ok(text) = tokio::fs::read_to_string(dir.join(vite)).await {
            if let Some(p) = port_after(&text, "port", ':') {
                r["uiPort"] = json!(p);
            }
            config_files.push(vite.to_string());
        }
    }
    if let Some(file) = ecosystem_file(dir) {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match read_ecosystem(dir, &file).await {
            Ok((processes, home)) => {
                r["pm2Home"] = json!(home);
                if let Some(port) = processes.iter().map(|p| &p["port"]).find(|p| !p.is_null())
                    && r["apiPort"].is_null()
                {
                    r["apiPort"] = port.clone();
                }
                r["pm2ProcessNames"] = json!(
                    processes
                        .iter()
                        .map(|p| p["name"].clone())
                        .collect::<Vec<_>>()
                );
                r["processes"] = json!(processes);
            }
            Err(e) => emit("config", "error", json!({ "message": e.to_string() })),
        }
        config_files.push(name);
    }
    let listed = |v: &Value| {
        v.as_array()
            .is_some_and(|a| !a.is_empty())
            .then(|| v.clone())
    };
    emit(
        "config",
        "done",
        json!({
            "message": if config_files.is_empty() { "No config files found".to_string() } else { format!("Found: {}", config_files.join(", ")) },
            "uiPort": r["uiPort"], "apiPort": r["apiPort"],
            "pm2ProcessNames": listed(&r["pm2ProcessNames"]), "processes": listed(&r["processes"]),
            "configFiles": config_files,
        }),
    );

    emit(
        "pm2",
        "running",
        json!({ "message": "Checking PM2 processes..." }),
    );
    let name = r["name"].as_str().unwrap_or_default().to_string();
    let base = portos_core::id_from_name(&name);
    let candidates = [
        name.clone(),
        name.to_lowercase(),
        base.clone(),
        format!("{name}-ui"),
        format!("{name}-api"),
    ];
    let running = apps.supervisor.list().await.unwrap_or_default();
    let matching: Vec<Value> = running
        .iter()
        .filter(|p| {
            candidates.iter().any(|c| {
                !c.is_empty() && (p.name.contains(c.as_str()) || c.contains(p.name.as_str()))
            })
        })
        .map(|p| {
            let s = p.summary();
            json!({ "name": s["name"], "status": s["status"], "pid": s["pid"] })
        })
        .collect();
    if matching.is_empty() {
        emit(
            "pm2",
            "done",
            json!({ "message": "No matching PM2 processes found" }),
        );
        if r["pm2ProcessNames"].as_array().is_none_or(Vec::is_empty) {
            r["pm2ProcessNames"] = if r["type"] == "vite+express" {
                json!([format!("{base}-ui"), format!("{base}-api")])
            } else {
                json!([base])
            };
        }
    } else {
        r["pm2ProcessNames"] = json!(
            matching
                .iter()
                .map(|p| p["name"].clone())
                .collect::<Vec<_>>()
        );
        r["pm2Status"] = json!(matching);
        emit(
            "pm2",
            "done",
            json!({ "message": format!("Found {} running process(es)", matching.len()),
                    "pm2Status": r["pm2Status"], "pm2ProcessNames": r["pm2ProcessNames"] }),
        );
    }

    if r["description"].as_str().is_some_and(|d| !d.is_empty()) {
        emit(
            "readme",
            "skipped",
            json!({ "message": "Description already found in package.json" }),
        );
    } else {
        emit(
            "readme",
            "running",
            json!({ "message": "Reading README.md..." }),
        );
        let mut found = None;
        for f in ["README.md", "readme.md", "Readme.md"] {
            if let Ok(text) = tokio::fs::read_to_string(dir.join(f)).await {
                let first = text
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
                    .map(|l| l.chars().take(200).collect::<String>());
                if let Some(d) = first {
                    r["description"] = json!(d);
                }
                found = Some(f);
                break;
            }
        }
        emit(
            "readme",
            "done",
            match found {
                Some(f) => {
                    json!({ "message": format!("Found: {f}"), "description": r["description"] })
                }
                None => json!({ "message": "No README found" }),
            },
        );
    }
    send("detect:complete", &json!({ "success": true, "result": r }));
}
