//! Category operations: admins manage them, every authenticated caller reads them.

use trove_core::{Category, CategoryPatch, ErrorCode, NewCategory, Principal, time};
use trove_meta::MetaError;

use crate::error::{ApiError, ApiResult};
use crate::service::buckets;
use crate::state::AppState;

pub async fn list(state: &AppState, p: &Principal) -> ApiResult<Vec<Category>> {
    p.require_authenticated()?;
    Ok(state.meta.list_categories().await?)
}

pub async fn get(state: &AppState, p: &Principal, key: &str) -> ApiResult<Category> {
    p.require_authenticated()?;
    state
        .meta
        .get_category(key)
        .await?
        .ok_or_else(|| ApiError::not_found("category"))
}

/// The category an upload names; 400 `unknown_category` when there is none.
pub async fn for_upload(state: &AppState, key: &str) -> ApiResult<Category> {
    state.meta.get_category(key).await?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnknownCategory,
            format!("category '{key}' does not exist"),
        )
    })
}

async fn check_bucket(state: &AppState, c: &Category) -> ApiResult<()> {
    if let Some(b) = &c.bucket_id
        && buckets::find(state, b).await.is_err()
    {
        return Err(ApiError::invalid(format!("bucket '{b}' does not exist")));
    }
    Ok(())
}

pub async fn create(state: &AppState, p: &Principal, req: NewCategory) -> ApiResult<Category> {
    p.require_admin()?;
    let c = Category::create(req, time::now())?;
    check_bucket(state, &c).await?;
    match state.meta.insert_category(&c).await {
        Ok(()) => Ok(c),
        Err(MetaError::Conflict(_)) => Err(ApiError::new(
            ErrorCode::Conflict,
            format!("category '{}' already exists", c.key),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn update(
    state: &AppState,
    p: &Principal,
    key: &str,
    patch: CategoryPatch,
) -> ApiResult<Category> {
    p.require_admin()?;
    let current = get(state, p, key).await?;
    let c = current.patched(patch, time::now())?;
    check_bucket(state, &c).await?;
    if !state.meta.update_category(&c).await? {
        return Err(ApiError::not_found("category"));
    }
    Ok(c)
}

pub async fn delete(state: &AppState, p: &Principal, key: &str, force: bool) -> ApiResult<()> {
    p.require_admin()?;
    match state.meta.delete_category(key, force).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::not_found("category")),
        Err(MetaError::Conflict(_)) => Err(ApiError::new(
            ErrorCode::CategoryInUse,
            "files use this category; change them or use ?force=true",
        )),
        Err(e) => Err(e.into()),
    }
}
