//! Appending bytes to an upload (PATCH, and creation-with-upload).
//!
//! The request holds the upload's lock while it writes. Its bytes count only once synced and
//! recorded: at the end of the body, every lease interval during a long body, and when the body is
//! cut off (every byte that arrived is kept, unless the request carried a checksum, which bytes
//! cut off cannot satisfy). A chunk whose checksum does not match is cut off again: 460, offset
//! unchanged.

use bytes::Bytes;
use futures_util::Stream;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use trove_blob::UploadFile;
use trove_core::tus::{Checksum, ChecksumAlgorithm};
use trove_core::{ContentRules, ErrorCode, FileRecord, FileStatus, time};
use trove_meta::{TusKind, TusUpload};

use super::lock::UploadLock;
use super::{blob_error, check_alive, concat, finish, max_size_rules, not_found};
use crate::error::{ApiError, ApiResult};
use crate::service::{files, ingest};
use crate::state::AppState;

/// What a request that carries bytes says about them.
#[derive(Debug, Clone, Default)]
pub struct Append {
    /// `Upload-Offset`: where the client believes the upload stands.
    pub offset: u64,
    /// `Upload-Length`, sent once by a client that deferred it.
    pub length: Option<u64>,
    pub checksum: Option<Checksum>,
    /// The draft's `Upload-Complete: ?1`: this request ends the upload.
    pub completes: bool,
}

/// The upload after a request's bytes were stored.
#[derive(Debug)]
pub struct Appended {
    pub upload: TusUpload,
    /// The file, when this request completed it.
    pub file: Option<FileRecord>,
}

enum ChecksumHasher {
    Sha1(Sha1),
    Sha256(Sha256),
    Md5(Md5),
}

impl ChecksumHasher {
    fn new(algorithm: ChecksumAlgorithm) -> Self {
        match algorithm {
            ChecksumAlgorithm::Sha1 => Self::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => Self::Sha256(Sha256::new()),
            ChecksumAlgorithm::Md5 => Self::Md5(Md5::new()),
        }
    }

    fn update(&mut self, chunk: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(chunk),
            Self::Sha256(h) => h.update(chunk),
            Self::Md5(h) => h.update(chunk),
        }
    }

    fn matches(self, expected: &[u8]) -> bool {
        match self {
            Self::Sha1(h) => h.finalize().as_slice() == expected,
            Self::Sha256(h) => h.finalize().as_slice() == expected,
            Self::Md5(h) => h.finalize().as_slice() == expected,
        }
    }
}

/// The rules an upload's bytes must satisfy, and its pending file for a single upload.
async fn rules_of(
    state: &AppState,
    upload: &TusUpload,
) -> ApiResult<(ContentRules, Option<FileRecord>)> {
    match upload.kind {
        TusKind::Partial => Ok((max_size_rules(state).await?, None)),
        _ => {
            let file = state
                .meta
                .get_file(upload.id)
                .await?
                .filter(|f| f.status == FileStatus::UploadPending)
                .ok_or_else(not_found)?;
            Ok((files::content_rules(state, &file).await?, Some(file)))
        }
    }
}

/// Appends a request's body to `upload` at `req.offset`.
pub async fn append<S, E>(
    state: &AppState,
    upload: TusUpload,
    req: Append,
    body: S,
) -> ApiResult<Appended>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    if upload.kind == TusKind::Final {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "a final upload is the concatenation of its partial uploads; it takes no bytes",
        ));
    }
    check_alive(state, &upload)?;
    let mismatch = |at: u64| {
        files::conflict(&format!(
            "Upload-Offset {} does not match the upload's offset {at}",
            req.offset
        ))
    };
    if req.offset != upload.offset {
        return Err(mismatch(upload.offset));
    }
    let length = match (upload.length, req.length) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::invalid(
                "Upload-Length differs from the length the upload was created with",
            ));
        }
        (known, sent) => known.or(sent),
    };
    if length.is_some_and(|l| l < upload.offset) {
        return Err(ApiError::invalid(
            "Upload-Length is below the bytes already received",
        ));
    }
    let (rules, file) = rules_of(state, &upload).await?;
    if let (Some(l), None) = (req.length, upload.length) {
        match upload.kind {
            TusKind::Partial => rules.check_size_max(l)?,
            _ => rules.check_size(l)?,
        }
    }
    let mut lock = UploadLock::take(state, upload.id).await?;
    let outcome = append_held(state, &mut lock, upload, req, length, rules, file, body).await;
    lock.release().await;
    outcome
}

/// [`append`] once the request holds the upload.
#[allow(clippy::too_many_arguments)]
async fn append_held<S, E>(
    state: &AppState,
    lock: &mut UploadLock,
    upload: TusUpload,
    req: Append,
    length: Option<u64>,
    rules: ContentRules,
    file: Option<FileRecord>,
    body: S,
) -> ApiResult<Appended>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mismatch = |at: u64| {
        files::conflict(&format!(
            "Upload-Offset {} does not match the upload's offset {at}",
            req.offset
        ))
    };
    let id = upload.id.to_string();
    // On object storage a single upload's parts go straight into its file's blob.
    let target = file.as_ref().and_then(FileRecord::current_blob_key);
    let mut handle = state
        .blobs
        .open_upload(&id, upload.offset, target.as_deref())
        .await
        .map_err(blob_error)?;
    // Another request may have moved the offset between our read and our lock.
    let fresh = state
        .meta
        .get_tus_upload(upload.id)
        .await?
        .ok_or_else(not_found)?;
    if fresh.offset != req.offset {
        return Err(mismatch(fresh.offset));
    }
    let mut hasher = match upload.kind {
        TusKind::Single => state
            .tus_hashes
            .take(upload.id, upload.offset)
            .or_else(|| (upload.offset == 0).then(Sha256::new)),
        _ => None,
    };
    let mut stream = Receiver {
        state,
        lock: &mut *lock,
        upload: &fresh,
        handle: &mut handle,
        committed: fresh.offset,
    };
    let limit = length.unwrap_or(rules.max_size);
    let received = stream
        .receive(
            body,
            limit,
            length.is_some(),
            &rules,
            req.checksum.as_ref(),
            hasher.as_mut(),
        )
        .await;
    let committed = stream.committed;
    let new_offset = match received {
        Ok(end) => end,
        Err(e) => {
            state.tus_hashes.forget(upload.id);
            return Err(e);
        }
    };
    let final_length = if req.completes {
        if length.is_some_and(|l| l != new_offset) {
            state.tus_hashes.forget(upload.id);
            handle.truncate(committed).await?;
            return Err(ApiError::invalid(
                "Upload-Complete: the upload ends before its announced length",
            ));
        }
        Some(new_offset)
    } else {
        length
    };
    handle.sync().await.map_err(blob_error)?;
    if upload.kind == TusKind::Partial && final_length == Some(new_offset) {
        // A complete part is readable before any request can see it complete: the one that
        // concatenates may be another.
        handle.seal().await.map_err(blob_error)?;
    }
    let set_length = if fresh.length.is_none() {
        final_length
    } else {
        None
    };
    if new_offset != committed || set_length.is_some() {
        // Only the request that still holds the upload may record what it wrote.
        lock.confirm().await?;
        let now = time::now();
        if !state
            .meta
            .advance_tus_upload(upload.id, committed, new_offset, set_length, now)
            .await?
        {
            return Err(files::conflict(
                "the upload was removed or moved on meanwhile",
            ));
        }
    }
    let mut upload = fresh;
    upload.offset = new_offset;
    upload.length = upload.length.or(final_length);
    upload.updated_at = time::now();
    if upload.is_complete() {
        if let Some(file) = file {
            let done = finish::complete(state, file, Some(handle), new_offset, hasher).await?;
            return Ok(Appended {
                upload,
                file: Some(done),
            });
        }
        if let Some(final_id) = upload.final_id {
            // The last part to complete makes its final upload a file.
            drop(handle);
            let done = concat::concatenate_when_ready(state, final_id).await?;
            return Ok(Appended { upload, file: done });
        }
    } else if let Some(h) = hasher {
        state.tus_hashes.put(upload.id, new_offset, h);
    }
    Ok(Appended { upload, file: None })
}

/// A request's body on its way into an upload's file.
struct Receiver<'a> {
    state: &'a AppState,
    lock: &'a mut UploadLock,
    upload: &'a TusUpload,
    handle: &'a mut UploadFile,
    /// The offset the metadata store holds.
    committed: u64,
}

impl Receiver<'_> {
    /// Makes what was written durable and records it.
    async fn commit(&mut self) -> ApiResult<()> {
        let durable = self.handle.sync().await.map_err(blob_error)?;
        if durable != self.committed {
            self.lock.confirm().await?;
            if !self
                .state
                .meta
                .advance_tus_upload(self.upload.id, self.committed, durable, None, time::now())
                .await?
            {
                return Err(files::conflict(
                    "the upload was removed or moved on meanwhile",
                ));
            }
            self.committed = durable;
        }
        Ok(())
    }

    /// Writes the body; returns the new end of the upload. On failure, keeps (commits) what
    /// arrived unless a checksum covers the body, in which case it cuts it off.
    #[allow(clippy::too_many_arguments)]
    async fn receive<S, E>(
        &mut self,
        mut body: S,
        limit: u64,
        length_known: bool,
        rules: &ContentRules,
        checksum: Option<&Checksum>,
        mut sha: Option<&mut Sha256>,
    ) -> ApiResult<u64>
    where
        S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let start = self.handle.len();
        let mut bounds = ingest::body_bounds(self.state);
        let lease = ingest::lease_interval(self.state);
        let mut last_commit = std::time::Instant::now();
        let mut check = checksum.map(|c| ChecksumHasher::new(c.algorithm));
        let outcome: ApiResult<()> = async {
            while let Some(chunk) = ingest::next_chunk(&mut body, &mut bounds).await? {
                let end = self.handle.len() + chunk.len() as u64;
                if end > limit {
                    return Err(if length_known {
                        ApiError::invalid("the body goes beyond the upload's Upload-Length")
                    } else {
                        too_large(rules, end)
                    });
                }
                if let Some(c) = check.as_mut() {
                    c.update(&chunk);
                }
                if let Some(h) = sha.as_deref_mut() {
                    h.update(&chunk);
                }
                self.handle.write(&chunk).await.map_err(blob_error)?;
                self.lock.keep().await?;
                // A long body keeps the upload alive and its progress durable as it goes.
                if check.is_none() && last_commit.elapsed() >= lease {
                    last_commit = std::time::Instant::now();
                    self.commit().await?;
                }
            }
            Ok(())
        }
        .await;
        match (outcome, check, checksum) {
            (Ok(()), Some(hasher), Some(expected)) => {
                if hasher.matches(&expected.digest) {
                    Ok(self.handle.len())
                } else {
                    self.handle.truncate(start).await.map_err(blob_error)?;
                    Err(ApiError::new(
                        ErrorCode::ChecksumMismatch,
                        "the body does not match Upload-Checksum; it was discarded",
                    ))
                }
            }
            (Ok(()), _, _) => Ok(self.handle.len()),
            (Err(e), Some(_), _) => {
                self.handle.truncate(start).await.map_err(blob_error)?;
                Err(e)
            }
            (Err(e), None, _) => {
                // A cut-off body keeps every byte that arrived: the next HEAD reports them.
                if let Err(commit) = self.commit().await {
                    tracing::warn!(upload = %self.upload.id, error = ?commit, "keeping the bytes of a broken request failed");
                }
                Err(e)
            }
        }
    }
}

/// 413 for bytes beyond the rules' maximum.
fn too_large(rules: &ContentRules, size: u64) -> ApiError {
    match rules.check_size_max(size) {
        Err(e) => e.into(),
        Ok(()) => ApiError::new(
            ErrorCode::FileTooLarge,
            "the upload exceeds its maximum size",
        ),
    }
}
