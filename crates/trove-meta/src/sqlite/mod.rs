//! SQLite implementation of [`MetaStore`], the embedded default.
//!
//! WAL journal with `synchronous = FULL`: a commit is on disk before it returns, so a file row that
//! says `ready` survives a crash or power loss. Readers never block the single writer.
//!
//! Two drivers share the one database file: rusqlite for the hot paths, the reads ([`reader`]) and
//! the group committer of uploads ([`committer`]), which run without a thread switch per
//! statement; sqlx for the other writes, each its own transaction.

mod associations;
mod buckets;
mod cache;
mod categories;
mod committer;
mod deletions;
mod files;
mod inline;
mod list;
mod open;
pub use open::refresh_planner_statistics;
mod reader;
mod resumable;
mod rows;
mod scope;
mod sql;
mod uploads;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqlitePool;
use trove_core::{
    Association, Bucket, BucketId, Category, EntityRef, FileId, FileQuery, FileRecord, ListScope,
};
use uuid::Uuid;

use crate::{
    BucketUsage, FileChanges, FilePage, MetaError, MetaStore, QueueStats, QueuedBlob,
    StoredContent, TusUpload, UnfinishedQuery, UnfinishedUpload,
};
use rows::map_err;

/// The SQLite metadata store.
#[derive(Debug, Clone)]
pub struct SqliteMetaStore {
    pool: SqlitePool,
    committer: committer::Committer,
    readers: std::sync::Arc<reader::Readers>,
    cache: std::sync::Arc<cache::ReadCache>,
    /// The directory of a throw-away database ([`SqliteMetaStore::in_memory`]), removed on drop.
    _scratch: Option<std::sync::Arc<tempfile::TempDir>>,
}

impl SqliteMetaStore {
    /// Runs a write, then invalidates the read cache, whether the write succeeded or not: what a
    /// read finds after this returns is never older than the write.
    async fn writing<T>(&self, write: impl std::future::Future<Output = T>) -> T {
        let result = write.await;
        self.cache.wrote();
        result
    }
}

/// A bucket's columns, in the order [`rows::bucket_from_row`] reads them.
pub(crate) const BUCKET_COLUMNS: &str = "id, cache_control, download_expiration, \
     min_upload_file_size, max_upload_file_size, presigned_urls_enabled, allowed_mime_types, \
     default_visibility, created_at, updated_at";

/// Every file column, plus the file's associations as a JSON array, from `files f`, in the order
/// [`rows::file_from_row`] reads them.
pub(crate) const FILE_SELECT: &str = "SELECT f.id, f.bucket_id, f.name, f.mime_type, f.size, f.etag, \
     f.status, f.metadata, f.visibility, f.access, f.category, f.tenant_id, f.uploaded_by_user_id, \
     f.checksum_sha256, f.revision, f.created_at, f.updated_at, \
     (SELECT json_group_array(json_object('id', x.id, 'entityName', x.entity_name, \
       'entityReference', x.entity_reference, 'createdAt', x.created_at)) FROM \
       (SELECT id, entity_name, entity_reference, created_at FROM file_associations \
        WHERE file_id = f.id ORDER BY created_at, id) x) AS associations, f.status_reason FROM files f";

/// Starts a write transaction holding SQLite's write lock from its first statement. A deferred
/// transaction that reads and then writes must upgrade its lock, and that upgrade fails with
/// `SQLITE_BUSY` at once (no busy timeout applies) when another writer committed since the read.
pub(crate) async fn begin_immediate(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, MetaError> {
    pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)
}

/// Every write, whether it succeeds or not, invalidates the read cache once it is over (see
/// [`cache`]).
#[async_trait]
impl MetaStore for SqliteMetaStore {
    async fn ping(&self) -> Result<(), MetaError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    async fn close(&self) {
        // The committer and the readers keep their connections until the process ends, so SQLite's
        // own checkpoint at the last close never comes: fold the log in and empty it here.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, "checkpointing the SQLite log at shutdown failed");
        }
        self.pool.close().await;
    }

    async fn insert_bucket(&self, bucket: &Bucket) -> Result<(), MetaError> {
        self.writing(self.bucket_insert(bucket)).await
    }

    async fn ensure_bucket(&self, bucket: &Bucket) -> Result<(), MetaError> {
        self.writing(async {
            match self.insert_bucket(bucket).await {
                Err(MetaError::Conflict(_)) => Ok(()),
                other => other,
            }
        })
        .await
    }

    async fn get_bucket(&self, id: &BucketId) -> Result<Option<Bucket>, MetaError> {
        self.bucket_get(id).await
    }

    async fn list_buckets(&self) -> Result<Vec<Bucket>, MetaError> {
        self.bucket_list().await
    }

    async fn update_bucket(&self, b: &Bucket) -> Result<bool, MetaError> {
        self.writing(self.bucket_update(b)).await
    }

    async fn delete_bucket(&self, id: &BucketId) -> Result<bool, MetaError> {
        self.writing(self.bucket_delete(id)).await
    }

    async fn bucket_has_files(&self, id: &BucketId) -> Result<bool, MetaError> {
        self.bucket_has_any_file(id).await
    }

    async fn bucket_usage(&self) -> Result<Vec<BucketUsage>, MetaError> {
        self.usage_per_bucket().await
    }

    async fn files_in_bucket(
        &self,
        id: &BucketId,
        after: Option<FileId>,
        limit: u32,
    ) -> Result<Vec<FileRecord>, MetaError> {
        self.page_of_bucket(id, after, limit).await
    }

    async fn insert_file(&self, f: &FileRecord) -> Result<(), MetaError> {
        self.writing(self.insert(f)).await
    }

    async fn get_file(&self, id: FileId) -> Result<Option<FileRecord>, MetaError> {
        self.fetch_file(id).await
    }

    async fn get_file_with_bucket(
        &self,
        id: FileId,
    ) -> Result<Option<(FileRecord, Bucket)>, MetaError> {
        self.fetch_file_with_bucket(id).await
    }

    async fn update_file_fields(
        &self,
        id: FileId,
        changes: &FileChanges,
        if_match: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<FileRecord>, MetaError> {
        self.writing(self.update_fields(id, changes, if_match, now))
            .await
    }

    async fn touch_upload(&self, id: FileId, now: DateTime<Utc>) -> Result<bool, MetaError> {
        self.writing(self.touch(id, now)).await
    }

    async fn complete_upload(
        &self,
        id: FileId,
        c: &StoredContent,
        now: DateTime<Utc>,
    ) -> Result<FileRecord, MetaError> {
        self.writing(self.complete(id, c, now)).await
    }

    async fn replace_content(
        &self,
        id: FileId,
        c: &StoredContent,
        if_match: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(FileRecord, Option<String>), MetaError> {
        self.writing(self.replace(id, c, if_match, now)).await
    }

    async fn delete_file(
        &self,
        id: FileId,
        if_match: Option<&str>,
    ) -> Result<Option<(FileRecord, Option<String>)>, MetaError> {
        self.writing(async {
            self.delete_where(id, files::DeleteGuard::IfMatch(if_match))
                .await
        })
        .await
    }

    async fn delete_stale_upload(
        &self,
        id: FileId,
        stale_before: DateTime<Utc>,
    ) -> Result<Option<(FileRecord, Option<String>)>, MetaError> {
        self.writing(async {
            self.delete_where(id, files::DeleteGuard::StaleUpload(stale_before))
                .await
        })
        .await
    }

    async fn queue_blob_deletion(&self, key: &str) -> Result<(), MetaError> {
        self.writing(self.deletion_queue(key)).await
    }

    async fn blob_deleted(&self, key: &str) -> Result<(), MetaError> {
        self.writing(self.deletion_done(key)).await
    }

    async fn due_blob_deletions(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<QueuedBlob>, MetaError> {
        self.deletion_due(now, limit).await
    }

    async fn blob_deletion_failed(
        &self,
        key: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), MetaError> {
        self.writing(self.deletion_failed(key, retry_at)).await
    }

    async fn blob_deletion_stats(&self) -> Result<QueueStats, MetaError> {
        self.deletion_stats().await
    }

    async fn list_files(&self, query: &FileQuery) -> Result<FilePage, MetaError> {
        self.list(query).await
    }

    async fn add_association(
        &self,
        file: FileId,
        entity: &EntityRef,
        now: DateTime<Utc>,
    ) -> Result<(Association, bool), MetaError> {
        self.writing(self.associate(file, entity, now)).await
    }

    async fn delete_association(&self, file: FileId, id: Uuid) -> Result<bool, MetaError> {
        self.writing(self.dissociate(file, id)).await
    }

    async fn files_of_entity(
        &self,
        entity: &EntityRef,
        scope: &ListScope,
        after: Option<FileId>,
        limit: u32,
    ) -> Result<Vec<FileRecord>, MetaError> {
        self.entity_files(entity, scope, after, limit).await
    }

    async fn unlink_entity(&self, entity: &EntityRef, files: &[FileId]) -> Result<u64, MetaError> {
        self.writing(self.unlink(entity, files)).await
    }

    async fn insert_category(&self, category: &Category) -> Result<(), MetaError> {
        self.writing(self.category_insert(category)).await
    }

    async fn get_category(&self, key: &str) -> Result<Option<Category>, MetaError> {
        self.category_get(key).await
    }

    async fn list_categories(&self) -> Result<Vec<Category>, MetaError> {
        self.category_list().await
    }

    async fn update_category(&self, category: &Category) -> Result<bool, MetaError> {
        self.writing(self.category_update(category)).await
    }

    async fn delete_category(&self, key: &str, force: bool) -> Result<bool, MetaError> {
        self.writing(self.category_delete(key, force)).await
    }

    async fn insert_direct_upload(
        &self,
        file: FileId,
        expires_at: DateTime<Utc>,
        fingerprint: Option<&str>,
        length: Option<u64>,
    ) -> Result<(), MetaError> {
        self.writing(async {
            self.direct_upload_insert(file, expires_at, fingerprint, length)
                .await
        })
        .await
    }

    async fn use_direct_upload(&self, file: FileId) -> Result<bool, MetaError> {
        self.writing(self.direct_upload_use(file)).await
    }

    async fn reopen_direct_upload(&self, file: FileId) -> Result<(), MetaError> {
        self.writing(self.direct_upload_reopen(file)).await
    }

    async fn cancel_upload(&self, file: FileId, now: DateTime<Utc>) -> Result<bool, MetaError> {
        self.writing(self.cancel(file, now)).await
    }

    async fn direct_upload_length(&self, file: FileId) -> Result<Option<u64>, MetaError> {
        self.announced_length(file).await
    }

    async fn fail_upload(
        &self,
        file: FileId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, MetaError> {
        self.writing(self.fail(file, reason, now)).await
    }

    async fn expired_uploads(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FileRecord>, MetaError> {
        self.expired(now, stale_before, limit).await
    }

    async fn insert_tus_upload(
        &self,
        upload: &TusUpload,
        file: Option<&FileRecord>,
    ) -> Result<(), MetaError> {
        self.writing(self.tus_insert(upload, file)).await
    }

    async fn get_tus_upload(&self, id: FileId) -> Result<Option<TusUpload>, MetaError> {
        self.tus_get(id).await
    }

    async fn advance_tus_upload(
        &self,
        id: FileId,
        from: u64,
        to: u64,
        length: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<bool, MetaError> {
        self.writing(self.tus_advance(id, from, to, length, now))
            .await
    }

    async fn insert_final_upload(
        &self,
        upload: &TusUpload,
        file: &FileRecord,
        parts: &[FileId],
    ) -> Result<(), MetaError> {
        self.writing(self.tus_insert_final(upload, file, parts))
            .await
    }

    async fn parts_of_final(&self, final_id: FileId) -> Result<Vec<TusUpload>, MetaError> {
        self.tus_parts(final_id).await
    }

    async fn claim_final(
        &self,
        final_id: FileId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, MetaError> {
        self.writing(self.tus_claim(final_id, now, until)).await
    }

    async fn delete_tus_upload(&self, id: FileId) -> Result<Option<TusUpload>, MetaError> {
        self.writing(self.tus_delete(id)).await
    }

    async fn stale_tus_partials(
        &self,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<TusUpload>, MetaError> {
        self.tus_stale_partials(stale_before, limit).await
    }

    async fn delete_stale_tus_partial(
        &self,
        id: FileId,
        stale_before: DateTime<Utc>,
    ) -> Result<bool, MetaError> {
        self.writing(self.tus_delete_stale_partial(id, stale_before))
            .await
    }

    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, MetaError> {
        self.writing(async {
            let done = sqlx::query(
                "INSERT INTO leases (name, holder, until) VALUES (?, ?, ?) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
                 WHERE leases.until < ? OR leases.holder = excluded.holder",
            )
            .bind(name)
            .bind(holder)
            .bind(trove_core::time::to_millis(until))
            .bind(trove_core::time::to_millis(now))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), MetaError> {
        self.writing(async {
            sqlx::query("DELETE FROM leases WHERE name = ? AND holder = ?")
                .bind(name)
                .bind(holder)
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(map_err)
        })
        .await
    }

    async fn prune_leases(&self, lapsed_before: DateTime<Utc>) -> Result<u64, MetaError> {
        self.writing(async {
            sqlx::query("DELETE FROM leases WHERE until < ?")
                .bind(trove_core::time::to_millis(lapsed_before))
                .execute(&self.pool)
                .await
                .map(|done| done.rows_affected())
                .map_err(map_err)
        })
        .await
    }

    async fn unfinished_uploads(
        &self,
        query: &UnfinishedQuery,
    ) -> Result<Vec<UnfinishedUpload>, MetaError> {
        self.unfinished(query).await
    }
}
