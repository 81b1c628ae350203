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
mod rows;
mod tus;
mod uploads;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use trove_core::{
    Association, Bucket, BucketId, Category, EntityRef, FileId, FileQuery, FileRecord, ListScope,
};
use uuid::Uuid;

use crate::{
    FileChanges, FilePage, MetaError, MetaStore, QueueStats, QueuedBlob, StoredContent, TusUpload,
    UnfinishedQuery, UnfinishedUpload,
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

impl PgMetaStore {
    /// Connects to a `postgres://` URL and runs the migrations.
    pub async fn connect(url: &str, settings: &PgSettings) -> Result<Self, MetaError> {
        let store = Self::connect_without_migrating(url, settings).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without touching the schema (for `trove migrate`, which reports what it ran).
    pub async fn connect_without_migrating(
        url: &str,
        settings: &PgSettings,
    ) -> Result<Self, MetaError> {
        let timeout_ms = settings.timeout.as_millis().max(1);
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| MetaError::Backend(format!("not a PostgreSQL URL: {e}")))?
            .application_name("trove")
            // No JIT: Trove's statements are short, and a prepared statement's generic plan
            // (estimated for an unknown LIMIT) costs enough to be JIT-compiled on every run,
            // which took a keyset page from 0.3 ms to 12 ms and more.
            .options([
                ("statement_timeout", format!("{timeout_ms}ms")),
                ("jit", "off".to_owned()),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.pool_size.max(1))
            .min_connections(0)
            .acquire_timeout(settings.timeout)
            // A connection the server dropped (a restart) is found out before a request uses it.
            .test_before_acquire(true)
            .connect_with(options)
            .await
            .map_err(map_err)?;
        Ok(Self { pool })
    }

    /// Runs the migrations not applied yet; returns how many ran. A schema named first in the
    /// connection's `search_path` (`?options[search_path]=trove` in the URL) that does not exist
    /// yet is created first, so several deployments, or tests, can share one database.
    pub async fn migrate(&self) -> Result<usize, MetaError> {
        self.ensure_schema().await?;
        let migrator = sqlx::migrate!("./migrations/postgres");
        let before = applied_migrations(&self.pool).await;
        // Two nodes starting at once: the migrator takes an advisory lock, so one migrates and the
        // other finds the schema in place.
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| MetaError::Backend(e.to_string()))?;
        let after = applied_migrations(&self.pool).await;
        Ok(after.saturating_sub(before))
    }

    async fn ensure_schema(&self) -> Result<(), MetaError> {
        let current: Option<String> = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        if current.is_some() {
            return Ok(());
        }
        let path: String = sqlx::query_scalar("SHOW search_path")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        let first = path
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        if first.is_empty()
            || first.starts_with('$')
            || !first.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(MetaError::Backend(format!(
                "no schema of the search path ({path}) exists"
            )));
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS \"{first}\""
        )))
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(map_err)
    }

    /// The pool, for tools that copy between stores and for tests.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// `url` with a fresh schema of its own first in the search path (created on connecting), so
/// that tests sharing one PostgreSQL database never see each other's rows.
pub fn scratch_schema_url(url: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{sep}options[search_path]=t_{}",
        Uuid::new_v4().simple()
    )
}

async fn applied_migrations(pool: &PgPool) -> usize {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .map(|n| n.max(0) as usize)
        .unwrap_or(0)
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
        // The row lock of the conflicting insert makes concurrent takers take turns; only one
        // finds the lease lapsed (or its own).
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until \
             WHERE leases.until < $4 OR leases.holder = EXCLUDED.holder",
        )
        .bind(name)
        .bind(holder)
        .bind(rows::ms(until))
        .bind(rows::ms(now))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), MetaError> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    async fn unfinished_uploads(
        &self,
        query: &UnfinishedQuery,
    ) -> Result<Vec<UnfinishedUpload>, MetaError> {
        self.unfinished(query).await
    }
}
