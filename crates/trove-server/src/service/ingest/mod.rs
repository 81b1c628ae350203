//! Receiving file content: one streaming path for every kind of upload.
//!
//! The body is never held in memory. The first few KiB are kept to decide the MIME type; then every
//! chunk is hashed (SHA-256), counted against the size rules and written to the blob store as it
//! arrives. A file becomes `ready` only after the blob store reports the bytes durable.
//!
//! An upload in progress holds a lease on its pending row: the row is touched as bytes arrive (at
//! least four times per `TROVE_UPLOAD_EXPIRY`), so clean-up, which removes pending rows untouched
//! for that long, never collects an upload that is still streaming, however long it takes. An
//! upload whose row is gone when it touches it or completes (cancelled, deleted, collected) stops
//! and deletes its bytes.

use bytes::Bytes;
use futures_util::Stream;
use sha2::{Digest, Sha256};
use trove_core::mime;
use trove_core::{
    Access, Association, Bucket, Category, ContentRules, EntityRef, ErrorCode, FileId, FileRecord,
    FileStatus, Principal, RevisionId, Visibility, time, validate,
};
use trove_meta::StoredContent;

mod body;

use body::{Peeked, peek};
pub(crate) use body::{body_bounds, next_chunk};

use crate::error::{ApiError, ApiResult};
use crate::metrics::UploadKind;
use crate::service::files;
use crate::state::AppState;

/// What the client said about a new file.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// An id the client chose (Nhost's clients may); a new one otherwise.
    pub id: Option<FileId>,
    pub bucket: Bucket,
    pub category: Option<Category>,
    pub name: String,
    pub declared_type: Option<String>,
    pub visibility: Option<Visibility>,
    pub access: Option<Access>,
    pub metadata: serde_json::Value,
    pub associations: Vec<EntityRef>,
}

impl NewFile {
    /// The bucket's rules tightened by the category's.
    pub fn rules(&self) -> ContentRules {
        ContentRules::new(&self.bucket, self.category.as_ref())
    }

    /// The pending row of an upload whose bytes come later (direct and resumable uploads): the
    /// type it declares (or its name implies) must be allowed already, and so must its announced
    /// size, if any. The bytes are checked again when they arrive.
    pub fn announced_row(
        &self,
        p: &Principal,
        id: FileId,
        size: Option<u64>,
    ) -> ApiResult<FileRecord> {
        let rules = self.rules();
        let declared = mime::decide(&[], self.declared_type.as_deref(), &self.name);
        rules.check_mime(&declared).map_err(api)?;
        if let Some(size) = size {
            rules.check_size(size).map_err(api)?;
        }
        let mut file = self.pending_row(p, declared)?;
        file.id = id;
        for a in &mut file.associations {
            a.file_id = id;
        }
        Ok(file)
    }

    /// The pending row for this file: defaults from the category, then the bucket.
    pub fn pending_row(&self, p: &Principal, mime_type: String) -> ApiResult<FileRecord> {
        let name = validate::file_name(&self.name)?;
        validate::metadata(&self.metadata)?;
        let associations = trove_core::association::validate_list(self.associations.clone())?;
        let (owner, tenant) = p.upload_identity();
        let now = time::now();
        let id = self.id.unwrap_or_default();
        let category = self.category.as_ref();
        Ok(FileRecord {
            id,
            bucket_id: self.bucket.id.clone(),
            name,
            mime_type,
            size: 0,
            etag: String::new(),
            is_uploaded: false,
            status: FileStatus::UploadPending,
            metadata: self.metadata.clone(),
            visibility: self
                .visibility
                .or(category.and_then(|c| c.default_visibility))
                .unwrap_or(self.bucket.default_visibility),
            access: self
                .access
                .or(category.and_then(|c| c.default_access))
                .unwrap_or_default(),
            tenant_id: tenant,
            uploaded_by_user_id: owner,
            checksum_sha256: None,
            category: category.map(|c| c.key.clone()),
            associations: associations
                .into_iter()
                .map(|e| Association {
                    id: uuid::Uuid::now_v7(),
                    file_id: id,
                    entity_name: e.entity_name,
                    entity_reference: e.entity_reference,
                    created_at: now,
                })
                .collect(),
            created_at: now,
            updated_at: now,
            revision: Some(RevisionId::new()),
            status_reason: None,
            inline_content: None,
        })
    }
}

fn api(e: trove_core::TroveError) -> ApiError {
    e.into()
}

/// Refuses a declared length above the maximum before any byte is read.
pub fn check_declared(rules: &ContentRules, content_length: Option<u64>) -> ApiResult<()> {
    match content_length {
        Some(len) if len > rules.max_size => rules.check_size(len).map_err(api),
        _ => Ok(()),
    }
}

/// The facts of a whole body kept inline, once it passes the size rules.
fn inline_content(
    rules: &ContentRules,
    revision: RevisionId,
    mime_type: String,
    bytes: Bytes,
) -> ApiResult<StoredContent> {
    rules.check_size(bytes.len() as u64).map_err(api)?;
    let sha = hex::encode(Sha256::digest(&bytes));
    Ok(StoredContent::new(revision, bytes.len() as u64, mime_type, sha).with_inline(bytes))
}

/// How often a streaming upload touches its pending row: a quarter of the expiry.
pub(crate) fn lease_interval(state: &AppState) -> std::time::Duration {
    std::time::Duration::from_millis(state.config.upload_expiry_secs.saturating_mul(250))
}

/// 409: the pending row went away while the bytes streamed.
pub(crate) fn upload_gone() -> ApiError {
    ApiError::new(
        ErrorCode::Conflict,
        "the upload was cancelled or removed before it completed",
    )
}

/// Makes a pending file ready with its durable content stored under `key`. When the pending row
/// went meanwhile (cancelled, deleted, collected), the bytes belong to nobody: they are deleted and
/// the caller gets 409.
pub(crate) async fn make_ready(
    state: &AppState,
    id: FileId,
    content: &StoredContent,
    key: &str,
) -> ApiResult<FileRecord> {
    match state.meta.complete_upload(id, content, time::now()).await {
        Ok(ready) => Ok(ready),
        Err(trove_meta::MetaError::Stale(_)) => {
            if content.inline.is_none() {
                files::delete_blob_now(state, key).await;
            }
            Err(upload_gone())
        }
        Err(e) => Err(e.into()),
    }
}

/// Streams the body into the blob `key`; returns size and SHA-256 once durable. Nothing is left
/// under `key` when it fails. With `lease`, keeps that pending row alive while bytes arrive. A
/// body of a declared length goes to the store as exactly that many bytes (one PUT on S3).
async fn write_blob<S, E>(
    state: &AppState,
    key: &str,
    body: Peeked<S>,
    rules: &ContentRules,
    lease: Option<FileId>,
    content_length: Option<u64>,
) -> ApiResult<(u64, String)>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let interval = lease_interval(state);
    let mut bounds = body_bounds(state);
    let mut last_touch = std::time::Instant::now();
    let mut writer = match content_length {
        Some(len) => state.blobs.writer_of_len(key, len).await?,
        None => state.blobs.writer(key).await?,
    };
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let Peeked { head, mut rest, .. } = body;
    let mut pending = head.into_iter();
    let outcome: ApiResult<()> = async {
        loop {
            let chunk = match pending.next() {
                Some(c) => c,
                None => match next_chunk(&mut rest, &mut bounds).await? {
                    Some(c) => c,
                    None => break,
                },
            };
            size += chunk.len() as u64;
            if size > rules.max_size {
                rules.check_size(size).map_err(api)?;
            }
            hasher.update(&chunk);
            writer.write(chunk).await?;
            if let Some(id) = lease
                && last_touch.elapsed() >= interval
            {
                last_touch = std::time::Instant::now();
                if !state.meta.touch_upload(id, time::now()).await? {
                    return Err(upload_gone());
                }
            }
        }
        rules.check_size(size).map_err(api)
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

/// Receives content into a blob for `file`'s `revision` under `rules`, deciding the MIME type from
/// the bytes; returns what was stored once it is durable.
async fn receive<S, E>(
    state: &AppState,
    file: &FileRecord,
    revision: RevisionId,
    rules: &ContentRules,
    declared_type: Option<&str>,
    content_length: Option<u64>,
    body: S,
) -> ApiResult<StoredContent>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    check_declared(rules, content_length)?;
    let peeked = peek(state, body, rules).await?;
    let mime_type = mime::decide(&peeked.head_bytes(), declared_type, &file.name);
    rules.check_mime(&mime_type).map_err(api)?;
    if let Some(bytes) = peeked.whole(state.config.inline_max_bytes) {
        return inline_content(rules, revision, mime_type, bytes);
    }
    let key = FileRecord::blob_key(&file.bucket_id, file.id, revision);
    let lease = (file.status == FileStatus::UploadPending).then_some(file.id);
    let (size, sha) = write_blob(state, &key, peeked, rules, lease, content_length).await?;
    Ok(StoredContent::new(revision, size, mime_type, sha))
}

/// Creates a file from a streamed body: checks, pending row, durable blob, then `ready`.
pub async fn create<S, E>(
    state: &AppState,
    p: &Principal,
    kind: UploadKind,
    new: NewFile,
    content_length: Option<u64>,
    body: S,
) -> ApiResult<FileRecord>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    p.require_upload()?;
    state
        .metrics
        .track_upload(kind, create_checked(state, p, new, content_length, body))
        .await
}

async fn create_checked<S, E>(
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
    let rules = new.rules();
    check_declared(&rules, content_length)?;
    let peeked = peek(state, body, &rules).await?;
    let mime_type = mime::decide(
        &peeked.head_bytes(),
        new.declared_type.as_deref(),
        &new.name,
    );
    rules.check_mime(&mime_type).map_err(api)?;
    let file = new.pending_row(p, mime_type.clone())?;
    let revision = file.revision.unwrap_or_default();
    if let Some(bytes) = peeked.whole(state.config.inline_max_bytes) {
        // The whole body is here: the row goes in ready, with its bytes, in one durable write.
        let content = inline_content(&rules, revision, mime_type, bytes)?;
        let mut ready = FileRecord {
            status: FileStatus::Ready,
            is_uploaded: true,
            size: content.size,
            mime_type: content.mime_type,
            etag: content.etag,
            checksum_sha256: content.checksum_sha256,
            inline_content: content.inline,
            ..file
        };
        state.meta.insert_file(&ready).await?;
        ready.inline_content = None;
        return Ok(ready);
    }
    state.meta.insert_file(&file).await?;
    let key = FileRecord::blob_key(&file.bucket_id, file.id, revision);
    let written = write_blob(state, &key, peeked, &rules, Some(file.id), content_length).await;
    let (size, sha) = match written {
        Ok(done) => done,
        Err(e) => {
            // Nothing of a refused upload stays: the row goes, and its blob never became visible.
            if let Err(cleanup) = files::remove(state, file.id, None).await {
                tracing::warn!(file = %file.id, error = ?cleanup, "removing a failed upload's row failed");
            }
            return Err(e);
        }
    };
    let content = StoredContent::new(revision, size, mime_type, sha);
    make_ready(state, file.id, &content, &key).await
}

/// Receives the content of a pending file (a direct upload) and makes it ready.
pub async fn fill<S, E>(
    state: &AppState,
    file: &FileRecord,
    rules: &ContentRules,
    declared_type: Option<&str>,
    content_length: Option<u64>,
    body: S,
) -> ApiResult<FileRecord>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let revision = file
        .revision
        .ok_or_else(|| ApiError::new(ErrorCode::Conflict, "the file has no pending upload"))?;
    let content = receive(
        state,
        file,
        revision,
        rules,
        declared_type,
        content_length,
        body,
    )
    .await?;
    let key = FileRecord::blob_key(&file.bucket_id, file.id, revision);
    make_ready(state, file.id, &content, &key).await
}

/// What the client said about replacement content.
#[derive(Debug, Clone, Default)]
pub struct Replacement<'a> {
    pub declared_type: Option<String>,
    pub content_length: Option<u64>,
    /// The `If-Match` the switch to the new revision must satisfy.
    pub if_match: Option<&'a str>,
    /// How the bytes arrive, for the metrics.
    pub kind: UploadKind,
}

/// Replaces a ready file's content with a new revision: the new blob is written beside the old
/// one, the row switches to it in one transaction (which checks `If-Match`), then the old blob is
/// deleted.
pub async fn replace<S, E>(
    state: &AppState,
    file: FileRecord,
    rules: &ContentRules,
    with: Replacement<'_>,
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
    let kind = with.kind;
    state
        .metrics
        .track_upload(kind, replace_ready(state, file, rules, with, body))
        .await
}

async fn replace_ready<S, E>(
    state: &AppState,
    file: FileRecord,
    rules: &ContentRules,
    with: Replacement<'_>,
    body: S,
) -> ApiResult<FileRecord>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let revision = RevisionId::new();
    let content = receive(
        state,
        &file,
        revision,
        rules,
        with.declared_type.as_deref(),
        with.content_length,
        body,
    )
    .await?;
    match state
        .meta
        .replace_content(file.id, &content, with.if_match, time::now())
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
            if content.inline.is_none() {
                files::delete_blob_now(
                    state,
                    &FileRecord::blob_key(&file.bucket_id, file.id, revision),
                )
                .await;
            }
            match e {
                trove_meta::MetaError::Stale(_) => Err(ApiError::not_found("file")),
                other => Err(other.into()),
            }
        }
    }
}
