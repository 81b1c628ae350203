//! Bucket operations.

use trove_core::{Bucket, BucketId, BucketPatch, ErrorCode, NewBucket, Principal, time};
use trove_meta::{BucketUsage, MetaError};

use crate::error::{ApiError, ApiResult};
use crate::service::files;
use crate::state::AppState;

/// How many files a forced bucket deletion removes per round trip.
const DELETE_PAGE: u32 = 500;

fn parse_id(id: &str) -> ApiResult<BucketId> {
    // An id that cannot exist is simply not found.
    BucketId::parse(id).map_err(|_| ApiError::not_found("bucket"))
}

/// The rule for reading bucket settings, wherever they are shown (REST, GraphQL's `File.bucket`):
/// credentials are required.
pub fn require_read(p: &Principal) -> ApiResult<()> {
    Ok(p.require_authenticated()?)
}

pub async fn list(state: &AppState, p: &Principal) -> ApiResult<Vec<Bucket>> {
    require_read(p)?;
    Ok(state.meta.list_buckets().await?)
}

pub async fn get(state: &AppState, p: &Principal, id: &str) -> ApiResult<Bucket> {
    require_read(p)?;
    find(state, &parse_id(id)?).await
}

/// Files and bytes of every bucket, empty ones included, in the order of [`list`]. Only for those
/// who manage buckets: the totals span every tenant.
pub async fn usage(state: &AppState, p: &Principal) -> ApiResult<Vec<BucketUsage>> {
    p.require_admin()?;
    let (buckets, used) = tokio::try_join!(state.meta.list_buckets(), state.meta.bucket_usage())?;
    Ok(buckets
        .into_iter()
        .map(|b| {
            used.iter()
                .find(|u| u.bucket_id == b.id)
                .cloned()
                .unwrap_or(BucketUsage {
                    bucket_id: b.id,
                    files: 0,
                    bytes: 0,
                })
        })
        .collect())
}

/// Loads a bucket or answers 404.
pub async fn find(state: &AppState, id: &BucketId) -> ApiResult<Bucket> {
    state
        .meta
        .get_bucket(id)
        .await?
        .ok_or_else(|| ApiError::not_found("bucket"))
}

pub async fn create(state: &AppState, p: &Principal, req: NewBucket) -> ApiResult<Bucket> {
    p.require_admin()?;
    let bucket = Bucket::create(req, time::now())?;
    match state.meta.insert_bucket(&bucket).await {
        Ok(()) => Ok(bucket),
        Err(MetaError::Conflict(_)) => Err(ApiError::new(
            ErrorCode::Conflict,
            format!("bucket '{}' already exists", bucket.id),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn update(
    state: &AppState,
    p: &Principal,
    id: &str,
    patch: BucketPatch,
) -> ApiResult<Bucket> {
    p.require_admin()?;
    let current = find(state, &parse_id(id)?).await?;
    let updated = current.patched(patch, time::now())?;
    if !state.meta.update_bucket(&updated).await? {
        return Err(ApiError::not_found("bucket"));
    }
    Ok(updated)
}

/// Deletes a bucket; with `force`, its files and their blobs first.
pub async fn delete(state: &AppState, p: &Principal, id: &str, force: bool) -> ApiResult<()> {
    p.require_admin()?;
    let id = parse_id(id)?;
    find(state, &id).await?;
    if id == BucketId::default_bucket() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the default bucket cannot be deleted",
        ));
    }
    if force {
        loop {
            let page = state.meta.files_in_bucket(&id, None, DELETE_PAGE).await?;
            if page.is_empty() {
                break;
            }
            for file in page {
                files::remove(state, file.id, None).await?;
            }
        }
    }
    match state.meta.delete_bucket(&id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::not_found("bucket")),
        Err(MetaError::Conflict(_)) => Err(ApiError::new(
            ErrorCode::BucketNotEmpty,
            "the bucket still has files; delete them or use ?force=true",
        )),
        Err(e) => Err(e.into()),
    }
}
