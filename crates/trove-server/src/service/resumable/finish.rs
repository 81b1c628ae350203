//! The end of an upload: its bytes become a file. For a single upload the bytes are hashed (from
//! the running hash when this process received them all), sniffed, checked against the bucket's
//! rules and renamed into place (final uploads: see `concat`).
//! A file becomes `ready` only after its blob is durable; refused bytes take their file with them.

use crate::metrics::{UploadKind, UploadStage};
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use trove_blob::{BlobError, BlobStream, UploadFile};
use trove_core::mime::{self, SNIFF_LEN};
use trove_core::{FileRecord, FileStatus};
use trove_meta::{StoredContent, TusUpload};

use super::lock::UploadLock;
use super::{Found, blob_error, not_found};
use crate::error::{ApiError, ApiResult};
use crate::service::{files, ingest};
use crate::state::AppState;

/// The first bytes of a stream (for MIME detection) and its SHA-256: the running hash when this
/// process received every byte (the stream then holds only the first bytes), else hashed here.
async fn sniff_and_hash(
    mut stream: BlobStream,
    running: Option<Sha256>,
) -> ApiResult<(Vec<u8>, String)> {
    let mut fresh = running.is_none().then(Sha256::new);
    let mut head = Vec::with_capacity(SNIFF_LEN);
    while let Some(chunk) = stream.try_next().await.map_err(ApiError::internal)? {
        if head.len() < SNIFF_LEN {
            head.extend_from_slice(&chunk[..chunk.len().min(SNIFF_LEN - head.len())]);
        }
        if let Some(h) = fresh.as_mut() {
            h.update(&chunk);
        }
    }
    let sha = running
        .or(fresh)
        .map(|h| hex::encode(h.finalize()))
        .unwrap_or_default();
    Ok((head, sha))
}

/// Refuses an upload's content: the pending file and the bytes go.
pub(super) async fn refuse(state: &AppState, file: &FileRecord, e: ApiError) -> ApiError {
    if let Err(cleanup) = files::remove(state, file.id, None).await {
        tracing::warn!(file = %file.id, error = ?cleanup, "removing a refused upload failed");
    }
    state.tus_hashes.forget(file.id);
    let _ = state.blobs.delete_upload(&file.id.to_string()).await;
    state.metrics.upload(UploadKind::Tus, UploadStage::Failed);
    e
}

/// Makes a single upload whose `length` bytes all arrived its file. Without `handle` the bytes
/// were renamed into place already (a completion interrupted after that step).
pub(super) async fn complete(
    state: &AppState,
    file: FileRecord,
    mut handle: Option<UploadFile>,
    length: u64,
    hasher: Option<Sha256>,
) -> ApiResult<FileRecord> {
    let rules = files::content_rules(state, &file).await?;
    if let Err(e) = rules.check_size(length) {
        return Err(refuse(state, &file, e.into()).await);
    }
    let revision = file
        .revision
        .ok_or_else(|| files::conflict("the file has no pending upload"))?;
    let key = FileRecord::blob_key(&file.bucket_id, file.id, revision);
    let id = file.id.to_string();
    // With the running hash only the first bytes are read, to decide the type.
    let range = hasher.is_some().then(|| 0..length.min(SNIFF_LEN as u64));
    // On object storage the parts are completed into the blob first (refused bytes are deleted
    // with their pending file); a local upload is read where it is and renamed once accepted.
    if let Some(h) = handle.as_mut()
        && h.sealed_into(&key)
    {
        h.seal().await.map_err(blob_error)?;
    }
    let in_place = handle.as_ref().is_none_or(|h| h.sealed_into(&key));
    let stream = if in_place {
        state.blobs.read(&key, range).await
    } else {
        state.blobs.read_upload(&id, range).await
    }
    .map_err(blob_error)?;
    let (head, sha) = sniff_and_hash(stream, hasher).await?;
    let mime_type = mime::decide(&head, Some(&file.mime_type), &file.name);
    if let Err(e) = rules.check_mime(&mime_type) {
        return Err(refuse(state, &file, e.into()).await);
    }
    if let Some(h) = handle {
        h.promote(&state.blobs, &key).await.map_err(blob_error)?;
    }
    state.tus_hashes.forget(file.id);
    let content = StoredContent::new(revision, length, mime_type, sha);
    let ready = ingest::make_ready(state, file.id, &content, &key).await?;
    state
        .metrics
        .upload(UploadKind::Tus, UploadStage::Completed);
    Ok(ready)
}

/// Completes a single upload whose bytes all arrived but whose completion did not happen (the
/// process died between the two). While another request holds the upload it is reported as is.
pub(super) async fn resume_completion(state: &AppState, upload: TusUpload) -> ApiResult<Found> {
    let Some(file) = state.meta.get_file(upload.id).await? else {
        return Err(not_found());
    };
    if file.status == FileStatus::Ready {
        return Ok(Found::Finished(file));
    }
    let Some(lock) = UploadLock::try_take(state, upload.id).await? else {
        return Ok(Found::Active(upload));
    };
    let outcome = resume_held(state, upload, file).await;
    lock.release().await;
    outcome
}

async fn resume_held(state: &AppState, upload: TusUpload, file: FileRecord) -> ApiResult<Found> {
    let length = upload.offset;
    let key = file.current_blob_key();
    let handle = match state
        .blobs
        .open_upload(&upload.id.to_string(), length, key.as_deref())
        .await
    {
        Ok(h) => Some(h),
        Err(BlobError::NotFound) => None,
        Err(BlobError::Locked) => return Ok(Found::Active(upload)),
        Err(e) => return Err(blob_error(e)),
    };
    complete(state, file, handle, length, None)
        .await
        .map(Found::Finished)
}
