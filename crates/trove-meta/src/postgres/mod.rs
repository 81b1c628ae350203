//! PostgreSQL implementation of [`MetaStore`], for several Trove nodes sharing one database.
//!
//! Everything another node needs lives in the database: upload offsets, single-use URL state,
//! concatenation claims and clean-up leases are rows changed by conditional updates, and a write
//! that reads before it writes locks what it read (`SELECT … FOR UPDATE`), so two nodes racing
//! for the same row serialise on it and the loser sees the winner's result. No state is cached in
//! the process: the nodes share the database, and a cache here would serve one node's stale rows.
//!
//! A pool of `TROVE_DATABASE_POOL_SIZE` connections; `TROVE_DATABASE_TIMEOUT` bounds both the wait
//! for a connection and each statement (`statement_timeout`), so a database that stops answering
//! turns into [`MetaError::Unavailable`] (503) instead of requests that hang, and the pool
//! reconnects by itself once it is back.

mod catalog;
mod files;
mod list;
mod open;
pub use open::scratch_schema_url;
mod rows;
mod tus;
mod uploads;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use trove_core::{
    Association, Bucket, BucketId, Category, EntityRef, FileId, FileQuery, FileRecord, ListScope,
};
use uuid::Uuid;

use crate::{
    BucketUsage, FileChanges, FilePage, MetaError, MetaStore, QueueStats, QueuedBlob,
    StoredContent, TusUpload, UnfinishedQuery, UnfinishedUpload,
};
pub(crate) use rows::map_err;

/// How to reach PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// Most connections this node holds (`TROVE_DATABASE_POOL_SIZE`).
    pub pool_size: u32,
    /// Longest wait for a connection, and longest statement (`TROVE_DATABASE_TIMEOUT`).
    pub timeout: Duration,
}

impl Default for PgSettings {
    fn default() -> Self {
        Self {
            pool_size: 16,
            timeout: Duration::from_secs(5),
        }
    }
}

/// The PostgreSQL metadata store.
#[derive(Debug, Clone)]
pub struct PgMetaStore {
    pool: PgPool,
}

#[async_trait]
impl MetaStore for PgMetaStore {
    async fn ping(&self) -> Result<(), MetaError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn insert_bucket(&self, bucket: &Bucket) -> Result<(), MetaError> {
        self.bucket_insert(bucket, false).await
    }

    async fn ensure_bucket(&self, bucket: &Bucket) -> Result<(), MetaError> {
        self.bucket_insert(bucket, true).await
    }

    async fn get_bucket(&self, id: &BucketId) -> Result<Option<Bucket>, MetaError> {
        self.bucket_get(id).await
    }

    async fn list_buckets(&self) -> Result<Vec<Bucket>, MetaError> {
        self.bucket_list().await
    }

    async fn update_bucket(&self, b: &Bucket) -> Result<bool, MetaError> {
        self.bucket_update(b).await
    }

    async fn delete_bucket(&self, id: &BucketId) -> Result<bool, MetaError> {
        self.bucket_delete(id).await
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
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        files::insert_on(&mut tx, f).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn get_file(&self, id: FileId) -> Result<Option<FileRecord>, MetaError> {
        files::fetch_on(&self.pool, id).await
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
        self.update_fields(id, changes, if_match, now).await
    }

    async fn touch_upload(&self, id: FileId, now: DateTime<Utc>) -> Result<bool, MetaError> {
        self.touch(id, now).await
    }

    async fn complete_upload(
        &self,
        id: FileId,
        c: &StoredContent,
        now: DateTime<Utc>,
    ) -> Result<FileRecord, MetaError> {
        self.complete(id, c, now).await
    }

    async fn replace_content(
        &self,
        id: FileId,
        c: &StoredContent,
        if_match: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(FileRecord, Option<String>), MetaError> {
        self.replace(id, c, if_match, now).await
    }

    async fn delete_file(
        &self,
        id: FileId,
        if_match: Option<&str>,
    ) -> Result<Option<(FileRecord, Option<String>)>, MetaError> {
        self.delete_where(id, files::DeleteGuard::IfMatch(if_match))
            .await
    }

    async fn delete_stale_upload(
        &self,
        id: FileId,
        stale_before: DateTime<Utc>,
    ) -> Result<Option<(FileRecord, Option<String>)>, MetaError> {
        self.delete_where(id, files::DeleteGuard::StaleUpload(stale_before))
            .await
    }

    async fn queue_blob_deletion(&self, key: &str) -> Result<(), MetaError> {
        catalog::queue_deletion(&self.pool, key).await
    }

    async fn blob_deleted(&self, key: &str) -> Result<(), MetaError> {
        self.deletion_done(key).await
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
        self.deletion_failed(key, retry_at).await
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
        self.associate(file, entity, now).await
    }

    async fn delete_association(&self, file: FileId, id: Uuid) -> Result<bool, MetaError> {
        self.dissociate(file, id).await
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
        self.unlink(entity, files).await
    }

    async fn insert_category(&self, category: &Category) -> Result<(), MetaError> {
        self.category_insert(category).await
    }

    async fn get_category(&self, key: &str) -> Result<Option<Category>, MetaError> {
        self.category_get(key).await
    }

    async fn list_categories(&self) -> Result<Vec<Category>, MetaError> {
        self.category_list().await
    }

    async fn update_category(&self, category: &Category) -> Result<bool, MetaError> {
        self.category_update(category).await
    }

    async fn delete_category(&self, key: &str, force: bool) -> Result<bool, MetaError> {
        self.category_delete(key, force).await
    }

    async fn insert_direct_upload(
        &self,
        file: FileId,
        expires_at: DateTime<Utc>,
        fingerprint: Option<&str>,
        length: Option<u64>,
    ) -> Result<(), MetaError> {
        self.direct_upload_insert(file, expires_at, fingerprint, length)
            .await
    }

    async fn direct_upload_length(&self, file: FileId) -> Result<Option<u64>, MetaError> {
        self.announced_length(file).await
    }

    async fn use_direct_upload(&self, file: FileId) -> Result<bool, MetaError> {
        self.direct_upload_use(file).await
    }

    async fn reopen_direct_upload(&self, file: FileId) -> Result<(), MetaError> {
        self.direct_upload_reopen(file).await
    }

    async fn cancel_upload(&self, file: FileId, now: DateTime<Utc>) -> Result<bool, MetaError> {
        self.cancel(file, now).await
    }

    async fn fail_upload(
        &self,
        file: FileId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, MetaError> {
        self.fail(file, reason, now).await
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
        self.tus_insert(upload, file).await
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
        self.tus_advance(id, from, to, length, now).await
    }

    async fn insert_final_upload(
        &self,
        upload: &TusUpload,
        file: &FileRecord,
        parts: &[FileId],
    ) -> Result<(), MetaError> {
        self.tus_insert_final(upload, file, parts).await
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
        self.tus_claim(final_id, now, until).await
    }

    async fn delete_tus_upload(&self, id: FileId) -> Result<Option<TusUpload>, MetaError> {
        self.tus_delete(id).await
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
        self.tus_delete_stale_partial(id, stale_before).await
    }

    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, MetaError> {
        self.lease_take(name, holder, now, until).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), MetaError> {
        self.lease_release(name, holder).await
    }

    async fn prune_leases(&self, lapsed_before: DateTime<Utc>) -> Result<u64, MetaError> {
        self.lease_prune(lapsed_before).await
    }

    async fn unfinished_uploads(
        &self,
        query: &UnfinishedQuery,
    ) -> Result<Vec<UnfinishedUpload>, MetaError> {
        self.unfinished(query).await
    }
}
