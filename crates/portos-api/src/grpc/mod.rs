//! The gRPC face of the api server: the same operations as the REST routes,
//! calling the same functions, converted to `portos.api.v1` here and only here.

use portos_proto::api::v1 as pb;
use portos_proto::integrations::v1 as ipb;
use tonic::Status;

use crate::{ApiError, AppState};

mod apps;
mod cos;
mod events;
mod files;
mod history;
pub mod integrations;
mod prompts;
mod providers;
mod runs;
mod settings;

/// Every gRPC service of the api server, and their names for reflection.
pub fn routes(app: AppState) -> (tonic::service::Routes, Vec<&'static str>) {
    let routes = tonic::service::Routes::new(pb::history_server::HistoryServer::new(
        history::HistoryRpc(app.clone()),
    ))
    .add_service(pb::events_server::EventsServer::new(events::EventsRpc(
        app.clone(),
    )))
    .add_service(pb::settings_server::SettingsServer::new(
        settings::SettingsRpc(app.clone()),
    ))
    .add_service(pb::providers_server::ProvidersServer::new(
        providers::ProvidersRpc(app.clone()),
    ))
    .add_service(pb::apps_server::AppsServer::new(apps::AppsRpc(app.clone())))
    .add_service(pb::files_server::FilesServer::new(files::FilesRpc(
        app.clone(),
    )))
    .add_service(pb::runs_server::RunsServer::new(runs::RunsRpc(app.clone())))
    .add_service(pb::prompts_server::PromptsServer::new(prompts::PromptsRpc(
        app.clone(),
    )))
    .add_service(ipb::schedules_server::SchedulesServer::new(
        integrations::SchedulesRpc(app.clone()),
    ))
    .add_service(ipb::accounts_server::AccountsServer::new(
        integrations::AccountsRpc(app.clone()),
    ))
    .add_service(ipb::activity_server::ActivityServer::new(
        integrations::ActivityRpc(app.clone()),
    ))
    .add_service(crate::peers::service(&app))
    .add_service(
        portos_proto::cos::v1::chief_of_staff_server::ChiefOfStaffServer::new(cos::CosRpc(
            app.clone(),
        )),
    )
    .add_service(ipb::jira_server::JiraServer::new(integrations::JiraRpc(
        app,
    )));
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
            "portos.cos.v1.ChiefOfStaff",
            portos_peer_grpc::SERVICE,
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
pub(crate) fn fail(app: &AppState, e: ApiError) -> Status {
    app.hub
        .publish_error(e.status.as_u16(), e.code, &e.message, e.context.as_ref());
    e.to_status()
}

/// A JSON argument of a gRPC request, or `InvalidArgument` naming it.
pub(crate) fn json_arg(
    app: &AppState,
    name: &str,
    text: &str,
) -> Result<serde_json::Value, Status> {
    serde_json::from_str(text).map_err(|e| fail(app, ApiError::validation(format!("{name}: {e}"))))
}

/// A JSON object argument (empty text: an empty object).
pub(crate) fn json_object(
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
