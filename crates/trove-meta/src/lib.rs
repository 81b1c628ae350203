//! The metadata repository: one [`MetaStore`] trait, chosen at start-up from the database URL.
//!
//! The SQLite implementation ([`sqlite`], the embedded default) and the PostgreSQL one
//! ([`postgres`], for several nodes sharing one database) pass the same [`conformance`] suite.
//! Handlers never speak SQL.
//!
//! Error policy: "not there" is `Ok(None)`/`Ok(false)`, a uniqueness clash is
//! [`MetaError::Conflict`], a failed `If-Match` is [`MetaError::PreconditionFailed`], a database too
//! busy to hand out a connection in time is [`MetaError::Unavailable`] (503, retry later), and
//! everything else is [`MetaError::Backend`], which callers log and turn into an opaque 500.
//!
//! Concurrency policy, which every backend follows: a write transaction that reads before it writes
//! takes the write lock first (`BEGIN IMMEDIATE` on SQLite, `SELECT … FOR UPDATE` on PostgreSQL), so
//! it can neither fail on a lock upgrade nor act on a stale read; an update writes only the columns
//! it changes; a delete reads what it deletes in the same transaction and returns it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use trove_core::{
    Access, Association, Bucket, BucketId, Category, EntityRef, FileId, FileQuery, FileRecord,
    ListScope, RevisionId, Visibility,
};
use uuid::Uuid;

pub mod conformance;
pub mod copy;
mod paging;
pub mod postgres;
mod resumable;
pub mod sqlite;

pub use resumable::{TusKind, TusUpload, UnfinishedQuery, UnfinishedUpload, UploadProtocol};

/// Failures of the metadata layer.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// A row with the same key exists already.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row to change is not in the expected state (it changed under us).
    #[error("stale: {0}")]
    Stale(String),
    /// The row's current validator (the File's `etag`) is not the one the caller expected.
    #[error("precondition failed")]
    PreconditionFailed,
    /// No connection could be had in time: the database is saturated; the request may be retried.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database failed; the detail is for the log only.
    #[error("database error: {0}")]
    Backend(String),
}

/// The descriptive fields a `PATCH` changes; `None` leaves a field as it is in the database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileChanges {
    pub name: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub visibility: Option<Visibility>,
    pub access: Option<Access>,
    /// `Some(None)` clears the category.
    pub category: Option<Option<String>>,
}

/// A blob waiting in the deletion queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedBlob {
    pub key: String,
    /// Failed deletions so far.
    pub attempts: u32,
}

/// The deletion queue's health, for the log and metrics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueStats {
    pub len: u64,
    pub oldest: Option<DateTime<Utc>>,
}

/// What one bucket holds: every file row, whatever its status, and the bytes of the ready ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketUsage {
    pub bucket_id: BucketId,
    pub files: u64,
    pub bytes: u64,
}

/// The content facts established once an upload's bytes are durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredContent {
    pub revision: RevisionId,
    pub size: u64,
    pub mime_type: String,
    /// `None` when the bytes never passed through Trove and their uploader declared no hash (a
    /// direct upload to object storage).
    pub checksum_sha256: Option<String>,
    pub etag: String,
    /// The bytes themselves when they are kept in the metadata store, not the blob store: they are
    /// durable once the write that records them commits.
    pub inline: Option<bytes::Bytes>,
}

impl StoredContent {
    /// The facts of content whose SHA-256 (hex) is `sha256`; its ETag derives from the hash.
    pub fn new(revision: RevisionId, size: u64, mime_type: String, sha256: String) -> Self {
        Self {
            revision,
            size,
            mime_type,
            etag: trove_core::FileRecord::etag_for(&sha256),
            checksum_sha256: Some(sha256),
            inline: None,
        }
    }

    /// The facts of content whose hash is unknown: the ETag derives from the revision, which
    /// names these bytes and no others.
    pub fn unhashed(revision: RevisionId, size: u64, mime_type: String) -> Self {
        Self {
            revision,
            size,
            mime_type,
            etag: format!("\"r{}\"", revision.0.simple()),
            checksum_sha256: None,
            inline: None,
        }
    }

    /// The same facts, with the bytes kept in the metadata store.
    pub fn with_inline(mut self, bytes: bytes::Bytes) -> Self {
        self.inline = Some(bytes);
        self
    }
}

/// The metadata repository.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Answers when the database does.
    async fn ping(&self) -> Result<(), MetaError>;

    /// Ends the store's use of the database at shutdown, once no request uses it: whatever was
    /// acknowledged is durable already; this leaves nothing for the next start to recover (SQLite:
    /// the write-ahead log folded into the database; PostgreSQL: sessions ended, not dropped).
    async fn close(&self);

    /// Inserts a bucket; `Conflict` when the id is taken.
    async fn insert_bucket(&self, bucket: &Bucket) -> Result<(), MetaError>;
    /// Inserts the bucket unless one with its id exists.
    async fn ensure_bucket(&self, bucket: &Bucket) -> Result<(), MetaError>;
    async fn get_bucket(&self, id: &BucketId) -> Result<Option<Bucket>, MetaError>;
    async fn list_buckets(&self) -> Result<Vec<Bucket>, MetaError>;
    /// Stores every field of an existing bucket; false when it does not exist.
    async fn update_bucket(&self, bucket: &Bucket) -> Result<bool, MetaError>;
    /// Deletes a bucket without files; `Conflict` when files remain.
    async fn delete_bucket(&self, id: &BucketId) -> Result<bool, MetaError>;
    /// Whether any file row (in any status) belongs to the bucket.
    async fn bucket_has_files(&self, id: &BucketId) -> Result<bool, MetaError>;
    /// Files and bytes per bucket that holds any file (one pass over the files; for the admin).
    async fn bucket_usage(&self) -> Result<Vec<BucketUsage>, MetaError>;
    /// Up to `limit` files of a bucket with ids after `after`, in id order, for bulk work.
    async fn files_in_bucket(
        &self,
        id: &BucketId,
        after: Option<FileId>,
        limit: u32,
    ) -> Result<Vec<FileRecord>, MetaError>;

    /// Inserts a new file row (usually `upload_pending`).
    async fn insert_file(&self, file: &FileRecord) -> Result<(), MetaError>;
    async fn get_file(&self, id: FileId) -> Result<Option<FileRecord>, MetaError>;
    /// A file and its bucket in one round trip (the download path needs both).
    async fn get_file_with_bucket(
        &self,
        id: FileId,
    ) -> Result<Option<(FileRecord, Bucket)>, MetaError>;
    /// Writes the given descriptive fields (and `updatedAt`) and nothing else, in one transaction that
    /// first checks `if_match` against the row's `etag`; returns the row as it now is, `None` when
    /// it does not exist, `PreconditionFailed` when the etag differs.
    async fn update_file_fields(
        &self,
        id: FileId,
        changes: &FileChanges,
        if_match: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<FileRecord>, MetaError>;
    /// Keeps a pending upload alive while its bytes stream (clean-up removes pending rows not
    /// touched for the upload expiry); false when the row is gone or no longer pending.
    async fn touch_upload(&self, id: FileId, now: DateTime<Utc>) -> Result<bool, MetaError>;
    /// Makes a pending file ready with its durable content; `Stale` unless it is still pending with
    /// that revision. The file's resumable state ends with it (a final upload's record stays, so
    /// that it keeps refusing PATCH).
    async fn complete_upload(
        &self,
        id: FileId,
        content: &StoredContent,
        now: DateTime<Utc>,
    ) -> Result<FileRecord, MetaError>;
    /// Points a ready file at new durable content and queues the old blob for deletion, in one
    /// transaction; `Stale` when the file is gone or not ready, `PreconditionFailed` when
    /// `if_match` is not its etag. Returns the updated file and the key of the blob that was
    /// replaced.
    async fn replace_content(
        &self,
        id: FileId,
        content: &StoredContent,
        if_match: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(FileRecord, Option<String>), MetaError>;
    /// Deletes a file row and queues its blob (if any) for deletion, in one transaction whose
    /// statement that deletes the row also reads its blob key, so a concurrent replacement can never
    /// leave a revision unreferenced and unqueued. Returns the deleted row and its blob key;
    /// `PreconditionFailed` when `if_match` is not its etag.
    async fn delete_file(
        &self,
        id: FileId,
        if_match: Option<&str>,
    ) -> Result<Option<(FileRecord, Option<String>)>, MetaError>;

    /// Deletes a pending or cancelled file only if its row is still untouched since `stale_before`
    /// (an upload that touched it meanwhile is alive), queueing its blob as [`Self::delete_file`]
    /// does. Returns the deleted row and its blob key.
    async fn delete_stale_upload(
        &self,
        id: FileId,
        stale_before: DateTime<Utc>,
    ) -> Result<Option<(FileRecord, Option<String>)>, MetaError>;

    /// Queues a blob for deletion (for example the bytes of an upload that was refused).
    async fn queue_blob_deletion(&self, key: &str) -> Result<(), MetaError>;
    /// Removes a blob from the queue once storage has deleted it.
    async fn blob_deleted(&self, key: &str) -> Result<(), MetaError>;
    /// Up to `limit` queued blobs due for an attempt at `now`, oldest first. A key that keeps
    /// failing waits longer each time, so it never holds back the keys behind it.
    async fn due_blob_deletions(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<QueuedBlob>, MetaError>;
    /// Records a failed deletion: one more attempt, and no new one before `retry_at`.
    async fn blob_deletion_failed(
        &self,
        key: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), MetaError>;
    /// How many blobs wait in the queue and since when the oldest has.
    async fn blob_deletion_stats(&self) -> Result<QueueStats, MetaError>;

    /// One page of a listing, with the cursor of the next page and, when asked, the total.
    async fn list_files(&self, query: &FileQuery) -> Result<FilePage, MetaError>;

    /// Relates a file to an object; returns the association and whether it is new (an existing pair
    /// is returned as it is).
    async fn add_association(
        &self,
        file: FileId,
        entity: &EntityRef,
        now: DateTime<Utc>,
    ) -> Result<(Association, bool), MetaError>;
    /// Removes one association of a file; false when there is no such association.
    async fn delete_association(&self, file: FileId, id: Uuid) -> Result<bool, MetaError>;
    /// Files associated with an object within `scope` (in any status), in id order after `after`:
    /// the scope is applied before the limit, so other tenants' files never crowd out the caller's.
    async fn files_of_entity(
        &self,
        entity: &EntityRef,
        scope: &ListScope,
        after: Option<FileId>,
        limit: u32,
    ) -> Result<Vec<FileRecord>, MetaError>;
    /// Removes the object's associations with the given files; returns how many went.
    async fn unlink_entity(&self, entity: &EntityRef, files: &[FileId]) -> Result<u64, MetaError>;

    async fn insert_category(&self, category: &Category) -> Result<(), MetaError>;
    async fn get_category(&self, key: &str) -> Result<Option<Category>, MetaError>;
    async fn list_categories(&self) -> Result<Vec<Category>, MetaError>;
    async fn update_category(&self, category: &Category) -> Result<bool, MetaError>;
    /// Deletes a category; with `force`, clears it from its files first, otherwise refuses with
    /// `Conflict` when files use it.
    async fn delete_category(&self, key: &str, force: bool) -> Result<bool, MetaError>;

    /// Records the single-use upload URL of a pending file, with the client's fingerprint and
    /// announced length, if any.
    async fn insert_direct_upload(
        &self,
        file: FileId,
        expires_at: DateTime<Utc>,
        fingerprint: Option<&str>,
        length: Option<u64>,
    ) -> Result<(), MetaError>;
    /// The length a direct upload announced, if it announced one.
    async fn direct_upload_length(&self, file: FileId) -> Result<Option<u64>, MetaError>;
    /// Marks the upload URL used; false when it was used already (or never existed).
    async fn use_direct_upload(&self, file: FileId) -> Result<bool, MetaError>;
    /// Opens the upload URL again after its bytes were refused, so the client may retry.
    async fn reopen_direct_upload(&self, file: FileId) -> Result<(), MetaError>;
    /// Marks a pending file `cancelled` (its row stays until clean-up); false unless it was pending.
    async fn cancel_upload(&self, file: FileId, now: DateTime<Utc>) -> Result<bool, MetaError>;
    /// Marks a pending file `error` with the reason (its bytes were refused after they were
    /// stored); false unless it was pending.
    async fn fail_upload(
        &self,
        file: FileId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, MetaError>;
    /// Pending or cancelled files to clean up: those not touched since `stale_before` (an upload in
    /// progress touches its row as bytes arrive) and, for direct uploads, whose URL also expired
    /// before `now`.
    async fn expired_uploads(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FileRecord>, MetaError>;

    /// Records a new tus upload, with its pending file row (single and final uploads) in the same
    /// transaction.
    async fn insert_tus_upload(
        &self,
        upload: &TusUpload,
        file: Option<&FileRecord>,
    ) -> Result<(), MetaError>;
    async fn get_tus_upload(&self, id: FileId) -> Result<Option<TusUpload>, MetaError>;
    /// Moves a tus upload's durable offset from `from` to `to` (and sets its deferred length, if
    /// given), touching its pending file row (and a partial upload's final upload) too; false when
    /// its offset is no longer `from` (another request moved it) or it is gone.
    async fn advance_tus_upload(
        &self,
        id: FileId,
        from: u64,
        to: u64,
        length: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<bool, MetaError>;
    /// Records a final upload with its pending file, and links the partial uploads it names to it,
    /// in one transaction; `Conflict` (and nothing recorded) when one of them is not an unlinked
    /// partial upload.
    async fn insert_final_upload(
        &self,
        upload: &TusUpload,
        file: &FileRecord,
        parts: &[FileId],
    ) -> Result<(), MetaError>;
    /// The partial uploads linked to a final upload (in no particular order).
    async fn parts_of_final(&self, final_id: FileId) -> Result<Vec<TusUpload>, MetaError>;
    /// Claims a final upload's concatenation until `until`: true for exactly one of several
    /// concurrent callers, and again once a claim has lapsed (its holder died).
    async fn claim_final(
        &self,
        final_id: FileId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, MetaError>;
    /// Deletes a tus upload's row (not its file's); returns what was deleted.
    async fn delete_tus_upload(&self, id: FileId) -> Result<Option<TusUpload>, MetaError>;
    /// Partial uploads without progress since `stale_before`, oldest first.
    async fn stale_tus_partials(
        &self,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<TusUpload>, MetaError>;
    /// Deletes a partial upload only if it is still without progress since `stale_before`.
    async fn delete_stale_tus_partial(
        &self,
        id: FileId,
        stale_before: DateTime<Utc>,
    ) -> Result<bool, MetaError>;
    /// Takes (or renews) the lease `name` for `holder` until `until`: true when `holder` has it now,
    /// false while another holder's lease has not lapsed at `now`. One of several concurrent
    /// takers wins.
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, MetaError>;
    /// Gives up `holder`'s lease `name`, if it holds it.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), MetaError>;
    /// Forgets the leases that lapsed before `lapsed_before` (a lapsed lease is anyone's, so its
    /// row only takes space: per-upload leases of a node that died stay behind otherwise).
    /// Returns how many were removed.
    async fn prune_leases(&self, lapsed_before: DateTime<Utc>) -> Result<u64, MetaError>;

    /// A page of unfinished uploads (pending files with a live tus upload or direct-upload URL),
    /// newest first. Partial uploads are never listed on their own.
    async fn unfinished_uploads(
        &self,
        query: &UnfinishedQuery,
    ) -> Result<Vec<UnfinishedUpload>, MetaError>;
}

/// One page of files.
#[derive(Debug, Clone, PartialEq)]
pub struct FilePage {
    pub files: Vec<FileRecord>,
    pub next_cursor: Option<String>,
    pub total_count: Option<u64>,
}
