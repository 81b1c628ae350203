//! Direct uploads and clean-up of expired ones on SQLite.

use chrono::{DateTime, Utc};
use trove_core::time::to_millis;
use trove_core::{FileId, FileRecord};

use super::rows::{file_from_row, map_err};
use super::{FILE_SELECT, SqliteMetaStore};
use crate::MetaError;

impl SqliteMetaStore {
    pub(super) async fn direct_upload_insert(
        &self,
        file: FileId,
        expires_at: DateTime<Utc>,
        fingerprint: Option<&str>,
        length: Option<u64>,
    ) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO direct_uploads (file_id, expires_at, state, fingerprint, upload_length) \
             VALUES (?, ?, 'open', ?, ?)",
        )
        .bind(file.to_string())
        .bind(to_millis(expires_at))
        .bind(fingerprint)
        .bind(length.map(|l| l as i64))
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(map_err)
    }

    pub(super) async fn direct_upload_use(&self, file: FileId) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE direct_uploads SET state = 'used' WHERE file_id = ? AND state = 'open'",
        )
        .bind(file.to_string())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn direct_upload_reopen(&self, file: FileId) -> Result<(), MetaError> {
        sqlx::query(
            "UPDATE direct_uploads SET state = 'open' WHERE file_id = ? AND state = 'used' \
             AND EXISTS (SELECT 1 FROM files WHERE id = ? AND status = 'upload_pending')",
        )
        .bind(file.to_string())
        .bind(file.to_string())
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(map_err)
    }

    pub(super) async fn cancel(&self, file: FileId, now: DateTime<Utc>) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE files SET status = 'cancelled', updated_at = ? WHERE id = ? AND status = 'upload_pending'",
        )
        .bind(to_millis(now))
        .bind(file.to_string())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn announced_length(&self, file: FileId) -> Result<Option<u64>, MetaError> {
        let length: Option<Option<i64>> =
            sqlx::query_scalar("SELECT upload_length FROM direct_uploads WHERE file_id = ?")
                .bind(file.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(length.flatten().map(|n| n as u64))
    }

    pub(super) async fn fail(
        &self,
        file: FileId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE files SET status = 'error', status_reason = ?, updated_at = ? \
             WHERE id = ? AND status = 'upload_pending'",
        )
        .bind(reason)
        .bind(to_millis(now))
        .bind(file.to_string())
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
             WHERE f.status IN ('upload_pending', 'cancelled') AND f.updated_at < ? \
             AND (d.file_id IS NULL OR d.expires_at < ?) \
             ORDER BY f.id LIMIT ?"
        ));
        sqlx::query(sql)
            .bind(to_millis(stale_before))
            .bind(to_millis(now))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(file_from_row)
            .collect()
    }
}
