//! Links that need no credentials: permanent public URLs and signed, expiring download URLs.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use trove_core::{FileId, Visibility};

use crate::content::{self, ServeOptions};
use crate::error::{ApiError, ApiResult};
use crate::images;
use crate::service::{signed, view};
use crate::state::AppState;

/// `GET|HEAD /public/{id}/{name}[?w=…]`: a public file (or a rendition of it) for anyone; 404 for
/// private or unknown files; a wrong name redirects (308) to the right one.
pub async fn public_file(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (_, transform) = images::parse_query(query.as_deref(), &[])?;
    let id = FileId::parse(&id).ok_or_else(|| ApiError::not_found("file"))?;
    let (file, bucket) = state
        .meta
        .get_file_with_bucket(id)
        .await?
        .filter(|(f, _)| f.visibility == Visibility::Public)
        .ok_or_else(|| ApiError::not_found("file"))?;
    if name != file.name {
        let mut location = view::public_path(&file);
        if let Some(q) = query.as_deref().filter(|q| !q.is_empty()) {
            location = format!("{location}?{q}");
        }
        let mut res = StatusCode::PERMANENT_REDIRECT.into_response();
        if let Ok(v) = HeaderValue::from_str(&location) {
            res.headers_mut().insert(header::LOCATION, v);
        }
        return Ok(res);
    }
    if let Some(t) = transform {
        let opts = ServeOptions::default();
        return images::serve_transformed(&state, &file, &bucket, t, &method, &headers, opts).await;
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

/// `GET|HEAD /v1/signed/{id}?token=…`: a signed download URL; the transformation parameters of a
/// URL signed for a rendition are part of what its token covers.
pub async fn signed_file(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (own, transform) = images::parse_query(query.as_deref(), &["token"])?;
    let token = own
        .into_iter()
        .next()
        .map(|(_, v)| v)
        .ok_or_else(|| ApiError::invalid("query parameter `token` is missing"))?;
    let (file, bucket, token) = signed::resolve(&state, &id, &token, transform.as_ref()).await?;
    let left = (token.expires - chrono::Utc::now().timestamp()).max(0);
    let opts = ServeOptions {
        attachment: token.attachment,
        cache_control: Some(format!("private, max-age={left}")),
    };
    if let Some(t) = transform {
        return images::serve_transformed(&state, &file, &bucket, t, &method, &headers, opts).await;
    }
    if let Some(res) = content::redirect_to_store(&state, &file, &bucket, &opts, left).await? {
        return Ok(res);
    }
    content::serve(&state, &file, &bucket, &method, &headers, opts).await
}
