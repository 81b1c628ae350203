//! `GET /v1/usage` → `{"buckets":[{"bucketId","files","bytes"}]}`: how many files each bucket holds
//! (every status) and the bytes of its ready ones. For the admin key and admins, since the totals
//! span every tenant; 403 `forbidden` for anyone else, 401 without credentials.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::service::buckets;
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct Usage {
    pub buckets: Vec<BucketUsage>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BucketUsage {
    pub bucket_id: String,
    pub files: u64,
    pub bytes: u64,
}

pub async fn handler(State(state): State<AppState>, Caller(p): Caller) -> ApiResult<Json<Usage>> {
    let buckets = buckets::usage(&state, &p)
        .await?
        .into_iter()
        .map(|u| BucketUsage {
            bucket_id: u.bucket_id.0,
            files: u.files,
            bytes: u.bytes,
        })
        .collect();
    Ok(Json(Usage { buckets }))
}
