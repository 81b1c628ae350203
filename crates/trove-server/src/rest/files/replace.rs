use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;

use crate::auth::Caller;
use crate::error::{ApiResult, precondition_failed};
use crate::rest::files::upload::{content_length, content_type};
use crate::rest::view;
use crate::service::view::FileView;
use crate::service::{files, ingest};
use crate::state::AppState;
use trove_core::precondition::if_match_holds;

/// `PUT /v1/files/{id}/content`: replaces the content (same checks as an upload, including the
/// file's category), new revision and ETag. With `If-Match`, only while the `etag` matches.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<FileView>> {
    let if_match = crate::rest::if_match(&headers)?;
    let file = files::changeable(&state, &p, &id).await?;
    if let Some(expected) = if_match
        && !if_match_holds(expected, &file.etag)
    {
        // Refused before a byte is read; checked again atomically when the new revision lands.
        return Err(precondition_failed());
    }
    let rules = files::content_rules(&state, &file).await?;
    let updated = ingest::replace(
        &state,
        file,
        &rules,
        ingest::Replacement {
            declared_type: content_type(&headers),
            content_length: content_length(&headers),
            if_match,
            kind: crate::metrics::UploadKind::Raw,
        },
        body.into_data_stream(),
    )
    .await?;
    Ok(view::file(&state, &p, updated))
}
