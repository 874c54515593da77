//! The gRPC face of the api server: the same operations as the REST routes,
//! calling the same functions, converted to `portos.api.v1` here and only here.

use std::pin::Pin;

use portos_proto::api::v1 as pb;
use portos_proto::integrations::v1 as ipb;
use portos_store::types::HistoryEntry;
use tonic::{Request, Response, Status};

use crate::routes::{files, history, processes, providers, settings};
use crate::runs;
use crate::{ApiError, AppState};

/// Every gRPC service of the api server, and their names for reflection.
pub fn routes(app: AppState) -> (tonic::service::Routes, Vec<&'static str>) {
    let routes = tonic::service::Routes::new(pb::history_server::HistoryServer::new(HistoryRpc(
        app.clone(),
    )))
    .add_service(pb::events_server::EventsServer::new(EventsRpc(app.clone())))
    .add_service(pb::settings_server::SettingsServer::new(SettingsRpc(
        app.clone(),
    )))
    .add_service(pb::providers_server::ProvidersServer::new(ProvidersRpc(
        app.clone(),
    )))
    .add_service(pb::apps_server::AppsServer::new(AppsRpc(app.clone())))
    .add_service(pb::files_server::FilesServer::new(FilesRpc(app.clone())))
    .add_service(pb::runs_server::RunsServer::new(RunsRpc(app.clone())))
    .add_service(pb::prompts_server::PromptsServer::new(PromptsRpc(
        app.clone(),
    )))
    .add_service(ipb::schedules_server::SchedulesServer::new(
        crate::grpc_integrations::SchedulesRpc(app.clone()),
    ))
    .add_service(ipb::accounts_server::AccountsServer::new(
        crate::grpc_integrations::AccountsRpc(app.clone()),
    ))
    .add_service(ipb::activity_server::ActivityServer::new(
        crate::grpc_integrations::ActivityRpc(app.clone()),
    ))
    .add_service(ipb::jira_server::JiraServer::new(
        crate::grpc_integrations::JiraRpc(app),
    ));
    (
        routes,
        vec![
            "portos.api.v1.History",
            "portos.api.v1.Events",
            "portos.api.v1.Settings",
            "portos.api.v1.Providers",
            "portos.api.v1.Apps",
            "portos.api.v1.Files",
            "portos.api.v1.Runs",
            "portos.api.v1.Prompts",
            "portos.integrations.v1.Schedules",
            "portos.integrations.v1.Accounts",
            "portos.integrations.v1.Activity",
            "portos.integrations.v1.Jira",
        ],
    )
}

/// A handler's result as a gRPC answer: errors through [`fail`].
pub(crate) trait OrStatus<T> {
    fn or_status(self, app: &AppState) -> Result<T, Status>;
}

impl<T, E: Into<ApiError>> OrStatus<T> for Result<T, E> {
    fn or_status(self, app: &AppState) -> Result<T, Status> {
        self.map_err(|e| fail(app, e.into()))
    }
}

/// An error as a gRPC status, also published on the `errors` channel like
/// every REST error.
fn fail(app: &AppState, e: ApiError) -> Status {
    app.hub
        .publish_error(e.status.as_u16(), e.code, &e.message, e.context.as_ref());
    e.to_status()
}

fn entry_to_proto(e: &HistoryEntry) -> pb::HistoryEntry {
    pb::HistoryEntry {
        id: e.id.clone(),
        action: e.action.clone(),
        target: e.target.clone(),
        target_name: e.target_name.clone(),
        details_json: e.details.to_string(),
        success: e.success,
        error: e.error.clone(),
        timestamp: e.timestamp.clone(),
    }
}

/// `portos.api.v1.History`.
#[derive(Debug, Clone)]
pub struct HistoryRpc(AppState);

#[tonic::async_trait]
impl pb::history_server::History for HistoryRpc {
    async fn list(
        &self,
        req: Request<pb::ListHistoryRequest>,
    ) -> Result<Response<pb::ListHistoryResponse>, Status> {
        let r = req.into_inner();
        let f = history::Filter {
            limit: if r.limit == 0 { 100 } else { r.limit as usize },
            offset: r.offset as usize,
            action: r.action,
            target: r.target,
            success: r.success,
        };
        let page = history::query(&self.0, &f).await.or_status(&self.0)?;
        Ok(Response::new(pb::ListHistoryResponse {
            total: page.total as u32,
            entries: page.entries().map(entry_to_proto).collect(),
        }))
    }

    async fn stats(
        &self,
        _req: Request<pb::HistoryStatsRequest>,
    ) -> Result<Response<pb::HistoryStats>, Status> {
        let s = history::compute_stats(&self.0).await.or_status(&self.0)?;
        Ok(Response::new(pb::HistoryStats {
            total: s.total as u32,
            success_rate: s.success_percent(),
            last_24h: s.last24h as u32,
            by_action: s
                .by_action
                .into_iter()
                .map(|(k, v)| (k, v as u32))
                .collect(),
        }))
    }

    async fn delete(
        &self,
        req: Request<pb::DeleteHistoryRequest>,
    ) -> Result<Response<pb::DeleteHistoryResponse>, Status> {
        let id = req.into_inner().id;
        if id.is_empty() {
            return Err(Status::invalid_argument("id is required"));
        }
        let deleted = history::delete(&self.0, &id).await.or_status(&self.0)?;
        if !deleted {
            return Err(Status::not_found(format!("no history entry {id:?}")));
        }
        Ok(Response::new(pb::DeleteHistoryResponse { deleted }))
    }

    async fn clear(
        &self,
        req: Request<pb::ClearHistoryRequest>,
    ) -> Result<Response<pb::ClearHistoryResponse>, Status> {
        let days = req.into_inner().older_than_days.map(u64::from);
        history::clear_older_than(&self.0, days)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::ClearHistoryResponse {}))
    }
}

/// `portos.api.v1.Events`: the hub's events for the asked channels.
#[derive(Debug, Clone)]
pub struct EventsRpc(AppState);

type EventStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::LiveEvent, Status>> + Send>>;

#[tonic::async_trait]
impl pb::events_server::Events for EventsRpc {
    type SubscribeStream = EventStream;

    async fn subscribe(
        &self,
        req: Request<pb::SubscribeRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let hub = self.0.hub.clone();
        let mut sub = hub.connect();
        for ch in &req.into_inner().channels {
            if hub.set_subscribed(sub.id, ch, true).is_none() {
                hub.disconnect(sub.id);
                return Err(Status::invalid_argument(format!(
                    "unknown channel {ch:?}; channels: {}",
                    crate::events::CHANNELS.join(", ")
                )));
            }
        }
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            while let Some(next) = sub.next().await {
                let item = match next {
                    Ok(text) => {
                        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                        Ok(pb::LiveEvent {
                            event: v["event"].as_str().unwrap_or_default().to_string(),
                            data_json: v["data"].to_string(),
                        })
                    }
                    Err(reason) => Err(Status::resource_exhausted(reason)),
                };
                let end = item.is_err();
                if tx.send(item).await.is_err() || end {
                    break;
                }
            }
            hub.disconnect(sub.id);
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}

/// `portos.api.v1.Settings`.
#[derive(Debug, Clone)]
pub struct SettingsRpc(AppState);

#[tonic::async_trait]
impl pb::settings_server::Settings for SettingsRpc {
    async fn get(
        &self,
        _req: Request<pb::GetSettingsRequest>,
    ) -> Result<Response<pb::SettingsDocument>, Status> {
        let v = settings::read(&self.0).await.or_status(&self.0)?;
        Ok(Response::new(pb::SettingsDocument {
            json: v.to_string(),
        }))
    }

    async fn update(
        &self,
        req: Request<pb::UpdateSettingsRequest>,
    ) -> Result<Response<pb::SettingsDocument>, Status> {
        let patch = json_arg(&self.0, "patch_json", &req.into_inner().patch_json)?;
        let v = settings::merge(&self.0, patch).await.or_status(&self.0)?;
        Ok(Response::new(pb::SettingsDocument {
            json: v.to_string(),
        }))
    }
}

/// `portos.api.v1.Providers`.
#[derive(Debug, Clone)]
pub struct ProvidersRpc(AppState);

fn provider_to_proto(p: &portos_store::types::Provider) -> pb::Provider {
    use portos_store::types::ProviderKind;
    pb::Provider {
        id: p.id.clone(),
        name: p.name.clone(),
        r#type: match p.kind {
            ProviderKind::Cli => "cli",
            ProviderKind::Api => "api",
        }
        .to_string(),
        command: p.command.clone(),
        args: p.args.clone(),
        endpoint: p.endpoint.clone(),
        has_api_key: providers::has_api_key(p),
        models: p.models.clone(),
        default_model: p.default_model.clone(),
        light_model: p.light_model.clone(),
        medium_model: p.medium_model.clone(),
        heavy_model: p.heavy_model.clone(),
        fallback_provider: p.fallback_provider.clone(),
        timeout: p.timeout,
        enabled: p.enabled,
        env_vars: providers::shown_env_vars(p)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        secret_env_vars: p.secret_env_vars.clone(),
        headless_args: p.headless_args.clone(),
    }
}

#[tonic::async_trait]
impl pb::providers_server::Providers for ProvidersRpc {
    async fn list(
        &self,
        _req: Request<pb::ListProvidersRequest>,
    ) -> Result<Response<pb::ListProvidersResponse>, Status> {
        let file = providers::load(&self.0).await.or_status(&self.0)?;
        Ok(Response::new(pb::ListProvidersResponse {
            active_provider: file.active_provider.clone(),
            providers: file.providers.values().map(provider_to_proto).collect(),
        }))
    }

    async fn get(
        &self,
        req: Request<pb::ProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let p = providers::get(&self.0, &req.into_inner().id)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(provider_to_proto(&p)))
    }

    async fn create(
        &self,
        req: Request<pb::CreateProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let body = json_arg(&self.0, "provider_json", &req.into_inner().provider_json)?;
        let p = providers::create_provider(&self.0, body)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(provider_to_proto(&p)))
    }

    async fn update(
        &self,
        req: Request<pb::UpdateProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let r = req.into_inner();
        let body = json_arg(&self.0, "changes_json", &r.changes_json)?;
        let p = providers::update_provider(&self.0, &r.id, body)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(provider_to_proto(&p)))
    }

    async fn delete(
        &self,
        req: Request<pb::ProviderRequest>,
    ) -> Result<Response<pb::DeleteProviderResponse>, Status> {
        providers::delete_provider(&self.0, &req.into_inner().id)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::DeleteProviderResponse {}))
    }

    async fn set_active(
        &self,
        req: Request<pb::ProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let p = providers::set_active(&self.0, &req.into_inner().id)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(provider_to_proto(&p)))
    }

    async fn test(
        &self,
        req: Request<pb::ProviderRequest>,
    ) -> Result<Response<pb::ProviderTestResult>, Status> {
        let p = providers::get(&self.0, &req.into_inner().id)
            .await
            .or_status(&self.0)?;
        let result = providers::probe::probe(&self.0.http, &p).await;
        Ok(Response::new(pb::ProviderTestResult {
            success: result["success"] == true,
            error: result["error"].as_str().map(str::to_string),
            result_json: result.to_string(),
        }))
    }

    async fn status(
        &self,
        req: Request<pb::ProviderRequest>,
    ) -> Result<Response<pb::ProviderStatus>, Status> {
        let id = req.into_inner().id;
        let v = crate::provider_status::get(&self.0, &id)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(status_to_proto(&id, &v)))
    }

    async fn statuses(
        &self,
        _req: Request<pb::ProviderStatusesRequest>,
    ) -> Result<Response<pb::ProviderStatuses>, Status> {
        let all = crate::provider_status::all(&self.0)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::ProviderStatuses {
            statuses: all["providers"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(id, v)| status_to_proto(id, v))
                .collect(),
        }))
    }

    async fn recover(
        &self,
        req: Request<pb::ProviderRequest>,
    ) -> Result<Response<pb::ProviderStatus>, Status> {
        let id = req.into_inner().id;
        providers::get(&self.0, &id).await.or_status(&self.0)?;
        let v = crate::provider_status::recover(&self.0, &id)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(status_to_proto(&id, &v)))
    }
}

fn status_to_proto(id: &str, v: &serde_json::Value) -> pb::ProviderStatus {
    let text = |k: &str| v[k].as_str().map(str::to_string);
    pb::ProviderStatus {
        provider_id: id.to_string(),
        available: v["available"] != false,
        reason: text("reason").unwrap_or_else(|| "ok".into()),
        message: text("message").unwrap_or_default(),
        failure_count: v["failureCount"].as_u64().unwrap_or(0),
        last_checked: text("lastChecked"),
        estimated_recovery: text("estimatedRecovery"),
        time_until_recovery: text("timeUntilRecovery"),
        last_error: text("lastError"),
    }
}

/// A JSON argument of a gRPC request, or `InvalidArgument` naming it.
fn json_arg(app: &AppState, name: &str, text: &str) -> Result<serde_json::Value, Status> {
    serde_json::from_str(text).map_err(|e| fail(app, ApiError::validation(format!("{name}: {e}"))))
}

/// `portos.api.v1.Apps`.
#[derive(Debug, Clone)]
pub struct AppsRpc(AppState);

impl AppsRpc {
    async fn act(
        &self,
        req: Request<pb::AppRequest>,
        action: processes::AppAction,
    ) -> Result<Response<pb::AppActionResponse>, Status> {
        let id = req.into_inner().id;
        if id.is_empty() {
            return Err(fail(&self.0, ApiError::validation("id is required")));
        }
        let results = processes::act(self.0.clone(), id, action)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::AppActionResponse {
            results: results
                .into_iter()
                .map(|(name, r)| {
                    (
                        name,
                        pb::ProcessResult {
                            success: r["success"] == true,
                            error: r["error"].as_str().map(str::to_string),
                            pending: r["pending"] == true,
                        },
                    )
                })
                .collect(),
        }))
    }
}

#[tonic::async_trait]
impl pb::apps_server::Apps for AppsRpc {
    async fn list(
        &self,
        _req: Request<pb::ListAppsRequest>,
    ) -> Result<Response<pb::ListAppsResponse>, Status> {
        let views = processes::app_views(&self.0).await.or_status(&self.0)?;
        Ok(Response::new(pb::ListAppsResponse {
            apps: views
                .into_iter()
                .map(|v| pb::App {
                    name: v.record["name"].as_str().unwrap_or_default().to_string(),
                    archived: v.record["archived"] == true,
                    overall_status: v.overall.to_string(),
                    process_status: v
                        .statuses
                        .iter()
                        .map(|(n, s)| {
                            let status = s["status"].as_str().unwrap_or("unknown");
                            (n.clone(), status.to_string())
                        })
                        .collect(),
                    app_json: v.record.to_string(),
                    id: v.id,
                })
                .collect(),
        }))
    }

    async fn start(
        &self,
        req: Request<pb::AppRequest>,
    ) -> Result<Response<pb::AppActionResponse>, Status> {
        self.act(req, processes::AppAction::Start).await
    }

    async fn stop(
        &self,
        req: Request<pb::AppRequest>,
    ) -> Result<Response<pb::AppActionResponse>, Status> {
        self.act(req, processes::AppAction::Stop).await
    }

    async fn restart(
        &self,
        req: Request<pb::AppRequest>,
    ) -> Result<Response<pb::AppActionResponse>, Status> {
        self.act(req, processes::AppAction::Restart).await
    }
}

/// `portos.api.v1.Files`.
#[derive(Debug, Clone)]
pub struct FilesRpc(AppState);

impl FilesRpc {
    fn folder(&self, f: i32) -> Result<files::Folder, Status> {
        match pb::Folder::try_from(f) {
            Ok(pb::Folder::Uploads) => Ok(files::UPLOADS),
            Ok(pb::Folder::Screenshots) => Ok(files::SCREENSHOTS),
            Ok(pb::Folder::Attachments) => Ok(files::ATTACHMENTS),
            _ => Err(fail(
                &self.0,
                ApiError::validation(format!(
                    "folder must be FOLDER_UPLOADS, FOLDER_SCREENSHOTS or FOLDER_ATTACHMENTS, not {f}"
                )),
            )),
        }
    }
}

#[tonic::async_trait]
impl pb::files_server::Files for FilesRpc {
    async fn list(
        &self,
        req: Request<pb::ListFilesRequest>,
    ) -> Result<Response<pb::ListFilesResponse>, Status> {
        let folder = self.folder(req.into_inner().folder)?;
        let listed = files::listing(&self.0, folder).await;
        Ok(Response::new(pb::ListFilesResponse {
            files: listed
                .into_iter()
                .map(|f| pb::FileInfo {
                    mime_type: files::mime_of(&f.name).to_string(),
                    created_at: files::iso(f.created),
                    size: f.size,
                    filename: f.name,
                })
                .collect(),
        }))
    }

    async fn delete(
        &self,
        req: Request<pb::DeleteFileRequest>,
    ) -> Result<Response<pb::DeleteFileResponse>, Status> {
        let r = req.into_inner();
        let folder = self.folder(r.folder)?;
        let (_, size) = files::delete_file(&self.0, folder, &r.filename)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::DeleteFileResponse { size }))
    }
}

/// `portos.api.v1.Runs`.
#[derive(Debug, Clone)]
pub struct RunsRpc(AppState);

fn run_info(app: &AppState, metadata: serde_json::Value) -> pb::RunInfo {
    let id = metadata["id"].as_str().unwrap_or_default().to_string();
    pb::RunInfo {
        active: app.runs.is_active(&id),
        success: metadata["success"].as_bool(),
        metadata_json: metadata.to_string(),
        id,
    }
}

#[tonic::async_trait]
impl pb::runs_server::Runs for RunsRpc {
    async fn create(
        &self,
        req: Request<pb::CreateRunRequest>,
    ) -> Result<Response<pb::RunInfo>, Status> {
        let r = req.into_inner();
        let metadata = runs::create(
            &self.0,
            runs::NewRun {
                provider_id: r.provider_id,
                model: r.model,
                prompt: r.prompt,
                workspace_path: r.workspace_path,
                workspace_name: r.workspace_name,
                timeout_ms: r.timeout_ms,
                source: None,
                stage: None,
                variables: Default::default(),
            },
        )
        .await
        .or_status(&self.0)?;
        Ok(Response::new(run_info(&self.0, metadata)))
    }

    async fn list(
        &self,
        req: Request<pb::ListRunsRequest>,
    ) -> Result<Response<pb::ListRunsResponse>, Status> {
        let r = req.into_inner();
        let limit = if r.limit == 0 { 50 } else { r.limit as usize };
        let listed = runs::list(
            &self.0,
            limit,
            r.offset as usize,
            r.source.as_deref().unwrap_or("all"),
        )
        .await;
        Ok(Response::new(pb::ListRunsResponse {
            total: listed["total"].as_u64().unwrap_or(0) as u32,
            runs: listed["runs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| run_info(&self.0, m.clone()))
                .collect(),
        }))
    }

    async fn get(&self, req: Request<pb::RunRequest>) -> Result<Response<pb::RunInfo>, Status> {
        let mut metadata = runs::get(&self.0, &req.into_inner().id)
            .await
            .or_status(&self.0)?;
        if let Some(m) = metadata.as_object_mut() {
            m.remove("isActive");
        }
        Ok(Response::new(run_info(&self.0, metadata)))
    }

    type OutputStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::RunOutputChunk, Status>> + Send>>;

    async fn output(
        &self,
        req: Request<pb::RunOutputRequest>,
    ) -> Result<Response<Self::OutputStream>, Status> {
        let r = req.into_inner();
        let rx = runs::follow(&self.0, &r.id, r.from_offset as usize, r.follow)
            .await
            .or_status(&self.0)?;
        let stream =
            tokio_stream::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), |text| {
                Ok(pb::RunOutputChunk { text })
            });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn stop(
        &self,
        req: Request<pb::RunRequest>,
    ) -> Result<Response<pb::StopRunResponse>, Status> {
        let id = req.into_inner().id;
        runs::check_id(&id).or_status(&self.0)?;
        if runs::stop(&self.0, &id).await {
            Ok(Response::new(pb::StopRunResponse {}))
        } else {
            Err(fail(
                &self.0,
                ApiError::not_found("Run not found or not active"),
            ))
        }
    }

    async fn delete(
        &self,
        req: Request<pb::RunRequest>,
    ) -> Result<Response<pb::DeleteRunResponse>, Status> {
        runs::delete(&self.0, &req.into_inner().id)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::DeleteRunResponse {}))
    }
}

/// `portos.api.v1.Prompts`.
#[derive(Debug, Clone)]
pub struct PromptsRpc(AppState);

/// A JSON object argument (empty text: an empty object).
fn json_object(
    app: &AppState,
    name: &str,
    text: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, Status> {
    if text.trim().is_empty() {
        return Ok(serde_json::Map::new());
    }
    match json_arg(app, name, text)? {
        serde_json::Value::Object(m) => Ok(m),
        _ => Err(fail(
            app,
            ApiError::validation(format!("{name} must be a JSON object")),
        )),
    }
}

#[tonic::async_trait]
impl pb::prompts_server::Prompts for PromptsRpc {
    async fn list_stages(
        &self,
        _req: Request<pb::ListStagesRequest>,
    ) -> Result<Response<pb::JsonDocument>, Status> {
        let stages = crate::prompts::stages(&self.0).await.or_status(&self.0)?;
        Ok(Response::new(pb::JsonDocument {
            json: serde_json::Value::Object(stages).to_string(),
        }))
    }

    async fn get_stage(
        &self,
        req: Request<pb::StageRequest>,
    ) -> Result<Response<pb::Stage>, Status> {
        let stage = req.into_inner().stage;
        let (config, template) = crate::prompts::stage(&self.0, &stage)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::Stage {
            stage,
            config_json: config.to_string(),
            template,
        }))
    }

    async fn save_stage(
        &self,
        req: Request<pb::SaveStageRequest>,
    ) -> Result<Response<pb::SaveStageResponse>, Status> {
        let r = req.into_inner();
        let config = json_object(&self.0, "config_json", &r.config_json)?;
        let version = crate::prompts::save_stage(&self.0, &r.stage, config, r.template)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::SaveStageResponse { version }))
    }

    async fn preview(
        &self,
        req: Request<pb::PreviewRequest>,
    ) -> Result<Response<pb::PreviewResponse>, Status> {
        let r = req.into_inner();
        let data = json_object(&self.0, "data_json", &r.data_json)?;
        let (preview, missing) = crate::prompts::preview(&self.0, &r.stage, &data)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::PreviewResponse {
            preview,
            missing: missing.into_iter().collect(),
        }))
    }

    async fn list_versions(
        &self,
        req: Request<pb::StageRequest>,
    ) -> Result<Response<pb::StageVersions>, Status> {
        let versions = crate::prompts::versions(&self.0, &req.into_inner().stage)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::StageVersions {
            versions: versions
                .iter()
                .map(|v| pb::StageVersion {
                    version: v["version"].as_str().unwrap_or_default().to_string(),
                    saved_at: v["savedAt"].as_str().unwrap_or_default().to_string(),
                    size: v["size"].as_u64().unwrap_or(0),
                })
                .collect(),
        }))
    }

    async fn list_variables(
        &self,
        _req: Request<pb::ListVariablesRequest>,
    ) -> Result<Response<pb::JsonDocument>, Status> {
        let vars = crate::prompts::variables(&self.0)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::JsonDocument {
            json: serde_json::Value::Object(vars).to_string(),
        }))
    }
}
