use axum::extract::State;
use axum::http::StatusCode;
use trove_core::{Bucket, NewBucket};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::rest::Json;
use crate::service::buckets;
use crate::state::AppState;

/// `POST /v1/buckets` (admin) → 201 with the bucket.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Json(req): Json<NewBucket>,
) -> ApiResult<(StatusCode, axum::Json<Bucket>)> {
    let bucket = buckets::create(&state, &p, req).await?;
    Ok((StatusCode::CREATED, axum::Json(bucket)))
}
