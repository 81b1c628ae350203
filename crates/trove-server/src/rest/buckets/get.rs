use axum::extract::{Path, State};
use trove_core::Bucket;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::service::buckets;
use crate::state::AppState;

/// `GET /v1/buckets/{bucketId}`.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Bucket>> {
    Ok(axum::Json(buckets::get(&state, &p, &id).await?))
}
