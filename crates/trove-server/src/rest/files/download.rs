use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde::Deserialize;

use crate::auth::Caller;
use crate::content::{self, ServeOptions};
use crate::error::ApiResult;
use crate::rest::Query;
use crate::service::files;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct DownloadQuery {
    download: Option<String>,
}

/// `GET|HEAD /v1/files/{id}/content[?download=1]`.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Query(q): Query<DownloadQuery>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (file, bucket) = files::readable_with_bucket(&state, &p, &id).await?;
    let attachment = matches!(q.download.as_deref(), Some("1" | "true"));
    content::serve(
        &state,
        &file,
        &bucket,
        &method,
        &headers,
        ServeOptions {
            attachment,
            cache_control: None,
        },
    )
    .await
}
