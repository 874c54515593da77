use super::*;

#[tokio::test]
async fn the_same_history_through_grpc_on_the_same_port() {
    use portos_proto::api::v1 as pb;
    let (data, access, owner_token) = fixture_data();
    let state = AppState::new(
        data.path().to_path_buf(),
        HostPolicy::new(Vec::new()),
        access,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let info = portos_rt::ServiceInfo {
        name: "portos-api",
        description: "test",
        default_host: "127.0.0.1",
        default_port: 0,
    };
    let token = portos_rt::tokio_util::sync::CancellationToken::new();
    let served = {
        let state = state.clone();
        let token = token.clone();
        tokio::spawn(portos_rt::serve(
            info,
            listener,
            token,
            move |_ctx| async move {
                let (grpc, grpc_names) = portos_api::grpc::routes(state.clone());
                let guard_state = state.clone();
                Ok(portos_rt::App {
                    rest: router(state),
                    grpc: Some(grpc),
                    grpc_names,
                    wrap: Some(Box::new(move |all| guarded(&guard_state, all))),
                    ..portos_rt::App::default()
                })
            },
        ))
    };
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let unauthenticated = pb::history_client::HistoryClient::new(channel.clone())
        .stats(pb::HistoryStatsRequest {})
        .await
        .unwrap_err();
    assert_eq!(unauthenticated.code(), tonic::Code::Unauthenticated);
    let with_token = |mut req: tonic::Request<()>| {
        req.metadata_mut().insert(
            "authorization",
            format!("Bearer {owner_token}").parse().unwrap(),
        );
        Ok(req)
    };
    let http = reqwest::Client::new();
    let rest_get = |path: &str| {
        http.get(format!("http://{addr}{path}"))
            .bearer_auth(&owner_token)
            .send()
    };
    assert_eq!(
        http.get(format!("http://{addr}/api/history"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        http.get(format!("http://{addr}/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200,
        "probes stay open"
    );
    let mut history =
        pb::history_client::HistoryClient::with_interceptor(channel.clone(), with_token);
    let listed = history
        .list(pb::ListHistoryRequest {
            action: Some("start".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let rest: Value = rest_get("/api/history?action=start")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.total as u64, rest["total"].as_u64().unwrap());
    let ids: Vec<&str> = listed.entries.iter().map(|e| e.id.as_str()).collect();
    let rest_ids: Vec<&str> = rest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, rest_ids);
    let stats = history
        .stats(pb::HistoryStatsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((stats.total, stats.by_action["start"]), (3, 2));
    assert!((stats.success_rate - 66.666).abs() < 0.01);
    let missing = history
        .delete(pb::DeleteHistoryRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let empty = history
        .delete(pb::DeleteHistoryRequest { id: String::new() })
        .await
        .unwrap_err();
    assert_eq!(empty.code(), tonic::Code::InvalidArgument);

    // Settings: the same masked document, and a merge seen by REST.
    let mut settings =
        pb::settings_client::SettingsClient::with_interceptor(channel.clone(), with_token);
    let doc = settings
        .get(pb::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!doc.json.contains("SECRETSECRET"), "{}", doc.json);
    let rest: Value = rest_get("/api/settings")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&doc.json).unwrap(), rest);
    settings
        .update(pb::UpdateSettingsRequest {
            patch_json: r#"{"theme": "from-grpc"}"#.into(),
        })
        .await
        .unwrap();
    let rest: Value = rest_get("/api/settings")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["theme"], "from-grpc");
    for bad in ["[1, 2]", "{not json"] {
        let e = settings
            .update(pb::UpdateSettingsRequest {
                patch_json: bad.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad}: {e:?}");
    }

    // Providers: same order, no key, secret env values masked.
    let listed =
        pb::providers_client::ProvidersClient::with_interceptor(channel.clone(), with_token)
            .list(pb::ListProvidersRequest {})
            .await
            .unwrap()
            .into_inner();
    assert_eq!(listed.active_provider.as_deref(), Some("claude-code"));
    let ids: Vec<&str> = listed.providers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["claude-code", "lmstudio"]);
    assert!(!format!("{listed:?}").contains("PROVIDERSECRET"));
    assert!(listed.providers[1].has_api_key);
    assert_eq!(
        listed.providers[0].env_vars["AWS_BEARER_TOKEN_BEDROCK"],
        "***"
    );
    // The same changes as REST, through gRPC.
    let mut prov =
        pb::providers_client::ProvidersClient::with_interceptor(channel.clone(), with_token);
    let made = prov
        .create(pb::CreateProviderRequest {
            provider_json: r#"{"name": "Via gRPC", "type": "cli", "command": "sh", "apiKey": "sk-GRPCSECRET-99999999"}"#.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((made.id.as_str(), made.has_api_key), ("via-grpc", true));
    assert!(!format!("{made:?}").contains("GRPCSECRET"));
    let rest: Value = rest_get("/api/providers/via-grpc")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["name"], "Via gRPC");
    let changed = prov
        .update(pb::UpdateProviderRequest {
            id: "via-grpc".into(),
            changes_json: r#"{"enabled": false}"#.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!changed.enabled && changed.has_api_key, "{changed:?}");
    let active = prov
        .set_active(pb::ProviderRequest {
            id: "via-grpc".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(active.id, "via-grpc");
    let tested = prov
        .test(pb::ProviderRequest {
            id: "via-grpc".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(tested.success, "sh is on PATH: {tested:?}");
    let bad = prov
        .create(pb::CreateProviderRequest {
            provider_json: r#"{"name": "x"}"#.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument, "{bad:?}");
    let taken = prov
        .create(pb::CreateProviderRequest {
            provider_json: r#"{"name": "Via gRPC", "type": "cli"}"#.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(taken.code(), tonic::Code::AlreadyExists, "{taken:?}");
    let missing = prov
        .get(pb::ProviderRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    prov.delete(pb::ProviderRequest {
        id: "via-grpc".into(),
    })
    .await
    .unwrap();
    let rest: Value = rest_get("/api/providers")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        rest["activeProvider"], "claude-code",
        "deleting the active one moves it"
    );

    // Files: an upload made over REST is listed and deleted over gRPC.
    let up: Value = http
        .post(format!("http://{addr}/api/uploads"))
        .bearer_auth(&owner_token)
        .json(&json!({ "filename": "notes.txt", "data": "aGVsbG8=" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored = up["filename"].as_str().unwrap().to_string();
    let mut files = pb::files_client::FilesClient::with_interceptor(channel.clone(), with_token);
    let listed = files
        .list(pb::ListFilesRequest {
            folder: pb::Folder::Uploads as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.files.len(), 1);
    assert_eq!(
        (listed.files[0].filename.as_str(), listed.files[0].size),
        (stored.as_str(), 5)
    );
    let e = files
        .delete(pb::DeleteFileRequest {
            folder: pb::Folder::Uploads as i32,
            filename: "../settings.json".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(data.path().join("settings.json").is_file());
    let e = files
        .list(pb::ListFilesRequest { folder: 0 })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    let gone = files
        .delete(pb::DeleteFileRequest {
            folder: pb::Folder::Uploads as i32,
            filename: stored.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(gone.size, 5);
    assert!(!data.path().join("uploads").join(&stored).exists());

    // Apps: the same list as REST; an unknown id is NotFound.
    let mut apps = pb::apps_client::AppsClient::with_interceptor(channel.clone(), with_token);
    let listed = apps
        .list(pb::ListAppsRequest {})
        .await
        .unwrap()
        .into_inner();
    let rest: Value = rest_get("/api/apps").await.unwrap().json().await.unwrap();
    let rest_ids: Vec<&str> = rest
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    let ids: Vec<&str> = listed.apps.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, rest_ids);
    assert!(!ids.is_empty());
    let e = apps
        .start(pb::AppRequest {
            id: "no-such-app".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);

    // Prompts through gRPC: save (a version each time), read, preview.
    let mut prompts =
        pb::prompts_client::PromptsClient::with_interceptor(channel.clone(), with_token);
    for t in ["Hi {{who}}", "Hello {{who}} from {{where}}"] {
        let saved = prompts
            .save_stage(pb::SaveStageRequest {
                stage: "greet".into(),
                config_json: r#"{"name": "Greet"}"#.into(),
                template: Some(t.into()),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(saved.version.is_some());
    }
    let stage = prompts
        .get_stage(pb::StageRequest {
            stage: "greet".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        stage.template.as_deref(),
        Some("Hello {{who}} from {{where}}")
    );
    let rest: Value = rest_get("/api/prompts/greet")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["name"], "Greet");
    let preview = prompts
        .preview(pb::PreviewRequest {
            stage: "greet".into(),
            data_json: r#"{"who": "Ada"}"#.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (preview.preview.as_str(), preview.missing),
        ("Hello Ada from", vec!["where".to_string()])
    );
    let versions = prompts
        .list_versions(pb::StageRequest {
            stage: "greet".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(versions.versions.len(), 2);
    let e = prompts
        .get_stage(pb::StageRequest {
            stage: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    let e = prompts
        .preview(pb::PreviewRequest {
            stage: "greet".into(),
            data_json: "[1]".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);

    // Provider status through gRPC.
    let mut prov =
        pb::providers_client::ProvidersClient::with_interceptor(channel.clone(), with_token);
    let st = prov
        .status(pb::ProviderRequest {
            id: "lmstudio".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(st.available && st.reason == "ok", "{st:?}");
    portos_ai::status::from_run(&state.ai, "lmstudio", "rate-limit", "429 Too Many Requests").await;
    let all = prov
        .statuses(pb::ProviderStatusesRequest {})
        .await
        .unwrap()
        .into_inner();
    let lm = all
        .statuses
        .iter()
        .find(|s| s.provider_id == "lmstudio")
        .unwrap();
    assert_eq!((lm.available, lm.reason.as_str()), (false, "rate-limit"));
    let back = prov
        .recover(pb::ProviderRequest {
            id: "lmstudio".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(back.available);

    // Live events as a gRPC stream: a failing REST request shows on `errors`.
    let mut events = pb::events_client::EventsClient::with_interceptor(channel.clone(), with_token);
    let bad = events
        .subscribe(pb::SubscribeRequest {
            channels: vec!["nosuch".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let mut stream = events
        .subscribe(pb::SubscribeRequest {
            channels: vec!["errors".into()],
        })
        .await
        .unwrap()
        .into_inner();
    tokio::time::sleep(Duration::from_millis(50)).await;
    rest_get("/api/history?limit=x").await.unwrap();
    // A failing gRPC call is published too.
    let e = pb::runs_client::RunsClient::with_interceptor(channel.clone(), with_token)
        .get(pb::RunRequest {
            id: "no-such-run".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    let mut kinds = Vec::new();
    let mut codes = Vec::new();
    while let Ok(Ok(Some(e))) =
        tokio::time::timeout(Duration::from_millis(500), stream.message()).await
    {
        kinds.push(e.event.clone());
        if e.event == "error:notified" {
            let data: Value = serde_json::from_str(&e.data_json).unwrap();
            codes.push(data["code"].as_str().unwrap_or_default().to_string());
            if codes.len() == 2 {
                break;
            }
        }
    }
    assert!(kinds.contains(&"error:notified".to_string()), "{kinds:?}");
    assert_eq!(
        codes,
        ["VALIDATION_ERROR", "NOT_FOUND"],
        "REST's and gRPC's errors alike"
    );
    token.cancel();
    drop(stream);
    drop(channel);
    let _ = tokio::time::timeout(Duration::from_secs(10), served).await;
}

#[tokio::test]
async fn the_openapi_document_covers_every_route() {
    let s = start().await;
    let (st, doc) = s.get("/api/openapi.json").await;
    assert_eq!(st, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/history", &["get", "delete"][..]),
        ("/api/history/stats", &["get"]),
        ("/api/history/actions", &["get"]),
        ("/api/history/{id}", &["delete"]),
        ("/api/settings", &["get", "put"]),
        ("/api/providers", &["get", "post"]),
        ("/api/providers/active", &["get", "put"]),
        ("/api/providers/{id}", &["get", "put", "delete"]),
        ("/api/providers/{id}/test", &["post"]),
        ("/api/providers/status", &["get"]),
        ("/api/providers/{id}/status", &["get"]),
        ("/api/providers/{id}/status/recover", &["post"]),
        ("/api/runs", &["get", "post", "delete"]),
        ("/api/runs/{id}", &["get", "delete"]),
        ("/api/runs/{id}/output", &["get"]),
        ("/api/runs/{id}/prompt", &["get"]),
        ("/api/runs/{id}/stop", &["post"]),
        ("/api/lmstudio/status", &["get"]),
        ("/api/lmstudio/models", &["get"]),
        ("/api/lmstudio/download", &["post"]),
        ("/api/lmstudio/load", &["post"]),
        ("/api/lmstudio/unload", &["post"]),
        ("/api/lmstudio/completion", &["post"]),
        ("/api/lmstudio/embeddings", &["post"]),
        ("/api/lmstudio/config", &["put"]),
        ("/api/lmstudio/reset-cache", &["post"]),
        ("/api/lmstudio/analyze-task", &["post"]),
        ("/api/lmstudio/classify-memory", &["post"]),
        ("/api/lmstudio/thinking-stats", &["get"]),
        ("/api/prompts", &["get", "post"]),
        ("/api/prompts/reload", &["post"]),
        ("/api/prompts/variables", &["get", "post"]),
        ("/api/prompts/variables/{key}", &["get", "put", "delete"]),
        ("/api/prompts/{stage}", &["get", "put", "delete"]),
        ("/api/prompts/{stage}/usage", &["get"]),
        ("/api/prompts/{stage}/preview", &["post"]),
        ("/api/prompts/{stage}/versions", &["get"]),
        ("/api/prompts/{stage}/versions/{version}", &["get"]),
        ("/api/logs/processes", &["get"]),
        ("/api/logs/{process}", &["get"]),
        ("/api/apps", &["get", "post"]),
        ("/api/apps/{id}", &["get", "put", "delete"]),
        ("/api/apps/{id}/archive", &["post"]),
        ("/api/apps/{id}/unarchive", &["post"]),
        ("/api/apps/{id}/task-types", &["get"]),
        ("/api/apps/{id}/task-types/{taskType}", &["put"]),
        ("/api/apps/{id}/open-editor", &["post"]),
        ("/api/apps/{id}/open-folder", &["post"]),
        ("/api/apps/{id}/update", &["post"]),
        ("/api/apps/{id}/refresh-config", &["post"]),
        ("/api/apps/{id}/start", &["post"]),
        ("/api/apps/{id}/stop", &["post"]),
        ("/api/apps/{id}/restart", &["post"]),
        ("/api/apps/{id}/status", &["get"]),
        ("/api/apps/{id}/logs", &["get"]),
        ("/api/logs/app/{id}", &["get"]),
        ("/api/uploads", &["get", "post", "delete"]),
        ("/api/uploads/{filename}", &["get", "delete"]),
        ("/api/screenshots", &["get", "post"]),
        ("/api/screenshots/{filename}", &["get", "delete"]),
        ("/api/attachments", &["get", "post"]),
        ("/api/attachments/{filename}", &["get", "delete"]),
        ("/api/autofixer", &["get"]),
        ("/api/autofixer/history", &["get"]),
        ("/api/autofixer/sessions/{id}", &["get"]),
        ("/api/autofixer/fix", &["post"]),
        ("/api/autofixer/pause", &["post"]),
        ("/api/autofixer/resume", &["post"]),
        ("/api/autofixer/config", &["get", "put"]),
        ("/api/browser", &["get"]),
        ("/api/browser/config", &["get", "put"]),
        ("/api/browser/navigate", &["post"]),
        ("/api/browser/screenshot", &["post"]),
        ("/api/browser/pages/{id}", &["delete"]),
        ("/api/processes/{name}/{action}", &["post"]),
        ("/api/agents/accounts", &["get", "post"]),
        ("/api/agents/schedules/{id}", &["get", "put", "delete"]),
        ("/api/agents/schedules/{id}/run", &["post"]),
        ("/api/jira/instances", &["get", "post"]),
        ("/api/apps/preview", &["post"]),
        ("/api/ports/scan", &["get"]),
        ("/api/ports/check", &["post"]),
        ("/api/ports/allocate", &["post"]),
        ("/api/git/{id}", &["get", "post"]),
        ("/api/instances", &["get"]),
        ("/api/instances/self", &["get", "put"]),
        ("/api/instances/peers", &["post"]),
        ("/api/instances/peers/{id}", &["put", "delete"]),
        ("/api/instances/peers/{id}/connect", &["post"]),
        ("/api/instances/peers/{id}/probe", &["post"]),
        ("/api/instances/peers/{id}/query", &["get"]),
        ("/api/instances/agents", &["get"]),
        ("/api/cos", &["get"]),
        ("/api/cos/start", &["post"]),
        ("/api/cos/stop", &["post"]),
        ("/api/cos/pause", &["post"]),
        ("/api/cos/resume", &["post"]),
        ("/api/cos/evaluate", &["post"]),
        ("/api/cos/watcher", &["get"]),
        ("/api/cos/config", &["get", "put"]),
        ("/api/cos/tasks", &["get", "post"]),
        ("/api/cos/tasks/user", &["get"]),
        ("/api/cos/tasks/internal", &["get"]),
        ("/api/cos/tasks/reorder", &["post"]),
        ("/api/cos/tasks/enhance", &["post"]),
        ("/api/cos/tasks/refresh", &["post"]),
        ("/api/cos/tasks/{id}", &["put", "delete"]),
        ("/api/cos/tasks/{id}/approve", &["post"]),
        ("/api/cos/agents", &["get"]),
        ("/api/cos/agents/history", &["get"]),
        ("/api/cos/agents/history/{date}", &["get"]),
        ("/api/cos/agents/{id}", &["get", "delete"]),
        ("/api/cos/agents/{id}/terminate", &["post"]),
        ("/api/cos/agents/{id}/kill", &["post"]),
        ("/api/cos/agents/{id}/stats", &["get"]),
        ("/api/cos/agents/completed", &["delete"]),
        ("/api/cos/health", &["get"]),
        ("/api/cos/health/check", &["post"]),
        ("/api/cos/reports", &["get"]),
        ("/api/cos/reports/today", &["get"]),
        ("/api/cos/reports/{date}", &["get"]),
        ("/api/cos/reports/generate", &["post"]),
        ("/api/cos/learning", &["get"]),
        ("/api/cos/learning/summary", &["get"]),
        ("/api/cos/learning/skipped", &["get"]),
        ("/api/cos/learning/reset/{taskType}", &["post"]),
        (
            "/api/jira/instances/{id}/tickets/{ticket}",
            &["put", "delete"],
        ),
    ] {
        let p = paths.get(path).unwrap_or_else(|| {
            panic!("{path} missing from {:?}", paths.keys().collect::<Vec<_>>())
        });
        for m in methods {
            assert!(p.get(*m).is_some(), "{m} {path}");
        }
    }
    assert_eq!(paths.len(), 210, "{:?}", paths.keys().collect::<Vec<_>>());
}

/// CORS lets no foreign origin read answers, not even the UI's port on an IP
/// literal (the UI reaches the api through its own server); only an origin
/// listed exactly in `PORTOS_CORS_ORIGINS` would.
#[tokio::test]
async fn no_foreign_origin_may_read_answers() {
    let s = start().await;
    for origin in [
        "http://localhost:5555",
        "http://203.0.113.7:5555",
        "http://evil.example.com",
        "http://localhost:8080",
    ] {
        let r = s
            .http
            .request(reqwest::Method::OPTIONS, format!("{}/api/history", s.base))
            .header("origin", origin)
            .header("access-control-request-method", "DELETE")
            .send()
            .await
            .unwrap();
        let header = r.headers().get("access-control-allow-origin");
        assert!(header.is_none(), "{origin}: {header:?}");
    }
}

#[tokio::test]
async fn apps_are_created_updated_archived_and_deleted_like_the_original() {
    let s = start().await;
    let (st, body) = s.post_json("/api/apps", &json!({"name": "My Blog", "repoPath": "/src/blog", "uiPort": 3000, "processes": [{"name": "x"}], "extraField": 7})).await;
    assert_eq!(st, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(body["pm2ProcessNames"], json!(["my-blog"]));
    assert_eq!(body["startCommands"], json!(["npm run dev"]));
    assert_eq!(body["uiPort"], 3000);
    assert_eq!(body["extraField"], 7);
    assert!(
        body.get("processes").is_none(),
        "processes are not taken on create: {body}"
    );
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(s.data.path().join("apps.json")).unwrap())
            .unwrap();
    assert!(
        file["apps"]["portos-default"].is_object(),
        "the others are kept"
    );
    assert!(
        file["apps"][&id].get("id").is_none(),
        "the id is the key, not a field"
    );

    let (st, body) = s
        .post_json("/api/apps", &json!({"name": "", "uiPort": 70000}))
        .await;
    assert_eq!(st, 400);
    assert_error_shape(&body, "VALIDATION_ERROR");
    let paths: Vec<&str> = body["context"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["name", "repoPath", "uiPort"]);

    let (st, body) = s
        .send(
            reqwest::Method::PUT,
            &format!("/api/apps/{id}"),
            Some(r#"{"description": "mine", "createdAt": "x", "id": "y"}"#),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        (body["description"].as_str(), body["id"].as_str()),
        (Some("mine"), Some(id.as_str()))
    );
    assert_ne!(body["createdAt"], "x");
    let (st, _) = s
        .send(reqwest::Method::PUT, "/api/apps/nope", Some("{}"))
        .await;
    assert_eq!(st, 404);

    let (st, body) = s.post(&format!("/api/apps/{id}/archive")).await;
    assert_eq!((st, body["archived"].as_bool()), (200, Some(true)));
    let (st, body) = s.post("/api/apps/portos-default/archive").await;
    assert_eq!(st, 403);
    assert_error_shape(&body, "PROTECTED");
    let (st, _) = s.delete("/api/apps/portos-default").await;
    assert_eq!(st, 403);
    let (st, _) = s.delete(&format!("/api/apps/{id}")).await;
    assert_eq!(st, 204);
    let (st, _) = s.get(&format!("/api/apps/{id}")).await;
    assert_eq!(st, 404);
}
