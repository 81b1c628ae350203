use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;

use crate::auth::Caller;
use crate::content::ServeOptions;
use crate::error::ApiResult;
use crate::images;
use crate::service::files;
use crate::state::AppState;

/// `GET|HEAD /v1/files/{id}/content[?download=1][&w=…&h=…&fit=…&format=…&q=…&blur=…]`: the
/// content, or a rendition of it when transformation parameters are given.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (own, transform) = images::parse_query(query.as_deref(), &["download"])?;
    let (file, bucket) = files::readable_with_bucket(&state, &p, &id).await?;
    let attachment = own.iter().any(|(_, v)| matches!(v.as_str(), "1" | "true"));
    let opts = ServeOptions {
        attachment,
        cache_control: None,
    };
    images::serve_either(&state, &file, &bucket, transform, &method, &headers, opts).await
}
