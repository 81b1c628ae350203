use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::rest::Query;
use crate::service::files;
use crate::service::view::FileView;
use crate::state::AppState;

/// A page of files.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilePageBody {
    pub files: Vec<FileView>,
    pub next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
}

/// `GET /v1/files`: the files the caller may read, filtered, ordered and paged.
pub async fn handler(
    State(state): State<AppState>,
    Caller(p): Caller,
    Query(params): Query<Vec<(String, String)>>,
) -> ApiResult<Json<FilePageBody>> {
    let page = files::list(&state, &p, &params).await?;
    Ok(Json(FilePageBody {
        files: FileView::list(&state.config.public_url, &p, page.files),
        next_cursor: page.next_cursor,
        total_count: page.total_count,
    }))
}
