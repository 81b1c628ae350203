use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::rest::files::upload::{content_length, content_type};
use crate::rest::view;
use crate::service::view::FileView;
use crate::service::{files, ingest};
use crate::state::AppState;

/// `PUT /v1/files/{id}/content`: replaces the content (same checks as an upload, including the
/// file's category), new revision and ETag.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<FileView>> {
    let file = files::changeable(&state, &p, &id).await?;
    let rules = files::content_rules(&state, &file).await?;
    let updated = ingest::replace(
        &state,
        file,
        &rules,
        content_type(&headers),
        content_length(&headers),
        body.into_data_stream(),
    )
    .await?;
    Ok(view::file(&state, updated))
}
