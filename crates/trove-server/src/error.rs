//! The API's error type and its JSON form `{"error":{"code","message","data"?}}`.
//!
//! Policy: every failure reaches the client as a stable code from [`ErrorCode`] and a message that is
//! safe to show. Internal failures (database, storage, bugs) are logged with the request's span,
//! which carries its `X-Request-Id`, and answered with code `internal` and a fixed message.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use trove_blob::BlobError;
use trove_core::{ErrorCode, TroveError};
use trove_meta::MetaError;

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Extra information, e.g. files stored before a multipart upload failed.
    pub data: Option<serde_json::Value>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// The result of a handler or service call.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
            headers: Vec::new(),
        }
    }

    /// An internal failure: `detail` is logged, the client sees a fixed message.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(detail = %detail, "internal error");
        Self::new(ErrorCode::Internal, "internal server error")
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl From<TroveError> for ApiError {
    fn from(e: TroveError) -> Self {
        Self::new(e.code, e.message)
    }
}

/// 412 `precondition_failed`: the file changed since the caller's `If-Match` validator.
pub fn precondition_failed() -> ApiError {
    ApiError::new(
        ErrorCode::PreconditionFailed,
        "the file changed: its etag no longer matches If-Match",
    )
}

impl From<MetaError> for ApiError {
    fn from(e: MetaError) -> Self {
        match e {
            MetaError::Conflict(m) => Self::new(ErrorCode::Conflict, m),
            MetaError::PreconditionFailed => precondition_failed(),
            MetaError::Unavailable(detail) => {
                tracing::warn!(%detail, "database saturated");
                Self::new(ErrorCode::Unavailable, "the server is busy; retry shortly").with_header(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from_static("1"),
                )
            }
            other => Self::internal(other),
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::Unavailable(detail) => {
                tracing::warn!(%detail, "object store unavailable");
                Self::new(
                    ErrorCode::Unavailable,
                    "the file storage is unavailable; retry shortly",
                )
                .with_header(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from_static("5"),
                )
            }
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut error = serde_json::json!({
            "code": self.code.as_str(),
            "message": self.message,
        });
        if let Some(data) = self.data {
            error["data"] = data;
        }
        let mut response =
            (status, axum::Json(serde_json::json!({ "error": error }))).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A saturated database is "retry later", not an internal error.
    #[test]
    fn an_exhausted_pool_is_503_with_retry_after() {
        let res = ApiError::from(MetaError::Unavailable("pool timed out".into())).into_response();
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["retry-after"], "1");
        let res = ApiError::from(MetaError::PreconditionFailed).into_response();
        assert_eq!(res.status(), 412);
    }
}
