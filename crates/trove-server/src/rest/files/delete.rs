use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::service::files;
use crate::state::AppState;

/// `DELETE /v1/files/{id}` → 204; the row and its blob go. With `If-Match`, only while the file's
/// `etag` matches (412 `precondition_failed` otherwise).
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let if_match = crate::rest::if_match(&headers)?;
    files::delete(&state, &p, &id, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}
