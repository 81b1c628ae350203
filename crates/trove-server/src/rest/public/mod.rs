//! Links that need no credentials: permanent public URLs and signed, expiring download URLs.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use trove_core::{FileId, Visibility};

use crate::content::{self, ServeOptions};
use crate::error::{ApiError, ApiResult};
use crate::rest::Query;
use crate::service::{signed, view};
use crate::state::AppState;

/// `GET|HEAD /public/{id}/{name}`: a public file for anyone; 404 for private or unknown files; a
/// wrong name redirects (308) to the right one.
pub async fn public_file(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = FileId::parse(&id).ok_or_else(|| ApiError::not_found("file"))?;
    let (file, bucket) = state
        .meta
        .get_file_with_bucket(id)
        .await?
        .filter(|(f, _)| f.visibility == Visibility::Public)
        .ok_or_else(|| ApiError::not_found("file"))?;
    if name != file.name {
        let location = view::public_path(&file);
        let mut res = StatusCode::PERMANENT_REDIRECT.into_response();
        if let Ok(v) = HeaderValue::from_str(&location) {
            res.headers_mut().insert(header::LOCATION, v);
        }
        return Ok(res);
    }
    let opts = ServeOptions::default();
    let lifetime = i64::from(bucket.download_expiration);
    if let Some(res) = content::redirect_to_store(&state, &file, &bucket, &opts, lifetime).await? {
        return Ok(res);
    }
    content::serve(
        &state,
        &file,
        &bucket,
        &method,
        &headers,
        ServeOptions::default(),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct SignedQuery {
    token: String,
}

/// `GET|HEAD /v1/signed/{id}?token=…`: a signed download URL.
pub async fn signed_file(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<SignedQuery>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (file, bucket, token) = signed::resolve(&state, &id, &q.token).await?;
    let left = (token.expires - chrono::Utc::now().timestamp()).max(0);
    let opts = ServeOptions {
        attachment: token.attachment,
        cache_control: Some(format!("private, max-age={left}")),
    };
    if let Some(res) = content::redirect_to_store(&state, &file, &bucket, &opts, left).await? {
        return Ok(res);
    }
    content::serve(&state, &file, &bucket, &method, &headers, opts).await
}
