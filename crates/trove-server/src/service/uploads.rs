//! Direct uploads (the `createFileUpload` flow): the client asks for an upload, sends the bytes to
//! the URL it gets, and the file becomes ready. With the local backend the URL points at Trove
//! (`PUT /v1/uploads/{id}?token=…`); with S3 it is the store's own presigned PUT, so the bytes
//! never pass through Trove, and `complete` checks what arrived there (see `complete_stored`).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{Stream, TryStreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use trove_blob::PutConstraints;
use trove_core::{
    Access, BucketId, EntityRef, ErrorCode, FileRecord, FileStatus, Principal, Visibility,
    category, mime, time,
};
use trove_meta::StoredContent;

use crate::error::{ApiError, ApiResult};
use crate::metrics::{Outcome, UploadKind, UploadStage};
use crate::service::ingest::{self, NewFile};
use crate::service::{buckets, categories, files};
use crate::signing::{Grant, Token, invalid_signature};
use crate::state::AppState;

/// The body of `POST /v1/uploads`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadRequest {
    pub name: String,
    pub content_type: String,
    pub size: Option<u64>,
    pub bucket_id: Option<String>,
    pub category: Option<String>,
    pub visibility: Option<Visibility>,
    pub access: Option<Access>,
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub associations: Vec<EntityRef>,
    /// An opaque string the client finds this upload again by (`GET /v1/uploads?fingerprint=`).
    pub fingerprint: Option<String>,
    /// The SHA-256 of the bytes, in hex. With object storage it is bound into the upload URL, so
    /// the store refuses other bytes; it becomes the file's checksum and ETag.
    pub checksum_sha256: Option<String>,
}

/// The most bytes of an upload's fingerprint.
pub const MAX_FINGERPRINT: usize = 512;

/// Where and how to send the bytes.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadTarget {
    pub method: &'static str,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    #[serde(with = "trove_core::time::rfc3339")]
    pub expires_at: DateTime<Utc>,
}

/// Resolves what an upload names: its category (if any) and the bucket it goes to.
pub async fn target(
    state: &AppState,
    bucket_id: Option<&str>,
    category_key: Option<&str>,
) -> ApiResult<(trove_core::Bucket, Option<trove_core::Category>)> {
    let category = match category_key {
        Some(k) => Some(categories::for_upload(state, k).await?),
        None => None,
    };
    let named = bucket_id
        .filter(|b| !b.is_empty())
        .map(BucketId::parse)
        .transpose()?;
    let id = category::upload_bucket(named.as_ref(), category.as_ref())?;
    let bucket = match buckets::find(state, &id).await {
        Err(e) if e.code == ErrorCode::NotFound => {
            return Err(ApiError::invalid(format!("bucket '{id}' does not exist")));
        }
        other => other?,
    };
    Ok((bucket, category))
}

pub async fn create(
    state: &AppState,
    p: &Principal,
    req: UploadRequest,
) -> ApiResult<(FileRecord, UploadTarget)> {
    p.require_upload()?;
    if req
        .fingerprint
        .as_ref()
        .is_some_and(|f| f.len() > MAX_FINGERPRINT)
    {
        return Err(ApiError::invalid(format!(
            "fingerprint is longer than {MAX_FINGERPRINT} bytes"
        )));
    }
    let (bucket, category) =
        target(state, req.bucket_id.as_deref(), req.category.as_deref()).await?;
    let new = NewFile {
        id: None,
        bucket,
        category,
        name: req.name,
        declared_type: Some(mime::normalize(&req.content_type)),
        visibility: req.visibility,
        access: req.access,
        metadata: req.metadata.unwrap_or_else(|| serde_json::json!({})),
        associations: req.associations,
    };
    let declared_hash = req
        .checksum_sha256
        .as_deref()
        .map(|h| {
            hex::decode(h)
                .ok()
                .filter(|b| b.len() == 32)
                .map(|_| h.to_ascii_lowercase())
                .ok_or_else(|| ApiError::invalid("checksumSha256 must be 64 hex digits"))
        })
        .transpose()?;
    let mut file = new.announced_row(p, trove_core::FileId::new(), req.size)?;
    file.checksum_sha256 = declared_hash;
    let expires_at =
        time::now() + chrono::Duration::seconds(state.config.upload_expiry_secs as i64);
    state.meta.insert_file(&file).await?;
    state
        .meta
        .insert_direct_upload(file.id, expires_at, req.fingerprint.as_deref(), req.size)
        .await?;
    state
        .metrics
        .upload(UploadKind::Direct, UploadStage::Started);
    let target = upload_target(state, &file, expires_at).await?;
    Ok((file, target))
}

/// Where the bytes of a pending direct upload go until `expires_at`: the store's presigned PUT
/// (S3), else Trove's own signed URL. The declared type (and hash, if any) are bound into it.
pub async fn upload_target(
    state: &AppState,
    file: &FileRecord,
    expires_at: DateTime<Utc>,
) -> ApiResult<UploadTarget> {
    let revision = file.revision.unwrap_or_default();
    let key = FileRecord::blob_key(&file.bucket_id, file.id, revision);
    let sha256_base64 = file
        .checksum_sha256
        .as_deref()
        .and_then(|h| hex::decode(h).ok())
        .map(|bytes| BASE64.encode(bytes));
    let constraints = PutConstraints {
        content_type: file.mime_type.clone(),
        sha256_base64,
    };
    let lifetime = (expires_at - Utc::now()).num_seconds().max(1) as u64;
    if let Some(presigned) = state
        .blobs
        .presign_put(&key, &constraints, std::time::Duration::from_secs(lifetime))
        .await?
    {
        let headers = presigned
            .headers
            .into_iter()
            .map(|(name, value)| match name.as_str() {
                "content-type" => ("Content-Type".to_owned(), value),
                _ => (name, value),
            })
            .collect();
        return Ok(UploadTarget {
            method: "PUT",
            url: presigned.url,
            headers,
            expires_at,
        });
    }
    let token = state
        .signer
        .sign(file.id, revision, Grant::Upload, expires_at.timestamp());
    let mut headers = BTreeMap::new();
    headers.insert("Content-Type".to_owned(), file.mime_type.clone());
    Ok(UploadTarget {
        method: "PUT",
        url: format!(
            "{}/v1/uploads/{}?token={token}",
            state.config.public_url, file.id
        ),
        headers,
        expires_at,
    })
}

/// `PUT /v1/uploads/{id}?token=…`: the bytes of a direct upload, streamed like any upload.
pub async fn receive<S, E>(
    state: &AppState,
    id: &str,
    token: &str,
    declared_type: Option<String>,
    content_length: Option<u64>,
    body: S,
) -> ApiResult<FileRecord>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let token = Token::parse(token)?;
    let file_id = trove_core::FileId::parse(id).ok_or_else(invalid_signature)?;
    let file = state
        .meta
        .get_file(file_id)
        .await?
        .ok_or_else(invalid_signature)?;
    let revision = file.revision.ok_or_else(invalid_signature)?;
    state.signer.verify(
        &token,
        file.id,
        revision,
        Grant::Upload,
        Utc::now().timestamp(),
    )?;
    if file.status != FileStatus::UploadPending || !state.meta.use_direct_upload(file.id).await? {
        return Err(files::conflict("this upload was completed or cancelled"));
    }
    let rules = files::content_rules(state, &file).await?;
    let result = ingest::fill(
        state,
        &file,
        &rules,
        declared_type.as_deref(),
        content_length,
        body,
    )
    .await;
    count_direct_end(state, &result);
    if let Err(e) = &result
        && e.code != ErrorCode::Conflict
    {
        // Refused bytes (too large, wrong type, broken connection): the client may try again.
        state.meta.reopen_direct_upload(file.id).await?;
    }
    result
}

/// Verifies what was stored for a pending upload and makes it ready; a ready file is returned as
/// it is.
pub async fn complete(state: &AppState, p: &Principal, id: &str) -> ApiResult<FileRecord> {
    let file = files::changeable(state, p, id).await?;
    match file.status {
        FileStatus::Ready => return Ok(file),
        FileStatus::UploadPending => {}
        FileStatus::Error => {
            return Err(files::conflict(&format!(
                "this upload was refused: {}",
                file.status_reason
                    .as_deref()
                    .unwrap_or("its bytes broke the rules")
            )));
        }
        FileStatus::Cancelled => return Err(files::conflict("this upload was cancelled")),
    }
    let result = complete_pending(state, p, id, file).await;
    count_direct_end(state, &result);
    result
}

/// Counts the end of a direct upload: a conflict ("no bytes yet", "completed meanwhile") ends
/// nothing.
fn count_direct_end(state: &AppState, result: &ApiResult<FileRecord>) {
    match result {
        Err(e) if e.code == ErrorCode::Conflict => {}
        _ => state.metrics.upload_ended(UploadKind::Direct, result),
    }
}

async fn complete_pending(
    state: &AppState,
    p: &Principal,
    id: &str,
    file: FileRecord,
) -> ApiResult<FileRecord> {
    let revision = file
        .revision
        .ok_or_else(|| files::conflict("no upload is pending"))?;
    let key = FileRecord::blob_key(&file.bucket_id, file.id, revision);
    if state.blobs.presigns() {
        return complete_stored(state, p, &file, revision, &key).await;
    }
    let Some(size) = state.blobs.size(&key).await? else {
        return Err(files::conflict("no bytes have been uploaded yet"));
    };
    let rules = files::content_rules(state, &file).await?;
    let refuse = |e: trove_core::TroveError| async {
        files::delete_blob_now(state, &key).await;
        Err::<FileRecord, ApiError>(e.into())
    };
    if let Err(e) = rules.check_size(size) {
        return refuse(e).await;
    }
    // Hash the stored object as it streams, keeping its first bytes to decide the type.
    let mut stream = state.blobs.read(&key, None).await?;
    let mut hasher = Sha256::new();
    let mut head = Vec::new();
    while let Some(chunk) = stream.try_next().await.map_err(ApiError::internal)? {
        if head.len() < mime::SNIFF_LEN {
            head.extend_from_slice(&chunk[..chunk.len().min(mime::SNIFF_LEN - head.len())]);
        }
        hasher.update(&chunk);
    }
    let mime_type = mime::decide(&head, Some(&file.mime_type), &file.name);
    if let Err(e) = rules.check_mime(&mime_type) {
        return refuse(e).await;
    }
    let content = StoredContent::new(revision, size, mime_type, hex::encode(hasher.finalize()));
    match state
        .meta
        .complete_upload(file.id, &content, time::now())
        .await
    {
        Ok(f) => Ok(f),
        Err(trove_meta::MetaError::Stale(_)) => files::readable(state, p, id).await,
        Err(e) => Err(e.into()),
    }
}

/// Completes an upload whose bytes went straight to the object store: a HEAD says whether they
/// arrived and their size, the first bytes decide the type, and the hash is the one the client
/// declared (the store checked it against the bytes) or none. Bytes that break the rules are
/// deleted and the file marked `error` with the reason.
async fn complete_stored(
    state: &AppState,
    p: &Principal,
    file: &FileRecord,
    revision: trove_core::RevisionId,
    key: &str,
) -> ApiResult<FileRecord> {
    let Some(info) = state.blobs.head(key).await? else {
        return Err(files::conflict("no bytes have been uploaded yet"));
    };
    let rules = files::content_rules(state, file).await?;
    let refuse = |e: trove_core::TroveError| async move {
        files::delete_blob_now(state, key).await;
        if !state
            .meta
            .fail_upload(file.id, &e.message, time::now())
            .await?
        {
            // Completed or cancelled by another request meanwhile.
            return files::readable(state, p, &file.id.to_string()).await;
        }
        Err::<FileRecord, ApiError>(e.into())
    };
    if let Some(announced) = state.meta.direct_upload_length(file.id).await?
        && announced != info.size
    {
        let e = trove_core::TroveError::invalid(format!(
            "{} bytes arrived where {announced} were announced",
            info.size
        ));
        return refuse(e).await;
    }
    if let Err(e) = rules.check_size(info.size) {
        return refuse(e).await;
    }
    let sniff = info.size.min(mime::SNIFF_LEN as u64);
    let head: Vec<Bytes> = state
        .blobs
        .read(key, Some(0..sniff))
        .await?
        .try_collect()
        .await
        .map_err(|e| ApiError::from(trove_blob::BlobError::Unavailable(e.to_string())))?;
    let mime_type = mime::decide(&head.concat(), Some(&file.mime_type), &file.name);
    if let Err(e) = rules.check_mime(&mime_type) {
        return refuse(e).await;
    }
    let content = match &file.checksum_sha256 {
        Some(hash) => StoredContent::new(revision, info.size, mime_type, hash.clone()),
        None => StoredContent::unhashed(revision, info.size, mime_type),
    };
    match state
        .meta
        .complete_upload(file.id, &content, time::now())
        .await
    {
        Ok(f) => Ok(f),
        Err(trove_meta::MetaError::Stale(_)) => {
            files::readable(state, p, &file.id.to_string()).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Cancels a pending upload: its bytes go at once, the row stays `cancelled` until clean-up.
pub async fn cancel(state: &AppState, p: &Principal, id: &str) -> ApiResult<()> {
    let file = files::changeable(state, p, id).await?;
    if file.status == FileStatus::Cancelled {
        return Ok(());
    }
    if !state.meta.cancel_upload(file.id, time::now()).await? {
        return Err(files::conflict("only a pending upload can be cancelled"));
    }
    if let Some(key) = file.current_blob_key() {
        files::delete_blob_now(state, &key).await;
    }
    if let Err(e) = state.blobs.delete_upload(&file.id.to_string()).await {
        tracing::warn!(file = %file.id, error = %e, "removing a cancelled upload's bytes failed; the clean-up retries");
    }
    Ok(())
}

/// Removes what is provably abandoned, and only that, so it is safe beside running servers (it
/// runs in every server each minute and from `trove gc`): pending and cancelled uploads whose row
/// nobody touched for `TROVE_UPLOAD_EXPIRY` (a streaming upload keeps touching its row), staged
/// bytes whose writer died, partial tus uploads without progress, and queued blob deletions that are due. Returns (files removed, blobs
/// deleted).
pub async fn collect_garbage(state: &AppState) -> ApiResult<(usize, usize)> {
    Ok(try_collect_garbage(state).await?.unwrap_or((0, 0)))
}

/// [`collect_garbage`], or `None` when another process is running a pass right now.
pub async fn try_collect_garbage(state: &AppState) -> ApiResult<Option<(usize, usize)>> {
    // One pass at a time across every node sharing the database: a node whose lease another
    // holds skips this round. Every step is guarded row by row anyway; the lease saves the
    // duplicate work (and duplicate deletions) of nodes that all wake up each minute.
    let now = time::now();
    let holder = lease_holder();
    if !state
        .meta
        .take_lease(CLEAN_UP_LEASE, holder, now, now + CLEAN_UP_LEASE_TIME)
        .await?
    {
        tracing::debug!("clean-up skipped: another process holds its lease");
        state.metrics.cleanup_run(Outcome::Skipped);
        return Ok(None);
    }
    let outcome = collect_garbage_now(state, now).await;
    state.metrics.cleanup_run(if outcome.is_ok() {
        Outcome::Done
    } else {
        Outcome::Failed
    });
    if let Err(e) = state.meta.release_lease(CLEAN_UP_LEASE, holder).await {
        tracing::warn!(error = %e, "releasing the clean-up lease failed; it lapses by itself");
    }
    outcome.map(Some)
}

/// The lease that makes clean-up passes one at a time.
const CLEAN_UP_LEASE: &str = "clean-up";
/// Longer than a pass takes; should its holder die, the next pass waits at most this long.
const CLEAN_UP_LEASE_TIME: chrono::Duration = chrono::Duration::minutes(10);

/// This process, as a lease holder.
pub(crate) fn lease_holder() -> &'static str {
    static HOLDER: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("trove-{}", uuid::Uuid::new_v4().simple()));
    &HOLDER
}

async fn collect_garbage_now(
    state: &AppState,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<(usize, usize)> {
    let stale_before = now - chrono::Duration::seconds(state.config.upload_expiry_secs as i64);
    let mut removed = 0;
    loop {
        let expired = state.meta.expired_uploads(now, stale_before, 500).await?;
        if expired.is_empty() {
            break;
        }
        for f in &expired {
            // Deleted only if still untouched: an upload may have touched its row since the query.
            if let Some((_, key)) = state.meta.delete_stale_upload(f.id, stale_before).await? {
                if let Some(key) = key {
                    files::delete_blob(state, &key).await;
                }
                // A tus upload's bytes, if it was one.
                if let Err(e) = state.blobs.delete_upload(&f.id.to_string()).await {
                    tracing::warn!(upload = %f.id, error = %e, "removing an expired upload's bytes failed");
                }
                removed += 1;
            }
        }
    }
    removed += crate::service::resumable::collect_stale_partials(state, stale_before).await?;
    crate::service::resumable::sweep_orphaned_bytes(state).await?;
    let staged = state.blobs.sweep_abandoned_writes().await?;
    if staged > 0 {
        tracing::info!(staged, "removed the bytes of writes whose writer died");
    }
    let blobs = files::sweep_blob_deletions(state).await?;
    // Per-upload leases of a node that died lapse but stay as rows until now.
    let leases = state.meta.prune_leases(now).await?;
    if leases > 0 {
        tracing::debug!(leases, "forgot lapsed leases");
    }
    Ok((removed, blobs))
}
