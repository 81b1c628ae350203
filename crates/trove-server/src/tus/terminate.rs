//! `DELETE /v1/tus/{id}` (termination): the unfinished upload, its bytes and its pending file go;
//! the upload is 404 afterwards.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{caller, dialect};
use crate::error::ApiResult;
use crate::service::resumable;
use crate::state::AppState;

pub(super) async fn handle(state: &AppState, id: &str, req: Request) -> ApiResult<Response> {
    dialect(req.headers())?;
    let (p, _, _) = caller(state, req).await?;
    resumable::terminate(state, &p, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
