use axum::Json;
use axum::extract::{Path, State};
use trove_core::Visibility;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::rest::view;
use crate::service::files;
use crate::service::view::FileView;
use crate::state::AppState;

/// `POST /v1/files/{id}/public` (ROQ's `makeFilePublic`).
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<FileView>> {
    let file = files::set_visibility(&state, &p, &id, Visibility::Public).await?;
    Ok(view::file(&state, &p, file))
}
