use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::service::files::{self, BulkDeletion};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ids {
    ids: Vec<String>,
}

/// `DELETE /v1/files` with `{"ids":[…]}` → `{"deleted","notFound","forbidden"}`.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    crate::rest::Json(body): crate::rest::Json<Ids>,
) -> ApiResult<Json<BulkDeletion>> {
    Ok(Json(files::delete_many(&state, &p, &body.ids).await?))
}
