//! `/v1/categories`: admins manage, every authenticated caller reads.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use trove_core::{Category, CategoryPatch, NewCategory};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::rest::Query;
use crate::service::categories;
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct CategoryList {
    categories: Vec<Category>,
}

/// `GET /v1/categories`.
pub async fn list(
    State(state): State<AppState>,
    Caller(p): Caller,
) -> ApiResult<Json<CategoryList>> {
    Ok(Json(CategoryList {
        categories: categories::list(&state, &p).await?,
    }))
}

/// `POST /v1/categories` → 201.
pub async fn create(
    State(state): State<AppState>,
    Caller(p): Caller,
    crate::rest::Json(req): crate::rest::Json<NewCategory>,
) -> ApiResult<(StatusCode, Json<Category>)> {
    Ok((
        StatusCode::CREATED,
        Json(categories::create(&state, &p, req).await?),
    ))
}

/// `GET /v1/categories/{key}`.
pub async fn get(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<Category>> {
    Ok(Json(categories::get(&state, &p, &key).await?))
}

/// `PATCH /v1/categories/{key}`.
pub async fn update(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(key): Path<String>,
    crate::rest::Json(patch): crate::rest::Json<CategoryPatch>,
) -> ApiResult<Json<Category>> {
    Ok(Json(categories::update(&state, &p, &key, patch).await?))
}

#[derive(Debug, Deserialize)]
pub struct DeleteQuery {
    #[serde(default)]
    force: bool,
}

/// `DELETE /v1/categories/{key}[?force=true]` → 204.
pub async fn delete(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(key): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> ApiResult<StatusCode> {
    categories::delete(&state, &p, &key, q.force).await?;
    Ok(StatusCode::NO_CONTENT)
}
