use axum::Json;
use axum::extract::{Path, State};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::rest::view;
use crate::service::files::{self, FilePatch};
use crate::service::view::FileView;
use crate::state::AppState;

/// `PATCH /v1/files/{id}`: `name`, `metadata` (replaced whole), `visibility`, `access`, `category`.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    crate::rest::Json(patch): crate::rest::Json<FilePatch>,
) -> ApiResult<Json<FileView>> {
    let file = files::update(&state, &p, &id, patch).await?;
    Ok(view::file(&state, file))
}
