//! Direct uploads and the clean-up of expired uploads on PostgreSQL.

use chrono::{DateTime, Utc};
use trove_core::{FileId, FileRecord};

use super::PgMetaStore;
use super::rows::{FILE_SELECT, big, files_from, map_err, ms};
use crate::MetaError;

impl PgMetaStore {
    pub(super) async fn direct_upload_insert(
        &self,
        file: FileId,
        expires_at: DateTime<Utc>,
        fingerprint: Option<&str>,
        length: Option<u64>,
    ) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO direct_uploads (file_id, expires_at, state, fingerprint, upload_length) \
             VALUES ($1, $2, 'open', $3, $4)",
        )
        .bind(file.0)
        .bind(ms(expires_at))
        .bind(fingerprint)
        .bind(length.map(big))
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(map_err)
    }

    /// Single use across nodes: the conditional update lets exactly one request through.
    pub(super) async fn direct_upload_use(&self, file: FileId) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE direct_uploads SET state = 'used' WHERE file_id = $1 AND state = 'open'",
        )
        .bind(file.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn direct_upload_reopen(&self, file: FileId) -> Result<(), MetaError> {
        sqlx::query(
            "UPDATE direct_uploads SET state = 'open' WHERE file_id = $1 AND state = 'used' \
             AND EXISTS (SELECT 1 FROM files WHERE id = $1 AND status = 'upload_pending')",
        )
        .bind(file.0)
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(map_err)
    }

    pub(super) async fn cancel(&self, file: FileId, now: DateTime<Utc>) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE files SET status = 'cancelled', updated_at = $1 \
             WHERE id = $2 AND status = 'upload_pending'",
        )
        .bind(ms(now))
        .bind(file.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn announced_length(&self, file: FileId) -> Result<Option<u64>, MetaError> {
        let length: Option<Option<i64>> =
            sqlx::query_scalar("SELECT upload_length FROM direct_uploads WHERE file_id = $1")
                .bind(file.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(length.flatten().map(|n| n.max(0) as u64))
    }

    pub(super) async fn fail(
        &self,
        file: FileId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE files SET status = 'error', status_reason = $1, updated_at = $2 \
             WHERE id = $3 AND status = 'upload_pending'",
        )
        .bind(reason)
        .bind(ms(now))
        .bind(file.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn expired(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FileRecord>, MetaError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{FILE_SELECT} LEFT JOIN direct_uploads d ON d.file_id = f.id \
             WHERE f.status IN ('upload_pending', 'cancelled') AND f.updated_at < $1 \
             AND (d.file_id IS NULL OR d.expires_at < $2) \
             ORDER BY f.id LIMIT $3"
        ));
        let rows = sqlx::query(sql)
            .bind(ms(stale_before))
            .bind(ms(now))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        files_from(&rows)
    }
}
