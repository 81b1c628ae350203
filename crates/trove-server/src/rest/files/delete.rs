use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::service::files;
use crate::state::AppState;

/// `DELETE /v1/files/{id}` → 204; the row and its blob go.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    files::delete(&state, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
