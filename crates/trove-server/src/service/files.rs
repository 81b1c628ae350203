//! File metadata operations: read, change, delete.

use serde::Deserialize;
use trove_core::{Access, Bucket, FileId, FileRecord, Principal, Visibility, time, validate};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Loads a file the principal may read; 404 otherwise, whether it exists or not.
pub async fn readable(state: &AppState, p: &Principal, id: &str) -> ApiResult<FileRecord> {
    let id = FileId::parse(id).ok_or_else(|| ApiError::not_found("file"))?;
    let file = state
        .meta
        .get_file(id)
        .await?
        .ok_or_else(|| ApiError::not_found("file"))?;
    p.require_read(&file)?;
    Ok(file)
}

/// Like [`readable`], with the file's bucket, in one round trip.
pub async fn readable_with_bucket(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> ApiResult<(FileRecord, Bucket)> {
    let id = FileId::parse(id).ok_or_else(|| ApiError::not_found("file"))?;
    let (file, bucket) = state
        .meta
        .get_file_with_bucket(id)
        .await?
        .ok_or_else(|| ApiError::not_found("file"))?;
    p.require_read(&file)?;
    Ok((file, bucket))
}

/// Loads a file the principal may change; 404 when it may not read it, 403 when it may only read.
pub async fn changeable(state: &AppState, p: &Principal, id: &str) -> ApiResult<FileRecord> {
    // Changing anything needs credentials, whatever the file.
    p.require_authenticated()?;
    let file = readable(state, p, id).await?;
    p.require_change(&file)?;
    Ok(file)
}

/// The body of `PATCH /v1/files/{id}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilePatch {
    pub name: Option<String>,
    /// Replaces the whole metadata object.
    pub metadata: Option<serde_json::Value>,
    pub visibility: Option<Visibility>,
    pub access: Option<Access>,
}

pub async fn update(
    state: &AppState,
    p: &Principal,
    id: &str,
    patch: FilePatch,
) -> ApiResult<FileRecord> {
    let mut file = changeable(state, p, id).await?;
    if let Some(name) = patch.name {
        file.name = validate::file_name(&name)?;
    }
    if let Some(metadata) = patch.metadata {
        validate::metadata(&metadata)?;
        file.metadata = metadata;
    }
    if let Some(v) = patch.visibility {
        file.visibility = v;
    }
    if let Some(a) = patch.access {
        file.access = a;
    }
    file.updated_at = time::now();
    if !state.meta.update_file_fields(&file).await? {
        return Err(ApiError::not_found("file"));
    }
    Ok(file)
}

pub async fn delete(state: &AppState, p: &Principal, id: &str) -> ApiResult<()> {
    let file = changeable(state, p, id).await?;
    remove(state, file.id).await
}

/// Deletes a file's row, then its blob. The blob's deletion is queued in the same transaction as the
/// row's, so a storage failure leaves a queue entry for the clean-up task, never a silent leak.
pub async fn remove(state: &AppState, id: FileId) -> ApiResult<()> {
    if let Some((_, Some(key))) = state.meta.delete_file(id).await? {
        delete_blob(state, &key).await;
    }
    Ok(())
}

/// Deletes a queued blob now; on failure it stays queued for [`sweep_blob_deletions`].
pub async fn delete_blob(state: &AppState, key: &str) {
    match state.blobs.delete(key).await {
        Ok(()) => {
            if let Err(e) = state.meta.blob_deleted(key).await {
                tracing::warn!(key, error = %e, "could not dequeue a deleted blob");
            }
        }
        Err(e) => tracing::warn!(key, error = %e, "blob deletion failed; queued for retry"),
    }
}

/// Retries queued blob deletions; returns how many were deleted.
pub async fn sweep_blob_deletions(state: &AppState) -> Result<usize, ApiError> {
    let mut deleted = 0;
    loop {
        let keys = state.meta.pending_blob_deletions(200).await?;
        if keys.is_empty() {
            return Ok(deleted);
        }
        let mut progress = false;
        for key in &keys {
            if state.blobs.delete(key).await.is_ok() {
                state.meta.blob_deleted(key).await?;
                deleted += 1;
                progress = true;
            }
        }
        if !progress {
            return Ok(deleted);
        }
    }
}
