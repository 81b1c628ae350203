//! SQLite implementation of [`MetaStore`], the embedded default.
//!
//! WAL journal with `synchronous = FULL`: a commit is on disk before it returns, so a file row that
//! says `ready` survives a crash or power loss. Readers never block the single writer.

mod rows;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use trove_core::time::to_millis;
use trove_core::{Bucket, BucketId, FileId, FileRecord, FileStatus};

use crate::{MetaError, MetaStore, StoredContent};
use rows::{bucket_from_prefixed_row, bucket_from_row, file_from_row, map_err};

/// The SQLite metadata store.
#[derive(Debug, Clone)]
pub struct SqliteMetaStore {
    pool: SqlitePool,
}

const FILE_COLUMNS: &str = "id, bucket_id, name, mime_type, size, etag, status, metadata, visibility, access, \
     tenant_id, uploaded_by_user_id, checksum_sha256, revision, created_at, updated_at";

impl SqliteMetaStore {
    /// Opens (creating if needed) the database at a `sqlite://` URL and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self, MetaError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(map_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options)
            .await
            .map_err(map_err)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| MetaError::Backend(e.to_string()))?;
        Ok(Self { pool })
    }

    /// A fresh in-memory database, for tests.
    pub async fn in_memory() -> Result<Self, MetaError> {
        // One connection: each in-memory connection would otherwise be its own database.
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(map_err)?
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(map_err)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| MetaError::Backend(e.to_string()))?;
        Ok(Self { pool })
    }

    async fn fetch_file(&self, id: FileId) -> Result<Option<FileRecord>, MetaError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {FILE_COLUMNS} FROM files WHERE id = ?"));
        sqlx::query(sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(|r| file_from_row(&r))
            .transpose()
    }
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

const INSERT_BUCKET: &str = "INSERT INTO buckets (id, cache_control, download_expiration, min_upload_file_size, \
     max_upload_file_size, presigned_urls_enabled, allowed_mime_types, default_visibility, created_at, updated_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

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
        bucket_binds(sqlx::query(INSERT_BUCKET), bucket)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    async fn ensure_bucket(&self, bucket: &Bucket) -> Result<(), MetaError> {
        match self.insert_bucket(bucket).await {
            Err(MetaError::Conflict(_)) => Ok(()),
            other => other,
        }
    }

    async fn get_bucket(&self, id: &BucketId) -> Result<Option<Bucket>, MetaError> {
        sqlx::query("SELECT * FROM buckets WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(|r| bucket_from_row(&r))
            .transpose()
    }

    async fn list_buckets(&self) -> Result<Vec<Bucket>, MetaError> {
        sqlx::query("SELECT * FROM buckets ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(bucket_from_row)
            .collect()
    }

    async fn update_bucket(&self, b: &Bucket) -> Result<bool, MetaError> {
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

    async fn delete_bucket(&self, id: &BucketId) -> Result<bool, MetaError> {
        if self.bucket_has_files(id).await? {
            return Err(MetaError::Conflict("bucket has files".into()));
        }
        let done = sqlx::query("DELETE FROM buckets WHERE id = ?")
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
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
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE bucket_id = ? AND id > ? ORDER BY id LIMIT ?"
        ));
        sqlx::query(sql)
            .bind(id.as_str())
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(file_from_row)
            .collect()
    }

    async fn insert_file(&self, f: &FileRecord) -> Result<(), MetaError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO files ({FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ));
        sqlx::query(sql)
            .bind(f.id.to_string())
            .bind(f.bucket_id.as_str())
            .bind(f.name.as_str())
            .bind(f.mime_type.as_str())
            .bind(f.size as i64)
            .bind(f.etag.as_str())
            .bind(f.status.as_str())
            .bind(f.metadata.to_string())
            .bind(f.visibility.as_str())
            .bind(f.access.as_str())
            .bind(f.tenant_id.as_ref().map(|t| t.0.clone()))
            .bind(f.uploaded_by_user_id.as_ref().map(|u| u.0.clone()))
            .bind(f.checksum_sha256.clone())
            .bind(f.revision.map(|r| r.to_string()))
            .bind(to_millis(f.created_at))
            .bind(to_millis(f.updated_at))
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    async fn get_file(&self, id: FileId) -> Result<Option<FileRecord>, MetaError> {
        self.fetch_file(id).await
    }

    async fn get_file_with_bucket(
        &self,
        id: FileId,
    ) -> Result<Option<(FileRecord, Bucket)>, MetaError> {
        let row = sqlx::query(
            "SELECT f.id, f.bucket_id, f.name, f.mime_type, f.size, f.etag, f.status, f.metadata, \
             f.visibility, f.access, f.tenant_id, f.uploaded_by_user_id, f.checksum_sha256, f.revision, \
             f.created_at, f.updated_at, b.id AS b_id, b.cache_control AS b_cache_control, \
             b.download_expiration AS b_download_expiration, \
             b.min_upload_file_size AS b_min_upload_file_size, \
             b.max_upload_file_size AS b_max_upload_file_size, \
             b.presigned_urls_enabled AS b_presigned_urls_enabled, \
             b.allowed_mime_types AS b_allowed_mime_types, \
             b.default_visibility AS b_default_visibility, b.created_at AS b_created_at, \
             b.updated_at AS b_updated_at \
             FROM files f JOIN buckets b ON b.id = f.bucket_id WHERE f.id = ?",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some((file_from_row(&r)?, bucket_from_prefixed_row(&r, "b_")?))),
        }
    }

    async fn update_file_fields(&self, f: &FileRecord) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE files SET name = ?, metadata = ?, visibility = ?, access = ?, updated_at = ? WHERE id = ?",
        )
        .bind(f.name.as_str())
        .bind(f.metadata.to_string())
        .bind(f.visibility.as_str())
        .bind(f.access.as_str())
        .bind(to_millis(f.updated_at))
        .bind(f.id.to_string())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn complete_upload(
        &self,
        id: FileId,
        c: &StoredContent,
        now: DateTime<Utc>,
    ) -> Result<FileRecord, MetaError> {
        let done = sqlx::query(
            "UPDATE files SET status = 'ready', size = ?, mime_type = ?, checksum_sha256 = ?, etag = ?, \
             updated_at = ? WHERE id = ? AND status = 'upload_pending' AND revision = ?",
        )
        .bind(c.size as i64)
        .bind(c.mime_type.as_str())
        .bind(c.checksum_sha256.as_str())
        .bind(c.etag.as_str())
        .bind(to_millis(now))
        .bind(id.to_string())
        .bind(c.revision.to_string())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if done.rows_affected() != 1 {
            return Err(MetaError::Stale(format!("file {id} is no longer pending")));
        }
        self.fetch_file(id)
            .await?
            .ok_or_else(|| MetaError::Stale(format!("file {id} vanished")))
    }

    async fn replace_content(
        &self,
        id: FileId,
        c: &StoredContent,
        now: DateTime<Utc>,
    ) -> Result<(FileRecord, Option<String>), MetaError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let sql = sqlx::AssertSqlSafe(format!("SELECT {FILE_COLUMNS} FROM files WHERE id = ?"));
        let Some(old) = sqlx::query(sql)
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?
            .map(|r| file_from_row(&r))
            .transpose()?
        else {
            return Err(MetaError::Stale(format!("file {id} vanished")));
        };
        if old.status != FileStatus::Ready {
            return Err(MetaError::Stale(format!("file {id} is not ready")));
        }
        sqlx::query(
            "UPDATE files SET size = ?, mime_type = ?, checksum_sha256 = ?, etag = ?, revision = ?, \
             updated_at = ? WHERE id = ?",
        )
        .bind(c.size as i64)
        .bind(c.mime_type.as_str())
        .bind(c.checksum_sha256.as_str())
        .bind(c.etag.as_str())
        .bind(c.revision.to_string())
        .bind(to_millis(now))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let old_key = old.current_blob_key();
        if let Some(key) = &old_key {
            queue_deletion(&mut tx, key).await?;
        }
        tx.commit().await.map_err(map_err)?;
        let new = self
            .fetch_file(id)
            .await?
            .ok_or_else(|| MetaError::Stale(format!("file {id} vanished")))?;
        Ok((new, old_key))
    }

    async fn delete_file(
        &self,
        id: FileId,
    ) -> Result<Option<(FileRecord, Option<String>)>, MetaError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let sql = sqlx::AssertSqlSafe(format!(
            "DELETE FROM files WHERE id = ? RETURNING {FILE_COLUMNS}"
        ));
        let Some(row) = sqlx::query(sql)
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?
        else {
            return Ok(None);
        };
        let file = file_from_row(&row)?;
        let key = file.current_blob_key();
        if let Some(key) = &key {
            queue_deletion(&mut tx, key).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(Some((file, key)))
    }

    async fn queue_blob_deletion(&self, key: &str) -> Result<(), MetaError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        queue_deletion(&mut tx, key).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn blob_deleted(&self, key: &str) -> Result<(), MetaError> {
        sqlx::query("DELETE FROM blob_deletions WHERE blob_key = ?")
            .bind(key)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    async fn pending_blob_deletions(&self, limit: u32) -> Result<Vec<String>, MetaError> {
        let rows = sqlx::query(
            "UPDATE blob_deletions SET attempts = attempts + 1 WHERE blob_key IN \
             (SELECT blob_key FROM blob_deletions ORDER BY created_at LIMIT ?) RETURNING blob_key",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(map_err))
            .collect()
    }
}

async fn queue_deletion(
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
