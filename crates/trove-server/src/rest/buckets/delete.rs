use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::rest::Query;
use crate::service::buckets;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct DeleteQuery {
    #[serde(default)]
    force: bool,
}

/// `DELETE /v1/buckets/{bucketId}[?force=true]` (admin) → 204.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> ApiResult<StatusCode> {
    buckets::delete(&state, &p, &id, q.force).await?;
    Ok(StatusCode::NO_CONTENT)
}
