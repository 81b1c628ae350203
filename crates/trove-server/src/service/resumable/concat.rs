//! Concatenation: a final upload names partial uploads of the same caller; once every part is
//! complete (at once, or later: `concatenation-unfinished`), exactly one request (the one that
//! claims the final upload in the metadata store) streams the parts in order into the file's blob,
//! hashed and sniffed on the way, makes the file ready and removes the parts. A claim lapses after
//! the upload expiry, so a concatenation whose process died is taken up again by the next request
//! that looks at the final upload.

use crate::metrics::{UploadKind, UploadStage};
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use trove_core::mime::{self, SNIFF_LEN};
use trove_core::tus::{Concat, parse_concat};
use trove_core::{FileId, FileRecord, FileStatus, Principal, time};
use trove_meta::{MetaError, StoredContent, TusKind, TusUpload};

use super::finish::refuse;
use super::{blob_error, check_alive, metadata};
use crate::error::{ApiError, ApiResult};
use crate::service::{files, ingest};
use crate::state::AppState;

/// Creates a final upload; returns it and, when every part was complete already, its file.
pub(super) async fn create_final(
    state: &AppState,
    p: &Principal,
    mut upload: TusUpload,
    part_ids: &[String],
) -> ApiResult<(TusUpload, Option<FileRecord>)> {
    let mut parts: Vec<TusUpload> = Vec::with_capacity(part_ids.len());
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
        if part.final_id.is_some() || parts.iter().any(|q| q.id == id) {
            return Err(ApiError::invalid(format!(
                "partial upload '{raw}' belongs to a final upload already"
            )));
        }
        parts.push(part);
    }
    let known: Option<u64> = parts.iter().map(|q| q.length).sum();
    let new = metadata::new_file(state, upload.metadata.as_deref()).await?;
    let rules = new.file.rules();
    match known {
        Some(total) => rules.check_size(total)?,
        None => rules.check_size_max(parts.iter().map(|q| q.offset).sum())?,
    }
    let file = new.file.announced_row(p, upload.id, None)?;
    upload.kind = TusKind::Final;
    upload.offset = 0;
    upload.length = known;
    upload.fingerprint = new.fingerprint;
    upload.concat = Some(format!(
        "final;{}",
        parts
            .iter()
            .map(|q| format!("{}/v1/tus/{}", state.config.public_url, q.id))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let ids: Vec<FileId> = parts.iter().map(|q| q.id).collect();
    match state.meta.insert_final_upload(&upload, &file, &ids).await {
        Err(MetaError::Conflict(m)) => return Err(ApiError::invalid(m)),
        other => other?,
    }
    let done = concatenate_when_ready(state, upload.id).await?;
    let upload = state
        .meta
        .get_tus_upload(upload.id)
        .await?
        .unwrap_or(upload);
    Ok((upload, done))
}

/// The parts of a final upload in the order its `Upload-Concat` names them; `None` when one of
/// them is gone (terminated or expired: the final upload cannot complete any more).
async fn ordered_parts(state: &AppState, upload: &TusUpload) -> ApiResult<Option<Vec<TusUpload>>> {
    let order = match upload.concat.as_deref().map(|c| parse_concat(c.trim())) {
        Some(Ok(Concat::Final(ids))) => ids,
        _ => return Err(ApiError::internal("a final upload without its parts")),
    };
    let mut linked = state.meta.parts_of_final(upload.id).await?;
    let mut parts = Vec::with_capacity(order.len());
    for id in order {
        match linked.iter().position(|q| q.id.to_string() == id) {
            Some(i) => parts.push(linked.swap_remove(i)),
            None => return Ok(None),
        }
    }
    Ok(Some(parts))
}

/// The parts of a final upload still linked to it, for listings (unordered).
pub async fn parts(state: &AppState, final_id: FileId) -> ApiResult<Vec<TusUpload>> {
    Ok(state.meta.parts_of_final(final_id).await?)
}

/// Concatenates a final upload's parts into its file once every part is complete; returns the
/// file when it is ready (made so now or earlier), `None` while parts are missing bytes or another
/// request holds the concatenation.
pub(super) async fn concatenate_when_ready(
    state: &AppState,
    final_id: FileId,
) -> ApiResult<Option<FileRecord>> {
    let Some(upload) = state
        .meta
        .get_tus_upload(final_id)
        .await?
        .filter(|u| u.kind == TusKind::Final)
    else {
        return Ok(None);
    };
    let Some(file) = state.meta.get_file(final_id).await? else {
        return Ok(None);
    };
    if file.status == FileStatus::Ready {
        return Ok(Some(file));
    }
    let Some(parts) = ordered_parts(state, &upload).await? else {
        return Err(refuse_final(
            state,
            &file,
            &[],
            files::conflict("a partial upload of this final upload was removed"),
        )
        .await);
    };
    if !parts.iter().all(TusUpload::is_complete) {
        return Ok(None);
    }
    let now = time::now();
    let lease = chrono::Duration::seconds(state.config.upload_expiry_secs.max(1) as i64);
    if !state.meta.claim_final(final_id, now, now + lease).await? {
        return Ok(None);
    }
    let total: u64 = parts.iter().map(|q| q.offset).sum();
    let rules = files::content_rules(state, &file).await?;
    if let Err(e) = rules.check_size(total) {
        return Err(refuse_final(state, &file, &parts, e.into()).await);
    }
    let revision = file.revision.unwrap_or_default();
    let key = FileRecord::blob_key(&file.bucket_id, file.id, revision);
    let content = match copy_parts(state, &file, &parts, &key).await {
        Ok(c) => c,
        Err(e) => return Err(refuse_final(state, &file, &parts, e).await),
    };
    if let Err(e) = rules.check_mime(&content.mime_type) {
        files::delete_blob_now(state, &key).await;
        return Err(refuse_final(state, &file, &parts, e.into()).await);
    }
    state
        .meta
        .advance_tus_upload(final_id, upload.offset, total, Some(total), time::now())
        .await?;
    let ready = ingest::make_ready(state, file.id, &content, &key).await?;
    remove_parts(state, &parts).await;
    state
        .metrics
        .upload(UploadKind::Tus, UploadStage::Completed);
    Ok(Some(ready))
}

async fn remove_parts(state: &AppState, parts: &[TusUpload]) {
    for part in parts {
        if let Err(e) = state.meta.delete_tus_upload(part.id).await {
            tracing::warn!(upload = %part.id, error = %e, "removing a concatenated part failed");
        }
        if let Err(e) = state.blobs.delete_upload(&part.id.to_string()).await {
            tracing::warn!(upload = %part.id, error = %e, "removing a concatenated part's bytes failed");
        }
    }
}

/// Refuses a final upload's content: its file, its record and its parts go.
async fn refuse_final(
    state: &AppState,
    file: &FileRecord,
    parts: &[TusUpload],
    e: ApiError,
) -> ApiError {
    let parts = if parts.is_empty() {
        state.meta.parts_of_final(file.id).await.unwrap_or_default()
    } else {
        parts.to_vec()
    };
    remove_parts(state, &parts).await;
    refuse(state, file, e).await
}

/// Terminates a final upload that is not complete: its file and its parts go.
pub(super) async fn terminate_final(state: &AppState, upload: &TusUpload) -> ApiResult<()> {
    let parts = state.meta.parts_of_final(upload.id).await?;
    files::remove(state, upload.id, None).await?;
    remove_parts(state, &parts).await;
    Ok(())
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
                .read_upload(&part.id.to_string(), Some(0..part.offset))
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
