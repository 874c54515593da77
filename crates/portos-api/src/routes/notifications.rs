//! `/api/notifications` over `portos-notifications`, and the relay that
//! turns the supervisor's `errored` events into notifications.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use futures_util::StreamExt;
use portos_notifications::Filter;
use portos_proto::supervisor::v1 as pb;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::AppState;
use crate::error::ApiError;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    unread_only: Option<String>,
    limit: Option<String>,
}

/// `GET /api/notifications`.
#[utoipa::path(get, operation_id = "listNotifications", path = "/api/notifications", tag = "notifications",
    params(("type" = Option<String>, Query), ("unreadOnly" = Option<bool>, Query, description = "only `true` filters"), ("limit" = Option<u32>, Query, description = "0 or absent: all")),
    responses((status = 200, description = "the notifications, newest first (a bare array)", body = Vec<portos_notifications::Notification>), (status = 400, description = "a limit that is not a number")))]
pub async fn list(
    State(app): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = match q.limit.as_deref() {
        None | Some("") => 0,
        Some(l) => l
            .parse()
            .map_err(|_| ApiError::validation(format!("limit {l:?} is not a whole number")))?,
    };
    let filter = Filter {
        kind: q.kind.filter(|k| !k.is_empty()),
        unread_only: q.unread_only.as_deref() == Some("true"),
        limit,
    };
    Ok(Json(json!(app.notifications.list(&filter).await?)))
}

/// The answer of `GET /api/notifications/count`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UnreadCount {
    /// Notifications not yet read.
    count: usize,
}

/// `GET /api/notifications/count`.
#[utoipa::path(get, operation_id = "notificationCount", path = "/api/notifications/count", tag = "notifications", responses((status = 200, description = "`{ count }`: the unread", body = UnreadCount)))]
pub async fn count(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "count": app.notifications.unread().await? })))
}

/// `GET /api/notifications/counts`.
#[utoipa::path(get, operation_id = "notificationCounts", path = "/api/notifications/counts", tag = "notifications", responses((status = 200, description = "`{ total, unread, byType }`", body = crate::schemas::system::NotificationCounts)))]
pub async fn counts(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.notifications.counts().await?))
}

/// `POST /api/notifications/:id/read`.
#[utoipa::path(post, operation_id = "readNotification", path = "/api/notifications/{id}/read", tag = "notifications", params(("id" = String, Path)),
    responses((status = 200, description = "`{ success, notification }`", body = crate::schemas::writes::NotificationDone), (status = 404, description = "Notification not found")))]
pub async fn read(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let n = app.notifications.mark_read(&id).await?;
    Ok(Json(json!({ "success": true, "notification": n })))
}

/// `POST /api/notifications/read-all`.
#[utoipa::path(post, operation_id = "readAllNotifications", path = "/api/notifications/read-all", tag = "notifications", responses((status = 200, description = "`{ success, updated }`", body = crate::schemas::writes::Updated)))]
pub async fn read_all(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let updated = app.notifications.mark_all_read().await?;
    Ok(Json(json!({ "success": true, "updated": updated })))
}

/// `DELETE /api/notifications/:id`.
#[utoipa::path(delete, operation_id = "removeNotification", path = "/api/notifications/{id}", tag = "notifications", params(("id" = String, Path)),
    responses((status = 200, description = "`{ success, notification }`: the one removed", body = crate::schemas::writes::NotificationDone), (status = 404, description = "Notification not found")))]
pub async fn remove(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let n = app.notifications.remove(&id).await?;
    Ok(Json(json!({ "success": true, "notification": n })))
}

/// `DELETE /api/notifications`.
#[utoipa::path(delete, operation_id = "clearNotifications", path = "/api/notifications", tag = "notifications", responses((status = 200, description = "`{ success, cleared }`", body = crate::schemas::writes::Cleared)))]
pub async fn clear(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let cleared = app.notifications.clear().await?;
    Ok(Json(json!({ "success": true, "cleared": cleared })))
}

/// The domain crates' events on their way to the hub, with those that need
/// the owner's attention turned into notifications on the way ([`bell`]).
#[derive(Debug)]
pub struct Producers {
    pub hub: std::sync::Arc<crate::events::Hub>,
    pub notes: portos_notifications::Notifications,
}

impl portos_core::Events for Producers {
    fn broadcast(&self, event: &str, data: &Value) {
        self.hub.broadcast(event, data);
        bell(&self.notes, event, data);
    }

    fn publish(&self, channel: &str, event: &str, data: &Value) {
        self.hub.publish(channel, event, data);
        bell(&self.notes, event, data);
    }
}

/// The agents' events on their way to the `agents` channel, through [`bell`].
pub fn agents_event(
    hub: &crate::events::Hub,
    notes: &portos_notifications::Notifications,
    event: &str,
    data: Value,
) {
    hub.publish("agents", event, &data);
    bell(notes, event, &data);
}

type Ring = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<
                    Option<portos_notifications::Notification>,
                    portos_notifications::NotificationsError,
                >,
            > + Send,
    >,
>;

/// The one place where a domain event rings the bell: a provider becoming
/// unavailable, a scheduled brain job or agent action failing, a suspended
/// account. Rung without holding up the event; a failure to write is logged.
pub fn bell(notes: &portos_notifications::Notifications, event: &str, data: &Value) {
    let text = |k: &str| data[k].as_str().unwrap_or_default().to_string();
    let n = notes.clone();
    let ring: Ring = match event {
        "provider:status:changed" if data["status"]["available"] == false => {
            let id = text("providerId");
            let status = &data["status"];
            let reason = status["reason"]
                .as_str()
                .unwrap_or("unavailable")
                .to_string();
            let message = status["message"].as_str().unwrap_or("").to_string();
            Box::pin(async move { n.provider_unavailable(&id, &reason, &message).await })
        }
        e if e.starts_with("brain:") && e.ends_with(":failed") && data["trigger"] != "manual" => {
            let (job, error) = (text("job"), text("error"));
            Box::pin(async move { n.schedule_failed(&job, &error, "/brain/digest").await })
        }
        "agents:activity" if data["status"] == "failed" && data["scheduleId"].is_string() => {
            let job = format!("{} for {}", text("action"), text("agentId"));
            let error = text("error");
            Box::pin(async move { n.schedule_failed(&job, &error, "/schedules").await })
        }
        "agents:account:suspended" => {
            let (id, who, platform, error) = (
                text("accountId"),
                text("username"),
                text("platform"),
                text("error"),
            );
            Box::pin(async move { n.account_suspended(&id, &who, &platform, &error).await })
        }
        _ => return,
    };
    let event = event.to_string();
    tokio::spawn(async move {
        if let Err(e) = ring.await {
            tracing::warn!(error = %e, event = %event, "no notification for an event that needs one");
        }
    });
}

/// A process the supervisor gave up on (`errored`) becomes a notification;
/// the supervisor's event stream is followed again after it drops.
pub async fn relay_supervisor(app: AppState, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        if let Ok(mut events) = app.supervisor.events(false).await {
            loop {
                let next = tokio::select! {
                    e = events.next() => e,
                    () = shutdown.cancelled() => return,
                };
                let Some(Ok(e)) = next else {
                    break;
                };
                let errored = pb::EventKind::try_from(e.kind) == Ok(pb::EventKind::Errored);
                if errored
                    && let Err(err) = app
                        .notifications
                        .process_errored(&e.process, &e.group, &e.reason)
                        .await
                {
                    tracing::warn!(error = %err, process = %e.process, "no notification for an errored process");
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = shutdown.cancelled() => return,
        }
    }
}
