//! The one place failures become HTTP responses, in PagerDuty's shape:
//! `{"error":{"message":"Invalid Input Provided","code":2001,"errors":["name has already been taken"]}}`,
//! always with `Content-Type: application/json`. Server faults are logged with the place they were
//! raised and answered with a bare 500 (code 2000) that leaks nothing.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use klaxon_core::validate::FieldError;
use klaxon_store::StoreError;
use serde_json::json;
use std::panic::Location;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
    pub errors: Vec<String>,
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>, errors: Vec<String>) -> Self {
        Self { status, code, message: message.into(), errors, retry_after: None }
    }

    /// 400 "Invalid Input Provided" with one line per problem.
    pub fn invalid(errors: Vec<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 2001, "Invalid Input Provided", errors)
    }

    /// 400 naming one field.
    pub fn field(field: &str, message: &str) -> Self {
        Self::invalid(vec![format!("{field} {message}")])
    }

    pub fn fields(errors: Vec<FieldError>) -> Self {
        Self::invalid(errors.into_iter().map(|e| e.to_string()).collect())
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, 2100, "Not Found", vec![format!("{what} not found")])
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            2006,
            "Authentication failed",
            vec!["Send an API key as 'Authorization: Token token=<key>' or 'Authorization: Bearer <key>'".into()],
        )
    }

    pub fn forbidden(why: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, 2010, "Access Denied", vec![why.into()])
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            2001,
            "Request Entity Too Large",
            vec![format!("request body must be at most {limit} bytes")],
        )
    }

    /// A fault of ours. Logs where it was raised; the client learns nothing internal.
    #[track_caller]
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let at = Location::caller();
        tracing::error!(%cause, location = %at, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, 2000, "Internal Server Error", vec![])
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::fields(vec![e])
    }
}

/// PagerDuty's error body for a broken incident rule, naming `field` when the request had several parts.
pub fn incident_error(e: klaxon_core::incident::IncidentError, field: Option<&str>) -> ApiError {
    use klaxon_core::incident::IncidentError;
    let status = if e == IncidentError::TooMany { StatusCode::PAYLOAD_TOO_LARGE } else { StatusCode::BAD_REQUEST };
    let detail = match field {
        Some(field) => format!("{field}: {e}"),
        None => e.to_string(),
    };
    ApiError::new(status, e.code(), e.to_string(), vec![detail])
}

impl From<StoreError> for ApiError {
    #[track_caller]
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(&capitalize(what)),
            StoreError::Conflict { field } => ApiError::field(field, "has already been taken"),
            StoreError::Rejected(message) => ApiError::invalid(vec![message]),
            StoreError::Incident { error, .. } => incident_error(error, None),
            other => ApiError::internal(other),
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"message": self.message, "code": self.code, "errors": self.errors}});
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
