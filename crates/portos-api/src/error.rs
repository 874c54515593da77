//! The one error type of the api server and its two faces: a JSON body
//! `{ error, code, timestamp, context? }` with the right HTTP status, and a gRPC
//! status. Every error also goes out on the `errors` channel (see `events`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error a client can act on.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// Machine-readable, e.g. `NOT_FOUND`, `VALIDATION_ERROR`.
    pub code: &'static str,
    pub message: String,
    pub context: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            context: None,
        }
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    pub fn with_context(mut self, context: Value) -> Self {
        self.context = Some(context);
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            message,
        )
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "error": self.message,
            "code": self.code,
            "timestamp": now_ms(),
        });
        if let Some(c) = &self.context {
            body["context"] = c.clone();
        }
        body
    }

    /// The matching gRPC status.
    pub fn to_status(&self) -> tonic::Status {
        let code = match self.status {
            StatusCode::BAD_REQUEST
            | StatusCode::UNPROCESSABLE_ENTITY
            | StatusCode::PAYLOAD_TOO_LARGE => tonic::Code::InvalidArgument,
            StatusCode::NOT_FOUND => tonic::Code::NotFound,
            // A conflict with a state, not with an existing name.
            StatusCode::CONFLICT if self.code == "RUN_ACTIVE" => tonic::Code::FailedPrecondition,
            StatusCode::CONFLICT => tonic::Code::AlreadyExists,
            StatusCode::FORBIDDEN => tonic::Code::PermissionDenied,
            StatusCode::UNAUTHORIZED => tonic::Code::Unauthenticated,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::BAD_GATEWAY => tonic::Code::Unavailable,
            StatusCode::TOO_MANY_REQUESTS => tonic::Code::ResourceExhausted,
            _ => tonic::Code::Internal,
        };
        tonic::Status::new(code, format!("{}: {}", self.code, self.message))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body())).into_response();
        // The errors middleware publishes what it finds here.
        resp.extensions_mut().insert(self);
        resp
    }
}

/// The answer to a request whose handler panicked: 500 `INTERNAL_ERROR` in the
/// usual shape, so the client gets an answer instead of a dropped connection
/// and the errors channel hears of it. The panic's message is logged, never
/// sent: it may name files or values the client should not see.
pub fn panic_answer(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!("a request handler panicked: {what}");
    ApiError::internal("the server failed while handling this request").into_response()
}

impl From<portos_store::StoreError> for ApiError {
    fn from(e: portos_store::StoreError) -> Self {
        use portos_store::StoreError as S;
        match &e {
            S::Corrupt { path, .. } => ApiError::internal(e.to_string()).with_context(
                json!({ "file": path.display().to_string(), "kind": "CORRUPT_DATA_FILE" }),
            ),
            S::InvalidName { .. } => ApiError::bad_request("INVALID_FILENAME", e.to_string()),
            S::Io { .. } | S::Encode { .. } => ApiError::internal(e.to_string()),
        }
    }
}

impl From<portos_agents::AgentsError> for ApiError {
    fn from(e: portos_agents::AgentsError) -> Self {
        use portos_agents::AgentsError as E;
        match e {
            E::NotFound { code, message } => ApiError::new(StatusCode::NOT_FOUND, code, message),
            E::Invalid(i) => ApiError::validation(i.0),
            E::Conflict { code, message } => {
                let status = match code {
                    "RUN_ACTIVE" | "SCHEDULE_DISABLED" | "ACTION_SKIPPED" => StatusCode::CONFLICT,
                    "PLATFORM_ERROR" => StatusCode::BAD_GATEWAY,
                    _ => StatusCode::BAD_REQUEST,
                };
                ApiError::new(status, code, message)
            }
            E::Store(s) => s.into(),
            E::Platform(p) => p.into(),
        }
    }
}

/// A refusal of the local rate limiter: 429 with which limit and when it frees.
fn refused(r: &portos_ratelimit::Refused) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", r.to_string()).with_context(
        json!({ "action": r.action, "limit": r.which, "limitText": r.limit_text, "waitMs": r.wait.as_millis() as u64, "sentToPlatform": false }),
    )
}

/// A platform's answer as ours: unreachable or broken → 503 `PLATFORM_UNAVAILABLE`
/// (the original's mapping), its 4xx kept with its message.
fn platform(
    name: &str,
    status: Option<u16>,
    auth: bool,
    suspended: bool,
    retry_after: Option<std::time::Duration>,
    message: String,
) -> ApiError {
    if suspended {
        return ApiError::new(StatusCode::FORBIDDEN, "ACCOUNT_SUSPENDED", message);
    }
    if auth {
        return ApiError::new(StatusCode::UNAUTHORIZED, "PLATFORM_AUTH_FAILED", message);
    }
    match status {
        Some(429) => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", message)
            .with_context(json!({ "retryAfterMs": retry_after.map(|d| d.as_millis() as u64), "sentToPlatform": true })),
        Some(s @ 400..=499) => ApiError::new(
            StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_REQUEST),
            "PLATFORM_ERROR",
            message,
        ),
        _ => ApiError::unavailable(format!("{name} is currently unavailable: {message}"))
            .with_code("PLATFORM_UNAVAILABLE"),
    }
}

impl From<portos_agents::ActionError> for ApiError {
    fn from(e: portos_agents::ActionError) -> Self {
        use portos_agents::ActionError as A;
        use portos_moltbook::MoltbookError as B;
        use portos_moltworld::MoltworldError as W;
        let text = e.to_string();
        match e {
            A::Params(m) => ApiError::validation(m),
            A::Writing(..) => ApiError::new(StatusCode::BAD_GATEWAY, "AI_WRITING_FAILED", text),
            A::WrongPlatform { .. } => ApiError::bad_request("WRONG_PLATFORM", text),
            A::Moltbook(B::Limited(r)) | A::Moltworld(W::Limited(r)) => refused(&r),
            A::Moltbook(B::Store(s)) | A::Moltworld(W::Store(s)) => s.into(),
            A::Moltbook(b) => {
                let (status, retry) = match &b {
                    B::Remote { status, .. } => (Some(*status), None),
                    B::RateLimited { retry_after, .. } => (Some(429), *retry_after),
                    _ => (None, None),
                };
                platform(
                    "Moltbook",
                    status,
                    matches!(b, B::Auth(_)),
                    b.is_suspended(),
                    retry,
                    text,
                )
            }
            A::Moltworld(w) => {
                let (status, retry) = match &w {
                    W::Remote { status, .. } => (Some(*status), None),
                    W::RateLimited { retry_after, .. } => (Some(429), *retry_after),
                    _ => (None, None),
                };
                platform(
                    "Moltworld",
                    status,
                    matches!(w, W::Auth(_)),
                    w.is_suspended(),
                    retry,
                    text,
                )
            }
        }
    }
}

impl From<portos_jira::JiraError> for ApiError {
    fn from(e: portos_jira::JiraError) -> Self {
        use portos_jira::JiraError as J;
        let text = e.to_string();
        match e {
            J::Auth(_) => ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", text),
            J::Locked(_) => ApiError::new(StatusCode::FORBIDDEN, "JIRA_ACCOUNT_LOCKED", text),
            J::RateLimited { retry_after, .. } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", text).with_context(
                    json!({ "retryAfterMs": retry_after.map(|d| d.as_millis() as u64) }),
                )
            }
            J::Remote { status, .. } if (400..500).contains(&status) => ApiError::new(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                "JIRA_ERROR",
                text,
            ),
            J::Config(_) => ApiError::bad_request("JIRA_CONFIG", text),
            J::Network(_) | J::Timeout(_) | J::Remote { .. } | J::Decode(_) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "JIRA_UNAVAILABLE", text)
            }
        }
    }
}

pub use portos_core::time::{now_iso, now_ms};

/// The one place a domain problem becomes an HTTP status.
impl From<portos_jira_instances::InstancesError> for ApiError {
    fn from(e: portos_jira_instances::InstancesError) -> Self {
        use portos_jira_instances::InstancesError as E;
        match e {
            E::Problem(p) => p.into(),
            E::Store(s) => s.into(),
            E::Jira(j) => j.into(),
        }
    }
}

impl From<portos_cos::CosError> for ApiError {
    fn from(e: portos_cos::CosError) -> Self {
        use portos_cos::CosError as E;
        match e {
            E::Problem(p) => p.into(),
            E::Store(s) => s.into(),
            E::Corrupt(m) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "CORRUPT_FILE", m),
            E::Io(m) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "IO_ERROR", m),
        }
    }
}

impl From<portos_git::GitError> for ApiError {
    fn from(e: portos_git::GitError) -> Self {
        portos_core::Problem::from(e).into()
    }
}

impl From<portos_notifications::NotificationsError> for ApiError {
    fn from(e: portos_notifications::NotificationsError) -> Self {
        portos_core::Problem::from(e).into()
    }
}

impl From<portos_commands::CommandError> for ApiError {
    fn from(e: portos_commands::CommandError) -> Self {
        portos_core::Problem::from(e).into()
    }
}

impl From<portos_brain::BrainError> for ApiError {
    fn from(e: portos_brain::BrainError) -> Self {
        match e {
            portos_brain::BrainError::Problem(p) => p.into(),
            portos_brain::BrainError::Store(s) => s.into(),
        }
    }
}

impl From<portos_instances::InstancesError> for ApiError {
    fn from(e: portos_instances::InstancesError) -> Self {
        use portos_instances::InstancesError as E;
        match e {
            E::Problem(p) => p.into(),
            E::Store(s) => s.into(),
            E::Keys(k) => ApiError::internal(k.to_string()),
        }
    }
}

impl From<portos_core::Problem> for ApiError {
    fn from(p: portos_core::Problem) -> Self {
        use portos_core::Kind as K;
        let status = match p.kind {
            K::Invalid => StatusCode::BAD_REQUEST,
            K::Unauthenticated => StatusCode::UNAUTHORIZED,
            K::Forbidden => StatusCode::FORBIDDEN,
            K::NotFound => StatusCode::NOT_FOUND,
            K::Conflict => StatusCode::CONFLICT,
            K::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            K::TooMany => StatusCode::TOO_MANY_REQUESTS,
            K::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            K::BadGateway => StatusCode::BAD_GATEWAY,
            K::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError {
            status,
            code: p.code,
            message: p.message,
            context: p.context,
        }
    }
}

impl From<portos_ai::AiError> for ApiError {
    fn from(e: portos_ai::AiError) -> Self {
        match e {
            portos_ai::AiError::Problem(p) => p.into(),
            portos_ai::AiError::Store(s) => s.into(),
        }
    }
}

impl From<portos_files::FilesError> for ApiError {
    fn from(e: portos_files::FilesError) -> Self {
        match e {
            portos_files::FilesError::Problem(p) => p.into(),
            portos_files::FilesError::Store(s) => s.into(),
        }
    }
}

impl From<portos_apps::AppsError> for ApiError {
    fn from(e: portos_apps::AppsError) -> Self {
        match e {
            portos_apps::AppsError::Problem(p) => p.into(),
            portos_apps::AppsError::Store(s) => s.into(),
        }
    }
}
