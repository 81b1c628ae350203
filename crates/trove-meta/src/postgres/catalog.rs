//! Buckets, categories, associations and the blob deletion queue on PostgreSQL.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Row};
use trove_core::{
    Association, Bucket, BucketId, Category, EntityRef, FileId, FileRecord, ListScope,
};
use uuid::Uuid;

use super::PgMetaStore;
use super::list::push_scope;
use super::rows::{
    BUCKET_COLUMNS, CATEGORY_COLUMNS, FILE_SELECT, bucket_from_row, category_from_row, files_from,
    map_err, ms,
};
use crate::{BucketUsage, MetaError, QueueStats, QueuedBlob};

/// Queues a blob for deletion, on the pool or in the transaction that stops referencing it.
pub(super) async fn queue_deletion<'e>(
    ex: impl sqlx::PgExecutor<'e>,
    key: &str,
) -> Result<(), MetaError> {
    sqlx::query(
        "INSERT INTO blob_deletions (blob_key, created_at) VALUES ($1, $2) \
         ON CONFLICT (blob_key) DO NOTHING",
    )
    .bind(key)
    .bind(ms(trove_core::time::now()))
    .execute(ex)
    .await
    .map(|_| ())
    .map_err(map_err)
}

impl PgMetaStore {
    /// Inserts a bucket; with `ensure`, an existing one with the same id is left as it is.
    pub(super) async fn bucket_insert(&self, b: &Bucket, ensure: bool) -> Result<(), MetaError> {
        const INSERT: &str = "INSERT INTO buckets (id, cache_control, download_expiration, \
             min_upload_file_size, max_upload_file_size, presigned_urls_enabled, \
             allowed_mime_types, default_visibility, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        let sql = match ensure {
            false => INSERT.to_owned(),
            true => format!("{INSERT} ON CONFLICT (id) DO NOTHING"),
        };
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(b.id.as_str())
            .bind(&b.cache_control)
            .bind(i64::from(b.download_expiration))
            .bind(super::rows::big(b.min_upload_file_size))
            .bind(super::rows::big(b.max_upload_file_size))
            .bind(b.presigned_urls_enabled)
            .bind(Json(&b.allowed_mime_types))
            .bind(b.default_visibility.as_str())
            .bind(ms(b.created_at))
            .bind(ms(b.updated_at))
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    pub(super) async fn bucket_get(&self, id: &BucketId) -> Result<Option<Bucket>, MetaError> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!("SELECT {BUCKET_COLUMNS} FROM buckets WHERE id = $1")
        });
        sqlx::query(sqlx::AssertSqlSafe(SQL.as_str()))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(|r| bucket_from_row(&r, 0))
            .transpose()
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
            "UPDATE buckets SET cache_control = $1, download_expiration = $2, \
             min_upload_file_size = $3, max_upload_file_size = $4, presigned_urls_enabled = $5, \
             allowed_mime_types = $6, default_visibility = $7, updated_at = $8 WHERE id = $9",
        )
        .bind(&b.cache_control)
        .bind(i64::from(b.download_expiration))
        .bind(super::rows::big(b.min_upload_file_size))
        .bind(super::rows::big(b.max_upload_file_size))
        .bind(b.presigned_urls_enabled)
        .bind(Json(&b.allowed_mime_types))
        .bind(b.default_visibility.as_str())
        .bind(ms(b.updated_at))
        .bind(b.id.as_str())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn bucket_delete(&self, id: &BucketId) -> Result<bool, MetaError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        // Locking the bucket row first makes a file insert into it (which must take a share lock
        // on it for its foreign key) wait until this deletion is decided.
        let exists: Option<String> =
            sqlx::query_scalar("SELECT id FROM buckets WHERE id = $1 FOR UPDATE")
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
        if exists.is_none() {
            return Ok(false);
        }
        let has_files: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM files WHERE bucket_id = $1)")
                .bind(id.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
        if has_files {
            return Err(MetaError::Conflict("bucket has files".into()));
        }
        let done = sqlx::query("DELETE FROM buckets WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn bucket_has_any_file(&self, id: &BucketId) -> Result<bool, MetaError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM files WHERE bucket_id = $1)")
            .bind(id.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)
    }

    pub(super) async fn usage_per_bucket(&self) -> Result<Vec<BucketUsage>, MetaError> {
        let rows = sqlx::query(
            "SELECT bucket_id, COUNT(*), \
             COALESCE(SUM(size) FILTER (WHERE status = 'ready'), 0)::bigint \
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

    pub(super) async fn category_insert(&self, c: &Category) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO categories (key, name, bucket_id, max_size, allowed_mime_types, \
             default_visibility, default_access, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&c.key)
        .bind(&c.name)
        .bind(c.bucket_id.as_ref().map(|b| b.as_str()))
        .bind(c.max_size.map(super::rows::big))
        .bind(Json(&c.allowed_mime_types))
        .bind(c.default_visibility.map(|v| v.as_str()))
        .bind(c.default_access.map(|a| a.as_str()))
        .bind(ms(c.created_at))
        .bind(ms(c.updated_at))
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(map_err)
    }

    pub(super) async fn category_get(&self, key: &str) -> Result<Option<Category>, MetaError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CATEGORY_COLUMNS} FROM categories WHERE key = $1"
        )))
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|r| category_from_row(&r))
        .transpose()
    }

    pub(super) async fn category_list(&self) -> Result<Vec<Category>, MetaError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CATEGORY_COLUMNS} FROM categories ORDER BY key"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?
        .iter()
        .map(category_from_row)
        .collect()
    }

    pub(super) async fn category_update(&self, c: &Category) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE categories SET name = $1, bucket_id = $2, max_size = $3, \
             allowed_mime_types = $4, default_visibility = $5, default_access = $6, \
             updated_at = $7 WHERE key = $8",
        )
        .bind(&c.name)
        .bind(c.bucket_id.as_ref().map(|b| b.as_str()))
        .bind(c.max_size.map(super::rows::big))
        .bind(Json(&c.allowed_mime_types))
        .bind(c.default_visibility.map(|v| v.as_str()))
        .bind(c.default_access.map(|a| a.as_str()))
        .bind(ms(c.updated_at))
        .bind(&c.key)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn category_delete(&self, key: &str, force: bool) -> Result<bool, MetaError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT key FROM categories WHERE key = $1 FOR UPDATE")
                .bind(key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
        if exists.is_none() {
            return Ok(false);
        }
        if force {
            sqlx::query("UPDATE files SET category = NULL WHERE category = $1")
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        } else {
            let used: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM files WHERE category = $1)")
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(map_err)?;
            if used {
                return Err(MetaError::Conflict("category in use".into()));
            }
        }
        let done = sqlx::query("DELETE FROM categories WHERE key = $1")
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn associate(
        &self,
        file: FileId,
        e: &EntityRef,
        now: DateTime<Utc>,
    ) -> Result<(Association, bool), MetaError> {
        // One statement: the new row, or the existing one (a concurrent insert of the same pair
        // makes one of the two new and the other find it).
        let row = sqlx::query(
            "WITH ins AS (INSERT INTO file_associations (id, file_id, entity_name, entity_reference, \
               created_at) VALUES ($1, $2, $3, $4, $5) \
               ON CONFLICT (file_id, entity_name, entity_reference) DO NOTHING \
               RETURNING id, created_at) \
             SELECT id, created_at, true FROM ins \
             UNION ALL \
             SELECT id, created_at, false FROM file_associations \
               WHERE file_id = $2 AND entity_name = $3 AND entity_reference = $4 \
               AND NOT EXISTS (SELECT 1 FROM ins)",
        )
        .bind(Uuid::now_v7())
        .bind(file.0)
        .bind(&e.entity_name)
        .bind(&e.entity_reference)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        let row = match row {
            Some(row) => row,
            // The pair was inserted by a transaction that committed after our statement's
            // snapshot: read it now.
            None => sqlx::query(
                "SELECT id, created_at, false FROM file_associations \
                 WHERE file_id = $1 AND entity_name = $2 AND entity_reference = $3",
            )
            .bind(file.0)
            .bind(&e.entity_name)
            .bind(&e.entity_reference)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?,
        };
        Ok((
            Association {
                id: row.try_get(0).map_err(map_err)?,
                file_id: file,
                entity_name: e.entity_name.clone(),
                entity_reference: e.entity_reference.clone(),
                created_at: row.try_get(1).map_err(map_err)?,
            },
            row.try_get(2).map_err(map_err)?,
        ))
    }

    pub(super) async fn dissociate(&self, file: FileId, id: Uuid) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM file_associations WHERE id = $1 AND file_id = $2")
            .bind(id)
            .bind(file.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn entity_files(
        &self,
        e: &EntityRef,
        scope: &ListScope,
        after: Option<FileId>,
        limit: u32,
    ) -> Result<Vec<FileRecord>, MetaError> {
        // The object's links in file order, kept when in scope: the cost is the object's links,
        // never the size of the caller's scope.
        let columns = FILE_SELECT
            .strip_suffix(" FROM files f")
            .ok_or_else(|| MetaError::Backend("FILE_SELECT changed shape".into()))?;
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "{columns} FROM file_associations l JOIN files f ON f.id = l.file_id WHERE l.entity_name = "
        ));
        qb.push_bind(e.entity_name.clone())
            .push(" AND l.entity_reference = ")
            .push_bind(e.entity_reference.clone())
            .push(" AND l.file_id > ")
            .push_bind(after.map(|a| a.0).unwrap_or(Uuid::nil()));
        push_scope(&mut qb, scope);
        qb.push(" ORDER BY l.file_id LIMIT ")
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.pool).await.map_err(map_err)?;
        files_from(&rows)
    }

    pub(super) async fn unlink(&self, e: &EntityRef, files: &[FileId]) -> Result<u64, MetaError> {
        let ids: Vec<Uuid> = files.iter().map(|f| f.0).collect();
        let done = sqlx::query(
            "DELETE FROM file_associations WHERE entity_name = $1 AND entity_reference = $2 \
             AND file_id = ANY($3)",
        )
        .bind(&e.entity_name)
        .bind(&e.entity_reference)
        .bind(&ids)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    pub(super) async fn deletion_done(&self, key: &str) -> Result<(), MetaError> {
        sqlx::query("DELETE FROM blob_deletions WHERE blob_key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    pub(super) async fn deletion_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<QueuedBlob>, MetaError> {
        let rows = sqlx::query(
            "SELECT blob_key, attempts FROM blob_deletions WHERE next_attempt_at <= $1 \
             ORDER BY next_attempt_at, created_at, blob_key LIMIT $2",
        )
        .bind(ms(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(QueuedBlob {
                    key: r.try_get(0).map_err(map_err)?,
                    attempts: r.try_get::<i32, _>(1).map_err(map_err)?.max(0) as u32,
                })
            })
            .collect()
    }

    pub(super) async fn deletion_failed(
        &self,
        key: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), MetaError> {
        sqlx::query(
            "UPDATE blob_deletions SET attempts = attempts + 1, next_attempt_at = $1 \
             WHERE blob_key = $2",
        )
        .bind(ms(retry_at))
        .bind(key)
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(map_err)
    }

    pub(super) async fn deletion_stats(&self) -> Result<QueueStats, MetaError> {
        let row = sqlx::query("SELECT COUNT(*), MIN(created_at) FROM blob_deletions")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(QueueStats {
            len: row.try_get::<i64, _>(0).map_err(map_err)?.max(0) as u64,
            oldest: row.try_get(1).map_err(map_err)?,
        })
    }

    pub(super) async fn lease_take(
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
        .bind(ms(until))
        .bind(ms(now))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn lease_release(&self, name: &str, holder: &str) -> Result<(), MetaError> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    pub(super) async fn lease_prune(&self, lapsed_before: DateTime<Utc>) -> Result<u64, MetaError> {
        sqlx::query("DELETE FROM leases WHERE until < $1")
            .bind(ms(lapsed_before))
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(map_err)
    }
}
