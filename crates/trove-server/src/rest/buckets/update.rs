use axum::extract::{Path, State};
use trove_core::{Bucket, BucketPatch};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::rest::Json;
use crate::service::buckets;
use crate::state::AppState;

/// `PATCH /v1/buckets/{bucketId}` (admin): changes the given rules.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(patch): Json<BucketPatch>,
) -> ApiResult<axum::Json<Bucket>> {
    Ok(axum::Json(buckets::update(&state, &p, &id, patch).await?))
}
