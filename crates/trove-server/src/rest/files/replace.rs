use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use trove_core::FileRecord;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::rest::files::upload::{content_length, content_type};
use crate::service::{buckets, files, ingest};
use crate::state::AppState;

/// `PUT /v1/files/{id}/content`: replaces the content (same checks as an upload), new revision and
/// ETag.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<axum::Json<FileRecord>> {
    let file = files::changeable(&state, &p, &id).await?;
    let bucket = buckets::find(&state, &file.bucket_id).await?;
    let updated = ingest::replace(
        &state,
        file,
        &bucket,
        content_type(&headers),
        content_length(&headers),
        body.into_data_stream(),
    )
    .await?;
    Ok(axum::Json(updated))
}
