use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::rest::view;
use crate::service::files::{self, FilePatch};
use crate::service::view::FileView;
use crate::state::AppState;

/// `PATCH /v1/files/{id}`: `name`, `metadata` (replaced whole), `visibility`, `access`, `category`;
/// only the fields given are written. With `If-Match`, only while the file's `etag` matches.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    crate::rest::Json(patch): crate::rest::Json<FilePatch>,
) -> ApiResult<Json<FileView>> {
    let if_match = crate::rest::if_match(&headers)?;
    let file = files::update(&state, &p, &id, patch, if_match).await?;
    Ok(view::file(&state, &p, file))
}
