//! `/v1/uploads`: direct uploads.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::rest::Query;
use crate::rest::files::upload::{content_length, content_type};
use crate::rest::view;
use crate::service::resumable::listing::UnfinishedParams;
use crate::service::resumable::{self, UnfinishedPage};
use crate::service::uploads::{self, UploadRequest, UploadTarget};
use crate::service::view::FileView;
use crate::state::AppState;
use trove_core::Principal;

#[derive(Debug, Serialize)]
pub struct CreatedUpload {
    file: FileView,
    upload: UploadTarget,
}

/// `POST /v1/uploads` → 201 `{"file", "upload": {method, url, headers, expiresAt}}`.
pub async fn create(
    State(state): State<AppState>,
    Caller(p): Caller,
    crate::rest::Json(req): crate::rest::Json<UploadRequest>,
) -> ApiResult<(StatusCode, Json<CreatedUpload>)> {
    let (file, upload) = uploads::create(&state, &p, req).await?;
    let file = view::file(&state, &p, file).0;
    Ok((StatusCode::CREATED, Json(CreatedUpload { file, upload })))
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: String,
}

/// `PUT /v1/uploads/{id}?token=…`: the bytes; the signed token is the credential.
pub async fn put(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<FileView>> {
    let file = uploads::receive(
        &state,
        &id,
        &q.token,
        content_type(&headers),
        content_length(&headers),
        body.into_data_stream(),
    )
    .await?;
    // Whoever holds the URL sees the file as an anonymous caller would.
    Ok(view::file(&state, &Principal::Anonymous, file))
}

/// `POST /v1/uploads/{id}/complete`.
pub async fn complete(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<FileView>> {
    let file = uploads::complete(&state, &p, &id).await?;
    Ok(view::file(&state, &p, file))
}

/// `DELETE /v1/uploads/{id}` → 204.
pub async fn cancel(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    uploads::cancel(&state, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/uploads`: the caller's unfinished uploads (tus and direct), newest first.
pub async fn list(
    State(state): State<AppState>,
    Caller(p): Caller,
    Query(q): Query<UnfinishedParams>,
) -> ApiResult<Json<UnfinishedPage>> {
    Ok(Json(resumable::unfinished(&state, &p, q).await?))
}
