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
            StatusCode::SERVICE_UNAVAILABLE => tonic::Code::Unavailable,
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

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The current UTC time as ISO 8601 with milliseconds.
pub fn now_iso() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
