use axum::extract::State;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::service::buckets;
use crate::state::AppState;

/// `GET /v1/buckets` → `{"buckets":[…]}`.
pub async fn handler(State(state): State<AppState>, Caller(p): Caller) -> ApiResult<axum::Json<Value>> {
    let list = buckets::list(&state, &p).await?;
    Ok(axum::Json(json!({ "buckets": list })))
}
