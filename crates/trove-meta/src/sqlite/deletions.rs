//! The blob deletion queue on SQLite.

use chrono::{DateTime, Utc};
use sqlx::Row;
use trove_core::time::{from_millis, to_millis};

use super::rows::map_err;
use super::{SqliteMetaStore, begin_immediate};
use crate::{MetaError, QueueStats, QueuedBlob};

impl SqliteMetaStore {
    pub(super) async fn deletion_queue(&self, key: &str) -> Result<(), MetaError> {
        let mut tx = begin_immediate(&self.pool).await?;
        queue_deletion(&mut tx, key).await?;
        tx.commit().await.map_err(map_err)
    }

    pub(super) async fn deletion_done(&self, key: &str) -> Result<(), MetaError> {
        sqlx::query("DELETE FROM blob_deletions WHERE blob_key = ?")
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

    pub(super) async fn deletion_failed(
        &self,
        key: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), MetaError> {
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

    pub(super) async fn deletion_stats(&self) -> Result<QueueStats, MetaError> {
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
