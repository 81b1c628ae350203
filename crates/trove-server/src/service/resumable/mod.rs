//! Resumable uploads (tus 1.0 and the IETF draft as tus-js-client speaks it): the transport-free
//! part. The HTTP shell is `crate::tus`.
//!
//! An upload's state lives in the metadata store (offset, length, owner) and its bytes in the blob
//! store (see `trove_blob::resumable`), never in process memory alone, so the server may restart
//! between any two requests. The offset moves only after the bytes it counts are durable.
//! A single (or final) upload's id is its file's id: the pending row is created with the upload
//! and becomes `ready` when the last byte has arrived and passed the bucket's rules, exactly like
//! a direct upload. A partial upload has no file row; it lives until a final upload concatenates
//! it or it expires.
//!
//! Error policy: only the upload's creator (or the admin key) learns that it exists (404 for
//! everyone else); an upload without progress for `TROVE_UPLOAD_EXPIRY` is `upload_expired` (410)
//! until the clean-up removes it; everything else uses the codes of other uploads.

mod append;
pub mod concat;
mod finish;
pub mod listing;
mod lock;
mod metadata;

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use sha2::Sha256;
use trove_blob::BlobError;
use trove_core::tus::Concat;
use trove_core::{ErrorCode, FileId, FileRecord, FileStatus, Principal, time};
use trove_meta::{TusKind, TusUpload};

use crate::error::{ApiError, ApiResult};
use crate::metrics::{UploadKind, UploadStage};
use crate::service::files;
use crate::state::AppState;
pub use append::{Append, Appended, append};
pub use listing::{Unfinished, UnfinishedPage, unfinished};

/// What a creation request says.
#[derive(Debug, Clone, Default)]
pub struct Creation {
    /// `None` when the length is deferred.
    pub length: Option<u64>,
    /// The `Upload-Metadata` header.
    pub metadata: Option<String>,
    pub concat: Option<Concat>,
}

/// An upload as a request finds it.
#[derive(Debug, Clone)]
pub enum Found {
    /// Still receiving bytes (or a final upload, whose record stays).
    Active(TusUpload),
    /// Its bytes all arrived and it became this file.
    Finished(FileRecord),
}

/// Running SHA-256 states of uploads this process is receiving, so the last request does not
/// read the whole file again to hash it. Only a cache: an upload continued on another node (or
/// after a restart) is hashed from its stored bytes instead.
#[derive(Debug, Default)]
pub struct HashCache {
    states: Mutex<HashMap<FileId, (u64, Sha256)>>,
}

/// At most this many running hashes are kept (about 120 bytes each).
const HASH_CACHE_CAPACITY: usize = 4096;

impl HashCache {
    /// The running hash of `id` if it covers exactly its first `offset` bytes.
    fn take(&self, id: FileId, offset: u64) -> Option<Sha256> {
        let mut states = self.states.lock().ok()?;
        match states.remove(&id) {
            Some((at, hasher)) if at == offset => Some(hasher),
            _ => None,
        }
    }

    fn put(&self, id: FileId, offset: u64, hasher: Sha256) {
        if let Ok(mut states) = self.states.lock()
            && (states.len() < HASH_CACHE_CAPACITY || states.contains_key(&id))
        {
            states.insert(id, (offset, hasher));
        }
    }

    fn forget(&self, id: FileId) {
        if let Ok(mut states) = self.states.lock() {
            states.remove(&id);
        }
    }
}

/// When an upload expires: a fixed time after its last progress.
pub fn expires_at(state: &AppState, upload: &TusUpload) -> DateTime<Utc> {
    upload.updated_at + chrono::Duration::seconds(state.config.upload_expiry_secs as i64)
}

fn check_alive(state: &AppState, upload: &TusUpload) -> ApiResult<()> {
    let finished_final = upload.kind == TusKind::Final && upload.is_complete();
    if !finished_final && expires_at(state, upload) <= time::now() {
        return Err(ApiError::new(
            ErrorCode::UploadExpired,
            "the upload expired: it made no progress for too long",
        ));
    }
    Ok(())
}

fn not_found() -> ApiError {
    ApiError::not_found("upload")
}

/// Maps blob-store answers about an upload's bytes to the client's terms.
fn blob_error(e: BlobError) -> ApiError {
    match e {
        BlobError::Locked => ApiError::new(
            ErrorCode::UploadLocked,
            "another request is writing to this upload; retry when it is done",
        ),
        BlobError::NotFound => files::conflict("the upload is being completed"),
        BlobError::Unsupported(m) => ApiError::new(ErrorCode::MethodNotAllowed, m),
        other => other.into(),
    }
}

/// Parses an upload id from a URL; anything else is simply not an upload.
fn parse_id(id: &str) -> ApiResult<FileId> {
    FileId::parse(id).ok_or_else(not_found)
}

/// Creates an upload (and, for a single upload, its pending file row).
pub async fn create(state: &AppState, p: &Principal, req: Creation) -> ApiResult<TusUpload> {
    p.require_upload()?;
    let now = time::now();
    let (owner, tenant) = p.upload_identity();
    let mut upload = TusUpload {
        id: FileId::new(),
        kind: TusKind::Single,
        owner,
        tenant,
        offset: 0,
        length: req.length,
        metadata: req.metadata.clone(),
        fingerprint: None,
        concat: None,
        final_id: None,
        created_at: now,
        updated_at: now,
    };
    match req.concat {
        Some(Concat::Partial) => {
            // A part has no file, bucket or name: it is bounded by the default bucket's maximum.
            upload.kind = TusKind::Partial;
            if let Some(len) = req.length {
                max_size_rules(state).await?.check_size_max(len)?;
            }
            state.meta.insert_tus_upload(&upload, None).await?;
            Ok(upload)
        }
        Some(Concat::Final(parts)) => {
            let (upload, _) = concat::create_final(state, p, upload, &parts).await?;
            state.metrics.upload(UploadKind::Tus, UploadStage::Started);
            Ok(upload)
        }
        None => {
            let new = metadata::new_file(state, req.metadata.as_deref()).await?;
            upload.fingerprint = new.fingerprint.clone();
            let file = new.file.announced_row(p, upload.id, req.length)?;
            state.meta.insert_tus_upload(&upload, Some(&file)).await?;
            state.metrics.upload(UploadKind::Tus, UploadStage::Started);
            Ok(upload)
        }
    }
}

/// The rules for bytes whose file is not known yet: the default bucket's maximum size.
async fn max_size_rules(state: &AppState) -> ApiResult<trove_core::ContentRules> {
    let bucket =
        crate::service::buckets::find(state, &trove_core::BucketId::default_bucket()).await?;
    Ok(trove_core::ContentRules::new(&bucket, None))
}

/// Finds an upload its caller may see: 404 for anyone but its creator and the admin key. An
/// upload whose bytes all arrived but whose completion was interrupted (a crash between the two)
/// is completed now.
pub async fn find(state: &AppState, p: &Principal, id: &str) -> ApiResult<Found> {
    p.require_upload()?;
    let id = parse_id(id)?;
    match state.meta.get_tus_upload(id).await? {
        Some(u) if p.owns_upload(u.owner.as_ref(), u.tenant.as_ref()) => match u.kind {
            TusKind::Single if u.is_complete() => finish::resume_completion(state, u).await,
            TusKind::Final if !u.is_complete() => {
                // Its parts may all be complete with nobody concatenating them (a crash).
                concat::concatenate_when_ready(state, u.id).await?;
                let now = state
                    .meta
                    .get_tus_upload(u.id)
                    .await?
                    .ok_or_else(not_found)?;
                Ok(Found::Active(now))
            }
            _ => Ok(Found::Active(u)),
        },
        Some(_) => Err(not_found()),
        None => match state.meta.get_file(id).await? {
            Some(f)
                if f.status == FileStatus::Ready
                    && p.owns_upload(f.uploaded_by_user_id.as_ref(), f.tenant_id.as_ref()) =>
            {
                Ok(Found::Finished(f))
            }
            _ => Err(not_found()),
        },
    }
}

/// Finds an upload that may still receive bytes: expired → 410.
pub async fn find_active(state: &AppState, p: &Principal, id: &str) -> ApiResult<Found> {
    let found = find(state, p, id).await?;
    if let Found::Active(u) = &found {
        check_alive(state, u)?;
    }
    Ok(found)
}

/// Terminates an unfinished upload: its bytes and its pending file go; afterwards it is 404.
pub async fn terminate(state: &AppState, p: &Principal, id: &str) -> ApiResult<()> {
    let upload = match find(state, p, id).await? {
        Found::Active(u) if !u.is_complete() || u.kind == TusKind::Partial => u,
        _ => {
            return Err(files::conflict(
                "the upload is complete: it is a file now (delete it with DELETE /v1/files/{id})",
            ));
        }
    };
    match upload.kind {
        TusKind::Partial => {
            if let Some(f) = upload.final_id {
                return Err(files::conflict(&format!(
                    "this partial upload belongs to the final upload {f}; terminate that one"
                )));
            }
            state.meta.delete_tus_upload(upload.id).await?;
        }
        TusKind::Final => concat::terminate_final(state, &upload).await?,
        TusKind::Single => {
            files::remove(state, upload.id, None).await?;
        }
    }
    state.tus_hashes.forget(upload.id);
    state
        .blobs
        .delete_upload(&upload.id.to_string())
        .await
        .map_err(blob_error)?;
    Ok(())
}

/// Removes partial uploads without progress for the upload expiry (single uploads go with their
/// pending file rows, by the clean-up of pending files). Returns how many went.
pub async fn collect_stale_partials(
    state: &AppState,
    stale_before: DateTime<Utc>,
) -> ApiResult<usize> {
    let mut removed = 0;
    loop {
        let stale = state.meta.stale_tus_partials(stale_before, 500).await?;
        if stale.is_empty() {
            break;
        }
        for u in &stale {
            if state
                .meta
                .delete_stale_tus_partial(u.id, stale_before)
                .await?
            {
                removed += 1;
            }
            state.tus_hashes.forget(u.id);
            if let Err(e) = state.blobs.delete_upload(&u.id.to_string()).await {
                tracing::warn!(upload = %u.id, error = %e, "removing an expired upload's bytes failed");
            }
        }
        if stale.len() < 500 {
            break;
        }
    }
    Ok(removed)
}

/// Removes upload bytes whose upload is gone (a crash between removing an upload's record and its
/// bytes, or a request that created them as its upload was terminated). Records go before bytes
/// everywhere, so bytes without a record are provably abandoned.
pub async fn sweep_orphaned_bytes(state: &AppState) -> ApiResult<usize> {
    let mut removed = 0;
    for id in state.blobs.upload_ids().await? {
        let known = match FileId::parse(&id) {
            Some(fid) => state.meta.get_tus_upload(fid).await?.is_some(),
            None => false,
        };
        if !known && state.blobs.delete_upload(&id).await.is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed the bytes of uploads that no longer exist");
    }
    Ok(removed)
}
