use axum::extract::{Path, State};
use trove_core::FileRecord;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::service::files;
use crate::state::AppState;

/// `GET /v1/files/{id}`: the file's metadata, 404 unless the caller may read it.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<FileRecord>> {
    Ok(axum::Json(files::readable(&state, &p, &id).await?))
}
