//! The real process table (`supervisor.toml` of the repository) on free ports:
//! all six come up, speak gRPC health and reflection, and answer `/healthz`.

use std::time::Duration;

use portos_e2e::{Stack, free_port, repo_root};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

/// The repository's `supervisor.toml` with every port moved to a free one.
fn real_config() -> (String, Vec<(u16, u16)>) {
    let mut text = std::fs::read_to_string(repo_root().join("supervisor.toml")).unwrap();
    let mut moved = Vec::new();
    for port in 5554..=5560u16 {
        let new = free_port();
        text = text.replace(&port.to_string(), &new.to_string());
        moved.push((port, new));
    }
    (text, moved)
}

fn chromium_installed() -> bool {
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| {
            ["chromium", "chromium-browser", "google-chrome"]
                .iter()
                .any(|n| d.join(n).is_file())
        })
    })
}

fn curl(url: &str) -> (u16, String) {
    curl_with(url, None)
}

/// curl with the stack's owner token, read from a header file (`-H @file`)
/// so the token never stands on a command line.
fn curl_owner(stack: &Stack, url: &str) -> (u16, String) {
    let file = stack.dir.path().join("auth-header");
    std::fs::write(
        &file,
        format!("Authorization: Bearer {}\n", stack.owner_token()),
    )
    .unwrap();
    curl_with(url, Some(&file))
}

fn curl_with(url: &str, header_file: Option<&std::path::Path>) -> (u16, String) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-s", "-w", "\n%{http_code}", url]);
    if let Some(f) = header_file {
        cmd.arg("-H").arg(format!("@{}", f.display()));
    }
    let out = cmd.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap_or(0), body.to_string())
}

async fn channel(port: u16) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// The services reflection lists; `token` as the bearer (the api server
/// answers reflection to its owner only).
async fn reflection_services(
    channel: tonic::transport::Channel,
    token: Option<&str>,
) -> Vec<String> {
    let mut client =
        ServerReflectionClient::with_interceptor(channel, portos_rt::internal::Auth::new(token));
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut resp = client
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    match resp.message().await.unwrap().unwrap().message_response {
        Some(MessageResponse::ListServicesResponse(l)) => {
            l.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

#[test]
fn all_six_come_up_healthy_and_answer_health_and_reflection() {
    let (config, moved) = real_config();
    let port = |p: u16| moved.iter().find(|(o, _)| *o == p).unwrap().1;
    let stack = Stack::new(&config);
    let out = stack.portos(&["up", "-d"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let with_chromium = chromium_installed();
    if with_chromium {
        assert!(out.status.success(), "up -d: {stdout}\n{stderr}");
        assert!(stdout.contains("6 healthy"), "{stdout}");
    } else {
        assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
        assert!(
            stderr.contains("portos-browser is unhealthy: Chromium not found"),
            "{stderr}"
        );
    }
    // Progress: each service got its line.
    for name in [
        "portos-server",
        "portos-cos",
        "portos-ui",
        "portos-autofixer",
        "portos-autofixer-ui",
        "portos-browser",
    ] {
        assert!(stdout.contains(name), "{name} in {stdout}");
    }

    let status = stack.status();
    assert_eq!(status.len(), 6);
    for p in &status {
        assert!(p["pid"].as_u64().is_some_and(|pid| pid > 0), "{p}");
        assert!(!p["ports"].as_array().unwrap().is_empty(), "{p}");
        let healthy = p["name"] != "portos-browser" || with_chromium;
        assert_eq!(
            p["state"],
            if healthy { "healthy" } else { "unhealthy" },
            "{p}"
        );
    }
    let api = status
        .iter()
        .find(|p| p["name"] == "portos-server")
        .unwrap();
    assert_eq!(api["ports"][0]["port"], port(5554));

    // Every service: gRPC health and reflection, /healthz.
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (p, name) in [
        (5554, "portos-api"),
        (5558, "portos-runner"),
        (5555, "portos-ui"),
        (5559, "portos-autofixer"),
        (5560, "portos-autofixer-ui"),
    ] {
        let port = port(p);
        let (code, body) = curl(&format!("http://127.0.0.1:{port}/healthz"));
        assert_eq!(code, 200, "{name}: {body}");
        assert!(body.contains(name), "{body}");
        rt.block_on(async {
            let mut h = HealthClient::new(channel(port).await);
            let status = h
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .status;
            assert_eq!(status, 1, "{name} SERVING");
            let token = (p == 5554).then(|| stack.owner_token());
            let services = reflection_services(channel(port).await, token.as_deref()).await;
            assert!(
                services.iter().any(|s| s == "grpc.health.v1.Health"),
                "{services:?}"
            );
            assert!(
                services
                    .iter()
                    .any(|s| s == "grpc.reflection.v1.ServerReflection"),
                "{services:?}"
            );
        });
    }
    let (code, body) = curl(&format!("http://127.0.0.1:{}/healthz", port(5557)));
    if with_chromium {
        assert_eq!(code, 200, "{body}");
        let (code, version) = curl(&format!("http://127.0.0.1:{}/json/version", port(5556)));
        assert_eq!(code, 200);
        assert!(version.contains("webSocketDebuggerUrl"), "{version}");
    } else {
        assert_eq!(code, 503);
        assert!(body.contains("Chromium not found"), "{body}");
    }

    // The control socket lists its services too, and is private.
    rt.block_on(async {
        let channel = portos_proto::unix::connect(&stack.socket()).await.unwrap();
        let services = reflection_services(channel, None).await;
        assert!(
            services
                .iter()
                .any(|s| s == "portos.supervisor.v1.Supervisor"),
            "{services:?}"
        );
    });
    // A client we did not write (Python grpcio) discovers and calls everything by reflection.
    let target = format!("unix://{}", stack.socket().display());
    let answer =
        portos_e2e::python_grpc(&[&target, "portos.supervisor.v1.Supervisor", "ListProcesses"]);
    assert_eq!(answer["health"], "SERVING", "{answer}");
    let names: Vec<&str> = answer["response"]["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "portos-server",
            "portos-cos",
            "portos-ui",
            "portos-autofixer",
            "portos-autofixer-ui",
            "portos-browser"
        ]
    );
    assert_eq!(answer["response"]["processes"][0]["state"], "STATE_HEALTHY");
    let missing = portos_e2e::python_grpc(&[
        &target,
        "portos.supervisor.v1.Supervisor",
        "GetProcess",
        r#"{"name": "nope"}"#,
    ]);
    assert_eq!(missing["error"]["code"], "NOT_FOUND", "{missing}");
    let bad = portos_e2e::python_grpc(&[
        &target,
        "portos.supervisor.v1.Supervisor",
        "Restart",
        r#"{"name": ""}"#,
    ]);
    assert_eq!(bad["error"]["code"], "INVALID_ARGUMENT", "{bad}");
    let owner = stack.owner_token();
    let unauthenticated = portos_e2e::python_grpc(&[
        &format!("127.0.0.1:{}", port(5554)),
        "portos.api.v1.History",
        "Stats",
    ]);
    assert_eq!(unauthenticated["health"], "SERVING", "health stays open");
    assert_eq!(
        unauthenticated["error"]["code"], "UNAUTHENTICATED",
        "{unauthenticated}"
    );
    let api = portos_e2e::python_grpc_with(
        Some(&owner),
        &[
            &format!("127.0.0.1:{}", port(5554)),
            "portos.api.v1.History",
            "Stats",
        ],
    );
    assert_eq!(api["health"], "SERVING");
    let services: Vec<&str> = api["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert_eq!(
        services,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "portos.api.v1.Apps",
            "portos.api.v1.Events",
            "portos.api.v1.Files",
            "portos.api.v1.History",
            "portos.api.v1.Prompts",
            "portos.api.v1.Providers",
            "portos.api.v1.Runs",
            "portos.api.v1.Settings",
            "portos.cos.v1.ChiefOfStaff",
            "portos.instances.v1.Peer",
            "portos.integrations.v1.Accounts",
            "portos.integrations.v1.Activity",
            "portos.integrations.v1.Jira",
            "portos.integrations.v1.Schedules",
        ],
        "what the api server serves, and only that"
    );
    assert!(api["response"].is_object(), "History/Stats answered: {api}");
    // The apps over the real supervisor, from a client we did not write.
    let apps = portos_e2e::python_grpc_with(
        Some(&owner),
        &[
            &format!("127.0.0.1:{}", port(5554)),
            "portos.api.v1.Apps",
            "List",
        ],
    );
    let listed = apps["response"]["apps"]
        .as_array()
        .unwrap_or_else(|| panic!("{apps}"));
    let portos = listed
        .iter()
        .find(|a| a["id"] == "portos-default")
        .unwrap_or_else(|| panic!("no portos-default in {apps}"));
    assert_eq!(portos["overallStatus"], "online", "{portos}");
    assert_eq!(
        portos["processStatus"]["portos-server"], "online",
        "{portos}"
    );

    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(stack.socket())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    // Loopback is trusted no more than the LAN: no credential, no answer, on
    // the api server, the UI and the autofixer UI; the owner token opens them.
    for url in [
        format!("http://127.0.0.1:{}/api/apps", port(5554)),
        format!("http://127.0.0.1:{}/api/apps", port(5555)),
        format!("http://127.0.0.1:{}/", port(5555)),
        format!("http://127.0.0.1:{}/", port(5560)),
    ] {
        let (code, body) = curl(&url);
        assert_eq!(code, 401, "{url}: {body}");
    }
    let (code, body) = curl(&format!("http://127.0.0.1:{}/", port(5555)));
    assert!(
        body.contains("portos pair"),
        "the login page says how: {code} {body}"
    );

    // The api server reads processes and logs from the supervisor.
    let (code, body) = curl_owner(
        &stack,
        &format!("http://127.0.0.1:{}/api/logs/processes", port(5554)),
    );
    assert_eq!(code, 200, "{body}");
    let procs: serde_json::Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = procs
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
    assert_eq!(procs[0]["status"], "online");
    let (code, body) = curl_owner(
        &stack,
        &format!(
            "http://127.0.0.1:{}/api/logs/portos-ui?lines=20",
            port(5554)
        ),
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("portos-ui listening"), "{body}");
    let (code, body) = curl_owner(&stack, &format!("http://127.0.0.1:{}/api/apps", port(5554)));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"overallStatus\":\"online\""), "{body}");
    let (code, body) = curl_owner(
        &stack,
        &format!(
            "http://127.0.0.1:{}/api/apps/portos-default/status",
            port(5554)
        ),
    );
    assert_eq!(code, 200, "{body}");
    let st: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(st["portos-ui"]["status"], "online", "{st}");
    let (code, body) = curl_owner(
        &stack,
        &format!(
            "http://127.0.0.1:{}/api/apps/portos-default/logs?process=portos-ui&lines=5",
            port(5554)
        ),
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("portos-ui listening"), "{body}");
    let (code, body) = curl_owner(
        &stack,
        &format!(
            "http://127.0.0.1:{}/api/logs/app/portos-default?lines=5",
            port(5554)
        ),
    );
    assert_eq!(code, 200, "{body}");
    let all: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(all["processes"].as_object().unwrap().len(), 6, "{all}");

    // The OpenAPI document passes a validator we did not write.
    let (code, doc) = curl_owner(
        &stack,
        &format!("http://127.0.0.1:{}/api/openapi.json", port(5554)),
    );
    assert_eq!(code, 200);
    let spec = stack.dir.path().join("openapi.json");
    std::fs::write(&spec, doc).unwrap();
    let out = std::process::Command::new(portos_e2e::python())
        .args(["-m", "openapi_spec_validator"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The data dir was seeded like the original's setup.
    let apps = portos_e2e::read(&stack.data.join("apps.json"));
    assert!(apps.contains("portos-default") && !apps.contains("__PORTOS_ROOT__"));
    let out = stack.ok(&["down"]);
    assert!(out.contains("stopped"));
    assert!(stack.descendants().is_empty());
    let _ = Duration::ZERO;
}
