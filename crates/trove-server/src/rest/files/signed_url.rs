use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::service::signed::{self, SignRequest, SignedUrl};
use crate::state::AppState;

/// `POST /v1/files/{id}/signed-url` with an optional `{"expiresIn", "download"}` body.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<SignedUrl>> {
    let req = if body.iter().all(u8::is_ascii_whitespace) {
        SignRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?
    };
    Ok(Json(signed::create(&state, &p, &id, req).await?))
}
