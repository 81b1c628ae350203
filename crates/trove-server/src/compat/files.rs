//! `GET`/`HEAD`/`DELETE /nhost/v1/files/{id}` and `GET /nhost/v1/files/{id}/presignedurl`.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{NhostCaller, NhostResult};
use crate::content::ServeOptions;
use crate::images;
use crate::service::files;
use crate::service::signed::{self, SignRequest};
use crate::state::AppState;

/// The content, with hasura-storage's image parameters (`w`, `h`, `q`, `b`, `f`) served by the
/// image previews; Range and conditional requests as on `/v1`.
pub async fn download(
    State(state): State<AppState>,
    NhostCaller(p): NhostCaller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> NhostResult<Response> {
    let (_, transform) = images::parse_query(query.as_deref(), &[])?;
    let (file, bucket) = files::readable_with_bucket(&state, &p, &id).await?;
    let opts = ServeOptions {
        attachment: false,
        cache_control: None,
    };
    Ok(images::serve_either(&state, &file, &bucket, transform, &method, &headers, opts).await?)
}

/// → 204; the file and its bytes go.
pub async fn delete(
    State(state): State<AppState>,
    NhostCaller(p): NhostCaller,
    Path(id): Path<String>,
) -> NhostResult<Response> {
    files::delete(&state, &p, &id, None).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// → `{"url", "expiration"}`: a Trove signed URL for the bucket's download expiration, which works
/// without credentials; 403 when the bucket disables signed URLs.
pub async fn presigned_url(
    State(state): State<AppState>,
    NhostCaller(p): NhostCaller,
    Path(id): Path<String>,
) -> NhostResult<Json<Value>> {
    let signed = signed::create(&state, &p, &id, SignRequest::default()).await?;
    Ok(Json(
        json!({"url": signed.url, "expiration": signed.expires_in}),
    ))
}
