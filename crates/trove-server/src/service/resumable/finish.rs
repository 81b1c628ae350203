//! The end of an upload: its bytes become a file. For a single upload the bytes are hashed (from
//! the running hash when this process received them all), sniffed, checked against the bucket's
//! rules and renamed into place; a final upload streams its partial uploads into a new blob.
//! A file becomes `ready` only after its blob is durable; refused bytes take their file with them.

use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use trove_blob::{BlobError, BlobStream, UploadFile};
use trove_core::mime::{self, SNIFF_LEN};
use trove_core::{FileId, FileRecord, FileStatus, Principal, time};
use trove_meta::{StoredContent, TusKind, TusUpload};

use super::{Found, blob_error, check_alive, metadata, not_found};
use crate::error::{ApiError, ApiResult};
use crate::service::{files, ingest};
use crate::state::AppState;

/// Hashes a stream, keeping its first bytes for MIME detection.
async fn hash(mut stream: BlobStream, mut hasher: Option<Sha256>) -> ApiResult<(Vec<u8>, String)> {
    let rehash = hasher.is_none();
    let h = hasher.get_or_insert_with(Sha256::new);
    let mut head = Vec::with_capacity(SNIFF_LEN);
    while let Some(chunk) = stream.try_next().await.map_err(ApiError::internal)? {
        if head.len() < SNIFF_LEN {
            head.extend_from_slice(&chunk[..chunk.len().min(SNIFF_LEN - head.len())]);
        } else if !rehash {
            break;
        }
        if rehash {
            h.update(&chunk);
        }
    }
    let sha = hasher
        .map(|h| hex::encode(h.finalize()))
        .unwrap_or_default();
    Ok((head, sha))
}

/// Refuses an upload's content: the pending file and the bytes go.
async fn refuse(state: &AppState, file: &FileRecord, e: ApiError) -> ApiError {
    if let Err(cleanup) = files::remove(state, file.id, None).await {
        tracing::warn!(file = %file.id, error = ?cleanup, "removing a refused upload failed");
    }
    state.tus_hashes.forget(file.id);
    let _ = state.blobs.delete_upload(&file.id.to_string()).await;
    e
}

/// Makes a single upload whose `length` bytes all arrived its file. Without `handle` the bytes
/// were renamed into place already (a completion interrupted after that step).
pub(super) async fn complete(
    state: &AppState,
    file: FileRecord,
    handle: Option<UploadFile>,
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
    let stream = match &handle {
        Some(_) => state.blobs.read_upload(&id, range).await,
        None => state.blobs.read(&key, range).await,
    }
    .map_err(blob_error)?;
    let (head, sha) = hash(stream, hasher).await?;
    let mime_type = mime::decide(&head, Some(&file.mime_type), &file.name);
    if let Err(e) = rules.check_mime(&mime_type) {
        return Err(refuse(state, &file, e.into()).await);
    }
    if let Some(h) = handle {
        h.promote(&state.blobs, &key).await.map_err(blob_error)?;
    }
    state.tus_hashes.forget(file.id);
    let content = StoredContent::new(revision, length, mime_type, sha);
    ingest::make_ready(state, file.id, &content, &key).await
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
    let length = upload.offset;
    let handle = match state
        .blobs
        .open_upload(&upload.id.to_string(), length)
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

/// Creates a final upload from complete partial uploads of the same caller: the parts are locked,
/// streamed in order into the file's blob (hashed and sniffed on the way), and removed once the
/// file is ready. Partial uploads still receiving bytes are refused (`concatenation-unfinished`
/// is not offered).
pub(super) async fn concatenate(
    state: &AppState,
    p: &Principal,
    mut upload: TusUpload,
    part_ids: &[String],
) -> ApiResult<TusUpload> {
    let mut parts = Vec::with_capacity(part_ids.len());
    for raw in part_ids {
        let missing = || ApiError::invalid(format!("partial upload '{raw}' does not exist"));
        let id = FileId::parse(raw).ok_or_else(missing)?;
        let part = state
            .meta
            .get_tus_upload(id)
            .await?
            .filter(|u| {
                u.kind == TusKind::Partial && p.owns_upload(u.owner.as_ref(), u.tenant.as_ref())
            })
            .ok_or_else(missing)?;
        check_alive(state, &part)?;
        if !part.is_complete() {
            return Err(ApiError::invalid(format!(
                "partial upload '{raw}' is not complete"
            )));
        }
        if parts.iter().any(|q: &TusUpload| q.id == id) {
            return Err(ApiError::invalid(format!(
                "partial upload '{raw}' is named twice"
            )));
        }
        parts.push(part);
    }
    let total: u64 = parts.iter().map(|q| q.offset).sum();
    let new = metadata::new_file(state, upload.metadata.as_deref()).await?;
    let rules = new.file.rules();
    rules.check_size(total)?;
    let declared = mime::decide(&[], new.file.declared_type.as_deref(), &new.file.name);
    rules.check_mime(&declared)?;
    let mut file = new.file.pending_row(p, declared)?;
    file.id = upload.id;
    for a in &mut file.associations {
        a.file_id = upload.id;
    }
    // Held until the parts are removed: no request appends to or concatenates them meanwhile.
    let mut locks = Vec::with_capacity(parts.len());
    for part in &parts {
        locks.push(
            state
                .blobs
                .open_upload(&part.id.to_string(), part.offset)
                .await
                .map_err(blob_error)?,
        );
    }
    upload.kind = TusKind::Final;
    upload.offset = total;
    upload.length = Some(total);
    upload.fingerprint = new.fingerprint;
    upload.concat = Some(format!(
        "final;{}",
        parts
            .iter()
            .map(|q| format!("{}/v1/tus/{}", state.config.public_url, q.id))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    state.meta.insert_tus_upload(&upload, Some(&file)).await?;
    let revision = file.revision.unwrap_or_default();
    let key = FileRecord::blob_key(&file.bucket_id, file.id, revision);
    let content = match copy_parts(state, &file, &parts, &key).await {
        Ok(c) => c,
        Err(e) => return Err(refuse(state, &file, e).await),
    };
    if let Err(e) = rules.check_mime(&content.mime_type) {
        files::delete_blob_now(state, &key).await;
        return Err(refuse(state, &file, e.into()).await);
    }
    ingest::make_ready(state, file.id, &content, &key).await?;
    for part in &parts {
        state.meta.delete_tus_upload(part.id).await?;
        if let Err(e) = state.blobs.delete_upload(&part.id.to_string()).await {
            tracing::warn!(upload = %part.id, error = %e, "removing a concatenated part failed");
        }
    }
    drop(locks);
    Ok(upload)
}

/// Streams the parts into the blob `key`; returns the content once durable.
async fn copy_parts(
    state: &AppState,
    file: &FileRecord,
    parts: &[TusUpload],
    key: &str,
) -> ApiResult<StoredContent> {
    let mut writer = state.blobs.writer(key).await?;
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(SNIFF_LEN);
    let mut size = 0u64;
    let lease = ingest::lease_interval(state);
    let mut last_touch = std::time::Instant::now();
    let copied: ApiResult<()> = async {
        for part in parts {
            let mut stream = state
                .blobs
                .read_upload(&part.id.to_string(), None)
                .await
                .map_err(blob_error)?;
            while let Some(chunk) = stream.try_next().await.map_err(ApiError::internal)? {
                if head.len() < SNIFF_LEN {
                    head.extend_from_slice(&chunk[..chunk.len().min(SNIFF_LEN - head.len())]);
                }
                hasher.update(&chunk);
                size += chunk.len() as u64;
                writer.write(chunk).await?;
                if last_touch.elapsed() >= lease {
                    last_touch = std::time::Instant::now();
                    if !state.meta.touch_upload(file.id, time::now()).await? {
                        return Err(ingest::upload_gone());
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = copied {
        writer.abort().await;
        return Err(e);
    }
    writer.finish().await?;
    Ok(StoredContent::new(
        file.revision.unwrap_or_default(),
        size,
        mime::decide(&head, Some(&file.mime_type), &file.name),
        hex::encode(hasher.finalize()),
    ))
}
