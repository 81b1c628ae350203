//! Receiving file content: one streaming path for every kind of upload.
//!
//! The body is never held in memory. The first few KiB are kept to decide the MIME type; then every
//! chunk is hashed (SHA-256), counted against the bucket's limits and written to the blob store as it
//! arrives. A file becomes `ready` only after the blob store reports the bytes durable.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use trove_core::mime::{self, SNIFF_LEN};
use trove_core::{
    Access, Bucket, ErrorCode, FileId, FileRecord, FileStatus, Principal, RevisionId, Visibility,
    time, validate,
};
use trove_meta::StoredContent;

use crate::error::{ApiError, ApiResult};
use crate::service::files;
use crate::state::AppState;

/// What the client said about a new file.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub bucket: Bucket,
    pub name: String,
    pub declared_type: Option<String>,
    pub visibility: Option<Visibility>,
    pub access: Option<Access>,
    pub metadata: serde_json::Value,
}

/// Size limits that apply to one upload.
#[derive(Debug, Clone, Copy)]
pub struct SizeLimits {
    pub min: u64,
    pub max: u64,
}

impl SizeLimits {
    pub fn of(bucket: &Bucket) -> Self {
        Self {
            min: bucket.min_upload_file_size,
            max: bucket.max_upload_file_size,
        }
    }

    /// Refuses a declared length above the maximum before any byte is read.
    pub fn check_declared(&self, content_length: Option<u64>) -> ApiResult<()> {
        match content_length {
            Some(len) if len > self.max => Err(too_large(self.max)),
            _ => Ok(()),
        }
    }
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(
        ErrorCode::FileTooLarge,
        format!("the file exceeds the maximum size of {max} bytes"),
    )
}

/// A body whose first bytes have been read for MIME detection.
struct Peeked<S> {
    head: Vec<Bytes>,
    head_len: usize,
    rest: S,
}

impl<S> Peeked<S> {
    fn head_bytes(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.head_len.min(SNIFF_LEN));
        for chunk in &self.head {
            let take = (SNIFF_LEN - buf.len()).min(chunk.len());
            buf.extend_from_slice(&chunk[..take]);
            if buf.len() == SNIFF_LEN {
                break;
            }
        }
        buf
    }
}

async fn peek<S, E>(mut body: S, limits: SizeLimits) -> ApiResult<Peeked<S>>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut head = Vec::new();
    let mut head_len = 0usize;
    while head_len < SNIFF_LEN {
        match body.next().await {
            Some(chunk) => {
                let chunk = chunk.map_err(body_error)?;
                head_len += chunk.len();
                if head_len as u64 > limits.max {
                    return Err(too_large(limits.max));
                }
                head.push(chunk);
            }
            None => break,
        }
    }
    Ok(Peeked {
        head,
        head_len,
        rest: body,
    })
}

fn body_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("the request body could not be read: {e}"))
}

/// Checks the decided MIME type against the allowed patterns.
pub fn check_mime(mime_type: &str, allowed: &[String]) -> ApiResult<()> {
    if validate::mime_allowed(mime_type, allowed) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::MimeTypeNotAllowed,
            format!("files of type {mime_type} are not allowed here"),
        ))
    }
}

/// Streams the rest of the body into the blob `key`; returns size and SHA-256 once durable.
async fn write_blob<S, E>(
    state: &AppState,
    key: &str,
    body: Peeked<S>,
    limits: SizeLimits,
) -> ApiResult<(u64, String)>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut writer = state.blobs.writer(key).await?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let Peeked { head, mut rest, .. } = body;
    let mut pending = head.into_iter();
    let outcome: ApiResult<()> = async {
        loop {
            let chunk = match pending.next() {
                Some(c) => c,
                None => match rest.next().await {
                    Some(c) => c.map_err(body_error)?,
                    None => break,
                },
            };
            size += chunk.len() as u64;
            if size > limits.max {
                return Err(too_large(limits.max));
            }
            hasher.update(&chunk);
            writer.write(chunk).await?;
        }
        if size < limits.min {
            return Err(ApiError::new(
                ErrorCode::FileTooSmall,
                format!(
                    "the file is smaller than the minimum size of {} bytes",
                    limits.min
                ),
            ));
        }
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => {
            writer.finish().await?;
            Ok((size, hex::encode(hasher.finalize())))
        }
        Err(e) => {
            writer.abort().await;
            Err(e)
        }
    }
}

/// Creates a file from a streamed body: checks, pending row, durable blob, then `ready`.
pub async fn create<S, E>(
    state: &AppState,
    p: &Principal,
    new: NewFile,
    content_length: Option<u64>,
    body: S,
) -> ApiResult<FileRecord>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    p.require_upload()?;
    let name = validate::file_name(&new.name)?;
    validate::metadata(&new.metadata)?;
    let limits = SizeLimits::of(&new.bucket);
    limits.check_declared(content_length)?;
    let peeked = peek(body, limits).await?;
    let mime_type = mime::decide(&peeked.head_bytes(), new.declared_type.as_deref(), &name);
    check_mime(&mime_type, &new.bucket.allowed_mime_types)?;

    let (owner, tenant) = p.upload_identity();
    let now = time::now();
    let revision = RevisionId::new();
    let file = FileRecord {
        id: FileId::new(),
        bucket_id: new.bucket.id.clone(),
        name,
        mime_type: mime_type.clone(),
        size: 0,
        etag: String::new(),
        is_uploaded: false,
        status: FileStatus::UploadPending,
        metadata: new.metadata,
        visibility: new.visibility.unwrap_or(new.bucket.default_visibility),
        access: new.access.unwrap_or_default(),
        tenant_id: tenant,
        uploaded_by_user_id: owner,
        checksum_sha256: None,
        created_at: now,
        updated_at: now,
        revision: Some(revision),
    };
    state.meta.insert_file(&file).await?;
    let key = FileRecord::blob_key(&file.bucket_id, file.id, revision);
    let (size, sha) = match write_blob(state, &key, peeked, limits).await {
        Ok(done) => done,
        Err(e) => {
            // Nothing of a refused upload stays: the row goes, and its blob never became visible.
            if let Err(cleanup) = files::remove(state, file.id).await {
                tracing::warn!(file = %file.id, error = ?cleanup, "removing a failed upload's row failed");
            }
            return Err(e);
        }
    };
    let content = StoredContent {
        revision,
        size,
        mime_type,
        etag: FileRecord::etag_for(&sha),
        checksum_sha256: sha,
    };
    Ok(state
        .meta
        .complete_upload(file.id, &content, time::now())
        .await?)
}

/// Replaces a ready file's content with a new revision: the new blob is written beside the old
/// one, the row switches to it in one transaction, then the old blob is deleted.
pub async fn replace<S, E>(
    state: &AppState,
    file: FileRecord,
    bucket: &Bucket,
    declared_type: Option<String>,
    content_length: Option<u64>,
    body: S,
) -> ApiResult<FileRecord>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    if file.status != FileStatus::Ready {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the file has no content to replace yet",
        ));
    }
    let limits = SizeLimits::of(bucket);
    limits.check_declared(content_length)?;
    let peeked = peek(body, limits).await?;
    let mime_type = mime::decide(&peeked.head_bytes(), declared_type.as_deref(), &file.name);
    check_mime(&mime_type, &bucket.allowed_mime_types)?;
    let revision = RevisionId::new();
    let key = FileRecord::blob_key(&file.bucket_id, file.id, revision);
    let (size, sha) = write_blob(state, &key, peeked, limits).await?;
    let content = StoredContent {
        revision,
        size,
        mime_type,
        etag: FileRecord::etag_for(&sha),
        checksum_sha256: sha,
    };
    match state
        .meta
        .replace_content(file.id, &content, time::now())
        .await
    {
        Ok((updated, old_key)) => {
            if let Some(old) = old_key {
                files::delete_blob(state, &old).await;
            }
            Ok(updated)
        }
        Err(e) => {
            // The file vanished or changed state meanwhile: the new blob belongs to nobody.
            if let Err(qe) = state.meta.queue_blob_deletion(&key).await {
                tracing::warn!(key, error = %qe, "could not queue an orphaned blob");
            }
            files::delete_blob(state, &key).await;
            match e {
                trove_meta::MetaError::Stale(_) => Err(ApiError::not_found("file")),
                other => Err(other.into()),
            }
        }
    }
}
