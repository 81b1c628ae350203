use axum::extract::{FromRequest, FromRequestParts, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{upload_multipart, upload_raw};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::rest::Query;
use crate::rest::view::{self, FileList};
use crate::state::AppState;

/// `POST /v1/files`: `multipart/form-data` with one or more `file` parts → 201 `{"files":[…]}`;
/// any other body is the file itself (`?bucketId=&name=`) → 201 with the file.
pub async fn handler(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let (mut parts, body) = req.into_parts();
    let Caller(p) = Caller::from_request_parts(&mut parts, &state).await?;
    p.require_upload()?;
    let is_multipart =
        content_type(&parts.headers).is_some_and(|ct| ct.starts_with("multipart/form-data"));
    if is_multipart {
        let req = Request::from_parts(parts, body);
        let multipart = Multipart::from_request(req, &state)
            .await
            .map_err(|e| ApiError::invalid(e.body_text()))?;
        let files = upload_multipart::receive(&state, &p, multipart).await?;
        Ok((
            StatusCode::CREATED,
            axum::Json(FileList::new(&state, &p, files)),
        )
            .into_response())
    } else {
        let Query(q) =
            Query::<upload_raw::RawQuery>::from_request_parts(&mut parts, &state).await?;
        let file = upload_raw::receive(&state, &p, q, &parts.headers, body).await?;
        Ok((StatusCode::CREATED, view::file(&state, &p, file)).into_response())
    }
}

/// The request's media type, lower-cased, without parameters.
pub fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(trove_core::mime::normalize)
        .filter(|s| !s.is_empty())
}

/// The declared `Content-Length`, if any.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}
