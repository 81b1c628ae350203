use axum::extract::{Path, State};
use trove_core::FileRecord;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::rest::Json;
use crate::service::files::{self, FilePatch};
use crate::state::AppState;

/// `PATCH /v1/files/{id}`: `name`, `metadata` (replaced whole), `visibility`, `access`.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(patch): Json<FilePatch>,
) -> ApiResult<axum::Json<FileRecord>> {
    Ok(axum::Json(files::update(&state, &p, &id, patch).await?))
}
