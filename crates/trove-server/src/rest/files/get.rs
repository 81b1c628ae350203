use axum::Json;
use axum::extract::{Path, State};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::rest::view;
use crate::service::files;
use crate::service::view::FileView;
use crate::state::AppState;

/// `GET /v1/files/{id}`: the file's metadata, 404 unless the caller may read it.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<FileView>> {
    let file = files::readable(&state, &p, &id).await?;
    Ok(view::file(&state, &p, file))
}
