use axum::extract::State;
use serde::Serialize;
use trove_core::Bucket;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::service::buckets;
use crate::state::AppState;

/// `{"buckets":[…]}`.
#[derive(Debug, Serialize)]
pub struct BucketList {
    pub buckets: Vec<Bucket>,
}

/// `GET /v1/buckets` → `{"buckets":[…]}`.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
) -> ApiResult<axum::Json<BucketList>> {
    let buckets = buckets::list(&state, &p).await?;
    Ok(axum::Json(BucketList { buckets }))
}
