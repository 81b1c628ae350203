//! File operations: read, list, change, delete.

use serde::{Deserialize, Serialize};
use trove_core::{
    Access, Bucket, ContentRules, ErrorCode, FileId, FilePermission, FileQuery, FileRecord,
    Principal, Visibility, time, validate,
};
use trove_meta::FilePage;

use crate::error::{ApiError, ApiResult};
use crate::service::{buckets, categories};
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

/// A page of the files the principal may list.
pub async fn list(
    state: &AppState,
    p: &Principal,
    params: &[(String, String)],
) -> ApiResult<FilePage> {
    let query = FileQuery::from_params(p.list_scope()?, params)?;
    Ok(state.meta.list_files(&query).await?)
}

/// The rules a stored file's content must satisfy: its bucket's, tightened by its category's.
pub async fn content_rules(state: &AppState, file: &FileRecord) -> ApiResult<ContentRules> {
    let bucket = buckets::find(state, &file.bucket_id).await?;
    let category = match &file.category {
        Some(k) => state.meta.get_category(k).await?,
        None => None,
    };
    Ok(ContentRules::new(&bucket, category.as_ref()))
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
    /// A category key, or `null` to clear it.
    #[serde(default, deserialize_with = "some_or_null")]
    pub category: Option<Option<String>>,
}

fn some_or_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
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
    if let Some(category) = patch.category {
        file.category = match category {
            None => None,
            Some(key) => {
                // The new category's rules are checked against the stored file.
                let c = categories::for_upload(state, &key).await?;
                if c.bucket_id.as_ref().is_some_and(|b| *b != file.bucket_id) {
                    return Err(ApiError::invalid(format!(
                        "category '{key}' belongs to another bucket"
                    )));
                }
                let bucket = buckets::find(state, &file.bucket_id).await?;
                let rules = ContentRules::new(&bucket, Some(&c));
                if file.is_uploaded {
                    rules.check_size(file.size)?;
                    rules.check_mime(&file.mime_type)?;
                }
                Some(c.key)
            }
        };
    }
    file.updated_at = time::now();
    if !state.meta.update_file_fields(&file).await? {
        return Err(ApiError::not_found("file"));
    }
    Ok(file)
}

/// `makeFilePublic` / `makeFilePrivate`.
pub async fn set_visibility(
    state: &AppState,
    p: &Principal,
    id: &str,
    v: Visibility,
) -> ApiResult<FileRecord> {
    update(
        state,
        p,
        id,
        FilePatch {
            visibility: Some(v),
            ..FilePatch::default()
        },
    )
    .await
}

pub async fn delete(state: &AppState, p: &Principal, id: &str) -> ApiResult<()> {
    let file = changeable(state, p, id).await?;
    remove(state, file.id).await
}

/// The answer of a bulk deletion.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkDeletion {
    pub deleted: Vec<String>,
    pub not_found: Vec<String>,
    pub forbidden: Vec<String>,
}

/// Most ids in one bulk deletion.
pub const MAX_BULK: usize = 1000;

/// Deletes each file the principal may change; a file it may not even read is reported as not
/// found, so another tenant's files stay invisible.
pub async fn delete_many(
    state: &AppState,
    p: &Principal,
    ids: &[String],
) -> ApiResult<BulkDeletion> {
    p.require_authenticated()?;
    if ids.len() > MAX_BULK {
        return Err(ApiError::invalid("ids may list at most 1000 files"));
    }
    let mut out = BulkDeletion::default();
    for raw in ids {
        let found = match FileId::parse(raw) {
            Some(id) => state.meta.get_file(id).await?,
            None => None,
        };
        match found.map(|f| (p.file_permission(&f), f)) {
            None | Some((FilePermission::None, _)) => out.not_found.push(raw.clone()),
            Some((FilePermission::Read, _)) => out.forbidden.push(raw.clone()),
            Some((FilePermission::Change, f)) => {
                remove(state, f.id).await?;
                out.deleted.push(raw.clone());
            }
        }
    }
    Ok(out)
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

/// Deletes a blob that no row references any more: queued first, so a failure is retried later.
pub async fn delete_blob_now(state: &AppState, key: &str) {
    if let Err(e) = state.meta.queue_blob_deletion(key).await {
        tracing::warn!(key, error = %e, "could not queue a blob for deletion");
    }
    delete_blob(state, key).await;
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

/// Refuses uploads and changes for a file that is not in a state to accept them.
pub fn conflict(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Conflict, message)
}
