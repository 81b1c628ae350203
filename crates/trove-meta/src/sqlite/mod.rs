//! SQLite implementation of [`MetaStore`], the embedded default.
//!
//! WAL journal with `synchronous = FULL`: a commit is on disk before it returns, so a file row that
//! says `ready` survives a crash or power loss. Readers never block the single writer.
//!
//! Two drivers share the one database file: rusqlite for the hot paths, the reads ([`reader`]) and
//! the group committer of uploads ([`committer`]), which run without a thread switch per
//! statement; sqlx for the other writes, each its own transaction.

mod associations;
mod cache;
mod categories;
mod committer;
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
use sqlx::{Row, SqlitePool};
use trove_core::time::{from_millis, to_millis};
use trove_core::{
    Association, Bucket, BucketId, Category, EntityRef, FileId, FileQuery, FileRecord, ListScope,
};
use uuid::Uuid;

use crate::{
    FileChanges, FilePage, MetaError, MetaStore, QueueStats, QueuedBlob, StoredContent, TusUpload,
    UnfinishedQuery, UnfinishedUpload,
};
use rows::{bucket_from_row, map_err};

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
        WHERE file_id = f.id ORDER BY created_at, id) x) AS associations FROM files f";

/// Starts a write transaction holding SQLite's write lock from its first statement. A deferred
/// transaction that reads and then writes must upgrade its lock, and that upgrade fails with
/// `SQLITE_BUSY` at once (no busy timeout applies) when another writer committed since the read.
pub(crate) async fn begin_immediate(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, MetaError> {
    pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)
}

fn bucket_binds<'q>(
    q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    b: &Bucket,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    q.bind(b.id.0.clone())
        .bind(b.cache_control.clone())
        .bind(i64::from(b.download_expiration))
        .bind(b.min_upload_file_size as i64)
        .bind(b.max_upload_file_size as i64)
        .bind(b.presigned_urls_enabled)
        .bind(serde_json::to_string(&b.allowed_mime_types).unwrap_or_else(|_| "[]".into()))
        .bind(b.default_visibility.as_str())
        .bind(to_millis(b.created_at))
        .bind(to_millis(b.updated_at))
}

/// `SELECT {BUCKET_COLUMNS} FROM buckets WHERE id = ?`, built once.
fn bucket_by_id_sql() -> &'static str {
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {BUCKET_COLUMNS} FROM buckets WHERE id = ?"));
    &SQL
}

const INSERT_BUCKET: &str = "INSERT INTO buckets (id, cache_control, download_expiration, min_upload_file_size, \
     max_upload_file_size, presigned_urls_enabled, allowed_mime_types, default_visibility, created_at, updated_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

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

    async fn insert_bucket(&self, bucket: &Bucket) -> Result<(), MetaError> {
        let result = async {
            bucket_binds(sqlx::query(INSERT_BUCKET), bucket)
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(map_err)
        }
        .await;
        self.cache.wrote();
        result
    }

    async fn ensure_bucket(&self, bucket: &Bucket) -> Result<(), MetaError> {
        let result = async {
            match self.insert_bucket(bucket).await {
                Err(MetaError::Conflict(_)) => Ok(()),
                other => other,
            }
        }
        .await;
        self.cache.wrote();
        result
    }

    async fn get_bucket(&self, id: &BucketId) -> Result<Option<Bucket>, MetaError> {
        self.readers.read(|conn| {
            let mut stmt = conn
                .prepare_cached(bucket_by_id_sql())
                .map_err(rows::map_rusqlite_err)?;
            let mut rows = stmt.query([id.as_str()]).map_err(rows::map_rusqlite_err)?;
            match rows.next().map_err(rows::map_rusqlite_err)? {
                Some(r) => bucket_from_row(r, 0).map(Some),
                None => Ok(None),
            }
        })
    }

    async fn list_buckets(&self) -> Result<Vec<Bucket>, MetaError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {BUCKET_COLUMNS} FROM buckets ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?
        .iter()
        .map(|r| bucket_from_row(r, 0))
        .collect()
    }

    async fn update_bucket(&self, b: &Bucket) -> Result<bool, MetaError> {
        let result = async {
            let done = sqlx::query(
                "UPDATE buckets SET cache_control = ?, download_expiration = ?, min_upload_file_size = ?, \
                 max_upload_file_size = ?, presigned_urls_enabled = ?, allowed_mime_types = ?, \
                 default_visibility = ?, updated_at = ? WHERE id = ?",
            )
            .bind(b.cache_control.clone())
            .bind(i64::from(b.download_expiration))
            .bind(b.min_upload_file_size as i64)
            .bind(b.max_upload_file_size as i64)
            .bind(b.presigned_urls_enabled)
            .bind(serde_json::to_string(&b.allowed_mime_types).unwrap_or_else(|_| "[]".into()))
            .bind(b.default_visibility.as_str())
            .bind(to_millis(b.updated_at))
            .bind(b.id.as_str())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        }
        .await;
        self.cache.wrote();
        result
    }

    async fn delete_bucket(&self, id: &BucketId) -> Result<bool, MetaError> {
        let result = async {
            let mut tx = begin_immediate(&self.pool).await?;
            let has_files = sqlx::query("SELECT EXISTS (SELECT 1 FROM files WHERE bucket_id = ?)")
                .bind(id.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?
                .try_get::<bool, _>(0)
                .map_err(map_err)?;
            if has_files {
                return Err(MetaError::Conflict("bucket has files".into()));
            }
            let done = sqlx::query("DELETE FROM buckets WHERE id = ?")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        }
        .await;
        self.cache.wrote();
        result
    }

    async fn bucket_has_files(&self, id: &BucketId) -> Result<bool, MetaError> {
        let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM files WHERE bucket_id = ?)")
            .bind(id.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        row.try_get::<bool, _>(0).map_err(map_err)
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
        let result = async { self.insert(f).await }.await;
        self.cache.wrote();
        result
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
        let result = async { self.update_fields(id, changes, if_match, now).await }.await;
        self.cache.wrote();
        result
    }

    async fn touch_upload(&self, id: FileId, now: DateTime<Utc>) -> Result<bool, MetaError> {
        let result = async { self.touch(id, now).await }.await;
        self.cache.wrote();
        result
    }

    async fn complete_upload(
        &self,
        id: FileId,
        c: &StoredContent,
        now: DateTime<Utc>,
    ) -> Result<FileRecord, MetaError> {
        let result = async { self.complete(id, c, now).await }.await;
        self.cache.wrote();
        result
    }

    async fn replace_content(
        &self,
        id: FileId,
        c: &StoredContent,
        if_match: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(FileRecord, Option<String>), MetaError> {
        let result = async { self.replace(id, c, if_match, now).await }.await;
        self.cache.wrote();
        result
    }

    async fn delete_file(
        &self,
        id: FileId,
        if_match: Option<&str>,
    ) -> Result<Option<(FileRecord, Option<String>)>, MetaError> {
        let result = async {
            self.delete_where(id, files::DeleteGuard::IfMatch(if_match))
                .await
        }
        .await;
        self.cache.wrote();
        result
    }

    async fn delete_stale_upload(
        &self,
        id: FileId,
        stale_before: DateTime<Utc>,
    ) -> Result<Option<(FileRecord, Option<String>)>, MetaError> {
        let result = async {
            self.delete_where(id, files::DeleteGuard::StaleUpload(stale_before))
                .await
        }
        .await;
        self.cache.wrote();
        result
    }

    async fn queue_blob_deletion(&self, key: &str) -> Result<(), MetaError> {
        let result = async {
            let mut tx = begin_immediate(&self.pool).await?;
            queue_deletion(&mut tx, key).await?;
            tx.commit().await.map_err(map_err)
        }
        .await;
        self.cache.wrote();
        result
    }

    async fn blob_deleted(&self, key: &str) -> Result<(), MetaError> {
        let result = async {
            sqlx::query("DELETE FROM blob_deletions WHERE blob_key = ?")
                .bind(key)
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(map_err)
        }
        .await;
        self.cache.wrote();
        result
    }

    async fn due_blob_deletions(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<QueuedBlob>, MetaError> {
        let rows = sqlx::query(
            "SELECT blob_key, attempts FROM blob_deletions WHERE next_attempt_at <= ? \
             ORDER BY next_attempt_at, created_at, blob_key LIMIT ?",
        )
        .bind(to_millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(QueuedBlob {
                    key: r.try_get("blob_key").map_err(map_err)?,
                    attempts: r.try_get::<i64, _>("attempts").map_err(map_err)?.max(0) as u32,
                })
            })
            .collect()
    }

    async fn blob_deletion_failed(
        &self,
        key: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), MetaError> {
        let result = async {
            sqlx::query(
                "UPDATE blob_deletions SET attempts = attempts + 1, next_attempt_at = ? WHERE blob_key = ?",
            )
            .bind(to_millis(retry_at))
            .bind(key)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
        }
        .await;
        self.cache.wrote();
        result
    }

    async fn blob_deletion_stats(&self) -> Result<QueueStats, MetaError> {
        let row = sqlx::query("SELECT COUNT(*), MIN(created_at) FROM blob_deletions")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(QueueStats {
            len: row.try_get::<i64, _>(0).map_err(map_err)?.max(0) as u64,
            oldest: row
                .try_get::<Option<i64>, _>(1)
                .map_err(map_err)?
                .map(from_millis),
        })
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
        let result = async { self.associate(file, entity, now).await }.await;
        self.cache.wrote();
        result
    }

    async fn delete_association(&self, file: FileId, id: Uuid) -> Result<bool, MetaError> {
        let result = async { self.dissociate(file, id).await }.await;
        self.cache.wrote();
        result
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
        let result = async { self.unlink(entity, files).await }.await;
        self.cache.wrote();
        result
    }

    async fn insert_category(&self, category: &Category) -> Result<(), MetaError> {
        let result = async { self.category_insert(category).await }.await;
        self.cache.wrote();
        result
    }

    async fn get_category(&self, key: &str) -> Result<Option<Category>, MetaError> {
        self.category_get(key).await
    }

    async fn list_categories(&self) -> Result<Vec<Category>, MetaError> {
        self.category_list().await
    }

    async fn update_category(&self, category: &Category) -> Result<bool, MetaError> {
        let result = async { self.category_update(category).await }.await;
        self.cache.wrote();
        result
    }

    async fn delete_category(&self, key: &str, force: bool) -> Result<bool, MetaError> {
        let result = async { self.category_delete(key, force).await }.await;
        self.cache.wrote();
        result
    }

    async fn insert_direct_upload(
        &self,
        file: FileId,
        expires_at: DateTime<Utc>,
        fingerprint: Option<&str>,
        length: Option<u64>,
    ) -> Result<(), MetaError> {
        let result = async {
            self.direct_upload_insert(file, expires_at, fingerprint, length)
                .await
        }
        .await;
        self.cache.wrote();
        result
    }

    async fn use_direct_upload(&self, file: FileId) -> Result<bool, MetaError> {
        let result = async { self.direct_upload_use(file).await }.await;
        self.cache.wrote();
        result
    }

    async fn reopen_direct_upload(&self, file: FileId) -> Result<(), MetaError> {
        let result = async { self.direct_upload_reopen(file).await }.await;
        self.cache.wrote();
        result
    }

    async fn cancel_upload(&self, file: FileId, now: DateTime<Utc>) -> Result<bool, MetaError> {
        let result = async { self.cancel(file, now).await }.await;
        self.cache.wrote();
        result
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
        let result = async { self.tus_insert(upload, file).await }.await;
        self.cache.wrote();
        result
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
        let result = async { self.tus_advance(id, from, to, length, now).await }.await;
        self.cache.wrote();
        result
    }

    async fn insert_final_upload(
        &self,
        upload: &TusUpload,
        file: &FileRecord,
        parts: &[FileId],
    ) -> Result<(), MetaError> {
        let result = async { self.tus_insert_final(upload, file, parts).await }.await;
        self.cache.wrote();
        result
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
        let result = async { self.tus_claim(final_id, now, until).await }.await;
        self.cache.wrote();
        result
    }

    async fn delete_tus_upload(&self, id: FileId) -> Result<Option<TusUpload>, MetaError> {
        let result = async { self.tus_delete(id).await }.await;
        self.cache.wrote();
        result
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
        let result = async { self.tus_delete_stale_partial(id, stale_before).await }.await;
        self.cache.wrote();
        result
    }

    async fn unfinished_uploads(
        &self,
        query: &UnfinishedQuery,
    ) -> Result<Vec<UnfinishedUpload>, MetaError> {
        self.unfinished(query).await
    }
}

pub(crate) async fn queue_deletion(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    key: &str,
) -> Result<(), MetaError> {
    sqlx::query(
        "INSERT INTO blob_deletions (blob_key, created_at) VALUES (?, ?) ON CONFLICT (blob_key) DO NOTHING",
    )
    .bind(key)
    .bind(to_millis(trove_core::time::now()))
    .execute(&mut **tx)
    .await
    .map(|_| ())
    .map_err(map_err)
}
