//! Buckets on SQLite.

use sqlx::Row;
use trove_core::time::to_millis;
use trove_core::{Bucket, BucketId};

use super::rows::{bucket_from_row, map_err, map_rusqlite_err};
use super::{BUCKET_COLUMNS, SqliteMetaStore, begin_immediate};
use crate::{BucketUsage, MetaError};

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

impl SqliteMetaStore {
    pub(super) async fn bucket_insert(&self, bucket: &Bucket) -> Result<(), MetaError> {
        bucket_binds(sqlx::query(INSERT_BUCKET), bucket)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    pub(super) async fn bucket_get(&self, id: &BucketId) -> Result<Option<Bucket>, MetaError> {
        self.readers.read(|conn| {
            let mut stmt = conn
                .prepare_cached(bucket_by_id_sql())
                .map_err(map_rusqlite_err)?;
            let mut rows = stmt.query([id.as_str()]).map_err(map_rusqlite_err)?;
            match rows.next().map_err(map_rusqlite_err)? {
                Some(r) => bucket_from_row(r, 0).map(Some),
                None => Ok(None),
            }
        })
    }

    pub(super) async fn bucket_list(&self) -> Result<Vec<Bucket>, MetaError> {
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

    pub(super) async fn bucket_update(&self, b: &Bucket) -> Result<bool, MetaError> {
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

    pub(super) async fn bucket_delete(&self, id: &BucketId) -> Result<bool, MetaError> {
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

    pub(super) async fn bucket_has_any_file(&self, id: &BucketId) -> Result<bool, MetaError> {
        let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM files WHERE bucket_id = ?)")
            .bind(id.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        row.try_get::<bool, _>(0).map_err(map_err)
    }

    pub(super) async fn usage_per_bucket(&self) -> Result<Vec<BucketUsage>, MetaError> {
        let rows = sqlx::query(
            "SELECT bucket_id, COUNT(*), COALESCE(SUM(CASE WHEN status = 'ready' THEN size ELSE 0 END), 0) \
             FROM files GROUP BY bucket_id ORDER BY bucket_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(BucketUsage {
                    bucket_id: BucketId(r.try_get(0).map_err(map_err)?),
                    files: r.try_get::<i64, _>(1).map_err(map_err)?.max(0) as u64,
                    bytes: r.try_get::<i64, _>(2).map_err(map_err)?.max(0) as u64,
                })
            })
            .collect()
    }
}
