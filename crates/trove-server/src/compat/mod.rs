//! A drop-in for Nhost Storage (hasura-storage) at `/nhost/v1`, so that `@nhost/nhost-js` and the
//! applications built on it (Rolebase's among them) work against Trove by changing one URL. Every
//! action calls the same service layer as `/v1`, so Trove's access rules, bucket rules, image
//! previews and signed URLs apply unchanged; only the shapes of requests and answers differ.
//!
//! Errors: the status of Trove's error (with 413 where hasura-storage answers a size-limit
//! violation with 500), an `X-Error` header holding its message, and
//! `{"error":{"message","data":null}}`; an upload that fails after storing some files lists them in
//! `processedFiles` beside the error. An internal failure keeps Trove's fixed message.

mod files;
mod upload;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use trove_core::{FileRecord, Principal};

use crate::error::ApiError;
use crate::state::AppState;

/// Where the compatible API is mounted: the `storageUrl` of an Nhost client.
pub const PATH: &str = "/nhost/v1";

/// The compatible surface's OpenAPI document.
const OPENAPI: &str = include_str!("openapi.yaml");

pub fn routes() -> Router<AppState> {
    use axum::extract::DefaultBodyLimit;
    use axum::routing::{delete, post};
    Router::new()
        .route(
            "/files",
            post(upload::create).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/files/{id}",
            get(files::download)
                .head(files::download)
                .put(upload::replace)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/files/{id}", delete(files::delete))
        .route("/files/{id}/presignedurl", get(files::presigned_url))
        .route("/version", get(version))
        .route("/openapi.yaml", get(openapi))
}

/// An error in hasura-storage's shape.
#[derive(Debug)]
pub struct NhostError {
    error: ApiError,
    processed: Option<Vec<FileMetadata>>,
}

impl From<ApiError> for NhostError {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            processed: None,
        }
    }
}

impl From<trove_core::TroveError> for NhostError {
    fn from(error: trove_core::TroveError) -> Self {
        ApiError::from(error).into()
    }
}

impl NhostError {
    fn with_processed(error: ApiError, processed: Vec<FileMetadata>) -> Self {
        Self {
            error,
            processed: Some(processed),
        }
    }
}

impl IntoResponse for NhostError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.error.code.status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = self.error.message;
        let mut body = json!({"error": {"message": message, "data": Value::Null}});
        if let Some(processed) = self.processed {
            body["processedFiles"] = serde_json::to_value(processed).unwrap_or(Value::Null);
        }
        let mut res = (status, axum::Json(body)).into_response();
        let headers = res.headers_mut();
        for (name, value) in self.error.headers {
            headers.insert(name, value);
        }
        // A header value cannot hold every character a message may: those become spaces.
        let printable: String = message
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    ' '
                }
            })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&printable) {
            headers.insert("x-error", v);
        }
        res
    }
}

pub type NhostResult<T> = Result<T, NhostError>;

/// How much of a request body is read before a refusal that came before the body was needed.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// A refusal of a request whose body was not read yet. Up to [`DRAIN_LIMIT`] of the body is read
/// (and dropped) first: a client that writes the whole body before it reads the answer (Node's
/// fetch, which the Nhost client uses) would otherwise get a broken pipe instead of the refusal.
pub async fn refuse_unread(body: axum::body::Body, error: ApiError) -> NhostError {
    let _ = axum::body::to_bytes(body, DRAIN_LIMIT).await;
    error.into()
}

/// The caller, authenticated as on `/v1`, with refusals in hasura-storage's shape.
pub struct NhostCaller(pub Principal);

impl FromRequestParts<AppState> for NhostCaller {
    type Rejection = NhostError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, NhostError> {
        Ok(Self(state.auth.authenticate(parts).await?))
    }
}

/// hasura-storage's `FileMetadata`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileMetadata {
    id: String,
    name: String,
    size: u64,
    bucket_id: String,
    etag: String,
    #[serde(with = "trove_core::time::rfc3339")]
    created_at: DateTime<Utc>,
    #[serde(with = "trove_core::time::rfc3339")]
    updated_at: DateTime<Utc>,
    is_uploaded: bool,
    mime_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uploaded_by_user_id: Option<String>,
    metadata: Value,
}

impl FileMetadata {
    /// The fields of `file` as `p` may see them (anonymous readers of a public file are not told
    /// who uploaded it, as on `/v1`).
    pub fn new(p: &Principal, file: FileRecord) -> Self {
        Self {
            id: file.id.to_string(),
            name: file.name,
            size: file.size,
            bucket_id: file.bucket_id.0,
            etag: file.etag,
            created_at: file.created_at,
            updated_at: file.updated_at,
            is_uploaded: file.is_uploaded,
            mime_type: file.mime_type,
            uploaded_by_user_id: file
                .uploaded_by_user_id
                .filter(|_| p.sees_identities())
                .map(|u| u.0),
            metadata: file.metadata,
        }
    }
}

/// `GET /nhost/v1/version` → `{"buildVersion": "…"}`.
async fn version() -> axum::Json<Value> {
    axum::Json(json!({"buildVersion": env!("CARGO_PKG_VERSION")}))
}

/// `GET /nhost/v1/openapi.yaml`.
async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        OPENAPI,
    )
        .into_response()
}
