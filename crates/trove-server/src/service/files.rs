//! File operations: read, list, change, delete.

use serde::{Deserialize, Serialize};
use trove_core::{
    Access, Bucket, ContentRules, ErrorCode, FileId, FilePermission, FileQuery, FileRecord,
    FileStatus, Principal, Visibility, time, validate,
};
use trove_meta::{FileChanges, FilePage};

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

/// Applies a `PATCH`: only the fields it names are written, so concurrent changes of other fields
/// survive; with `if_match`, only while the file's `etag` still matches (412 otherwise).
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: &str,
    patch: FilePatch,
    if_match: Option<&str>,
) -> ApiResult<FileRecord> {
    let file = changeable(state, p, id).await?;
    let mut changes = FileChanges {
        name: patch.name.as_deref().map(validate::file_name).transpose()?,
        metadata: None,
        visibility: patch.visibility,
        access: patch.access,
        category: None,
    };
    if let Some(metadata) = patch.metadata {
        validate::metadata(&metadata)?;
        changes.metadata = Some(metadata);
    }
    if let Some(category) = patch.category {
        changes.category = Some(match category {
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
        });
    }
    state
        .meta
        .update_file_fields(file.id, &changes, if_match, time::now())
        .await?
        .ok_or_else(|| ApiError::not_found("file"))
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
        None,
    )
    .await
}

pub async fn delete(
    state: &AppState,
    p: &Principal,
    id: &str,
    if_match: Option<&str>,
) -> ApiResult<FileRecord> {
    let file = changeable(state, p, id).await?;
    remove(state, file.id, if_match)
        .await?
        .ok_or_else(|| ApiError::not_found("file"))
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
            Some((FilePermission::Change, f)) => match remove(state, f.id, None).await? {
                Some(_) => out.deleted.push(raw.clone()),
                None => out.not_found.push(raw.clone()),
            },
        }
    }
    Ok(out)
}

/// Deletes a file's row, then its blob, and returns the row that was deleted (`None` when it was
/// gone already). The blob's deletion is queued in the same transaction as the row's, so a storage
/// failure leaves a queue entry for the clean-up task, never a silent leak.
pub async fn remove(
    state: &AppState,
    id: FileId,
    if_match: Option<&str>,
) -> ApiResult<Option<FileRecord>> {
    match state.meta.delete_file(id, if_match).await? {
        Some((file, key)) => {
            if let Some(key) = key {
                delete_blob(state, &key).await;
            }
            if file.status != FileStatus::Ready {
                // An unfinished resumable upload's bytes go with its file.
                if let Err(e) = state.blobs.delete_upload(&file.id.to_string()).await {
                    tracing::warn!(file = %file.id, error = %e, "removing an unfinished upload's bytes failed; the clean-up retries");
                }
            }
            Ok(Some(file))
        }
        None => Ok(None),
    }
}

/// Deletes a blob and its stored renditions: the renditions first, since once the original is
/// gone nothing would name them.
async fn remove_blob(state: &AppState, key: &str) -> Result<(), trove_blob::BlobError> {
    crate::images::drop_renditions(&state.blobs, key).await?;
    state.blobs.delete(key).await
}

/// Deletes a queued blob now; on failure it stays queued for [`sweep_blob_deletions`].
pub async fn delete_blob(state: &AppState, key: &str) {
    match remove_blob(state, key).await {
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

/// The wait before the next attempt at a deletion that failed `attempts` times: one minute,
/// doubling up to a day.
pub fn deletion_backoff(attempts: u32) -> chrono::Duration {
    let minutes = 1i64 << attempts.min(11);
    chrono::Duration::minutes(minutes.min(24 * 60))
}

/// Retries the queued blob deletions that are due; a failing key is pushed back with
/// [`deletion_backoff`], so it never blocks the keys behind it. Logs the queue's length and the age
/// of its oldest entry while it is not empty. Returns how many blobs were deleted.
pub async fn sweep_blob_deletions(state: &AppState) -> Result<usize, ApiError> {
    let now = time::now();
    let mut deleted = 0;
    loop {
        let due = state.meta.due_blob_deletions(now, 200).await?;
        if due.is_empty() {
            break;
        }
        for q in &due {
            match remove_blob(state, &q.key).await {
                Ok(()) => {
                    state.meta.blob_deleted(&q.key).await?;
                    deleted += 1;
                }
                Err(e) => {
                    let retry_at = now + deletion_backoff(q.attempts);
                    tracing::warn!(key = %q.key, attempts = q.attempts + 1, error = %e, %retry_at,
                        "blob deletion failed again");
                    state.meta.blob_deletion_failed(&q.key, retry_at).await?;
                }
            }
        }
    }
    let stats = state.meta.blob_deletion_stats().await?;
    if stats.len > 0 {
        let oldest_secs = stats
            .oldest
            .map(|t| (now - t).num_seconds().max(0))
            .unwrap_or(0);
        tracing::warn!(
            queued = stats.len,
            oldest_secs,
            "blob deletions are waiting for retry"
        );
    }
    Ok(deleted)
}

/// Refuses uploads and changes for a file that is not in a state to accept them.
pub fn conflict(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Conflict, message)
}
