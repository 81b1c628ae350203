//! Raw uploads: the request body is the file.

use axum::body::Body;
use axum::http::HeaderMap;
use serde::Deserialize;
use trove_core::{Access, ErrorCode, FileRecord, Principal, Visibility};

use super::upload::{content_length, content_type};
use crate::error::{ApiError, ApiResult};
use crate::service::ingest::{self, NewFile};
use crate::service::uploads;
use crate::state::AppState;

/// Query parameters of a raw upload.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawQuery {
    bucket_id: Option<String>,
    name: Option<String>,
    visibility: Option<String>,
    access: Option<String>,
    /// A JSON object, URL-encoded.
    metadata: Option<String>,
    category: Option<String>,
    /// A JSON array of `{entityName, entityReference}`, URL-encoded.
    associations: Option<String>,
}

pub async fn receive(
    state: &AppState,
    p: &Principal,
    q: RawQuery,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<FileRecord> {
    let name = q
        .name
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidName, "a raw upload needs ?name="))?;
    let metadata = match q.metadata {
        Some(m) => serde_json::from_str(&m)
            .map_err(|_| ApiError::invalid("metadata must be a JSON object"))?,
        None => serde_json::json!({}),
    };
    let associations = match q.associations {
        Some(a) => serde_json::from_str(&a).map_err(|_| {
            ApiError::invalid("associations must be a JSON array of {entityName, entityReference}")
        })?,
        None => Vec::new(),
    };
    let (bucket, category) =
        uploads::target(state, q.bucket_id.as_deref(), q.category.as_deref()).await?;
    let new = NewFile {
        id: None,
        bucket,
        category,
        associations,
        name,
        declared_type: content_type(headers),
        visibility: q.visibility.as_deref().map(Visibility::parse).transpose()?,
        access: q.access.as_deref().map(Access::parse).transpose()?,
        metadata,
    };
    ingest::create(
        state,
        p,
        crate::metrics::UploadKind::Raw,
        new,
        content_length(headers),
        body.into_data_stream(),
    )
    .await
}
