//! tus uploads and the listing of unfinished uploads on PostgreSQL. An upload's offset moves only
//! by a conditional update from the offset the request started at, so two nodes writing the same
//! upload can never both advance it.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use trove_core::{FileId, FileRecord};
use uuid::Uuid;

use super::PgMetaStore;
use super::rows::{
    FILE_COLUMNS, FILE_SELECT, TUS_COLUMNS, big, file_from_row, map_err, ms, tus_from_row, tus_rows,
};
use crate::{MetaError, TusKind, TusUpload, UnfinishedQuery, UnfinishedUpload, UploadProtocol};

async fn insert_on(
    conn: &mut PgConnection,
    u: &TusUpload,
    file: Option<FileId>,
) -> Result<(), MetaError> {
    sqlx::query(
        "INSERT INTO tus_uploads (id, file_id, kind, owner_user_id, tenant_id, upload_offset, \
         upload_length, metadata, fingerprint, concat, final_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(u.id.0)
    .bind(file.map(|f| f.0))
    .bind(u.kind.as_str())
    .bind(u.owner.as_ref().map(|o| o.0.as_str()))
    .bind(u.tenant.as_ref().map(|t| t.0.as_str()))
    .bind(big(u.offset))
    .bind(u.length.map(big))
    .bind(u.metadata.as_deref())
    .bind(u.fingerprint.as_deref())
    .bind(u.concat.as_deref())
    .bind(u.final_id.map(|f| f.0))
    .bind(ms(u.created_at))
    .bind(ms(u.updated_at))
    .execute(&mut *conn)
    .await
    .map(|_| ())
    .map_err(map_err)
}

impl PgMetaStore {
    pub(super) async fn tus_insert(
        &self,
        u: &TusUpload,
        file: Option<&FileRecord>,
    ) -> Result<(), MetaError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        if let Some(f) = file {
            super::files::insert_on(&mut tx, f).await?;
        }
        insert_on(&mut tx, u, file.map(|f| f.id)).await?;
        tx.commit().await.map_err(map_err)
    }

    pub(super) async fn tus_insert_final(
        &self,
        u: &TusUpload,
        file: &FileRecord,
        parts: &[FileId],
    ) -> Result<(), MetaError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        super::files::insert_on(&mut tx, file).await?;
        insert_on(&mut tx, u, Some(file.id)).await?;
        for part in parts {
            let linked = sqlx::query(
                "UPDATE tus_uploads SET final_id = $1 WHERE id = $2 AND kind = 'partial' \
                 AND final_id IS NULL",
            )
            .bind(u.id.0)
            .bind(part.0)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            if linked.rows_affected() != 1 {
                // Dropping the transaction rolls everything back.
                return Err(MetaError::Conflict(format!(
                    "partial upload {part} is not available for concatenation"
                )));
            }
        }
        tx.commit().await.map_err(map_err)
    }

    pub(super) async fn tus_parts(&self, final_id: FileId) -> Result<Vec<TusUpload>, MetaError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TUS_COLUMNS} FROM tus_uploads WHERE final_id = $1"
        )))
        .bind(final_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        tus_rows(&rows)
    }

    pub(super) async fn tus_claim(
        &self,
        final_id: FileId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE tus_uploads SET claimed_until = $1 WHERE id = $2 AND kind = 'final' \
             AND (claimed_until IS NULL OR claimed_until < $3)",
        )
        .bind(ms(until))
        .bind(final_id.0)
        .bind(ms(now))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn tus_get(&self, id: FileId) -> Result<Option<TusUpload>, MetaError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TUS_COLUMNS} FROM tus_uploads WHERE id = $1"
        )))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|r| tus_from_row(&r, 0))
        .transpose()
    }

    pub(super) async fn tus_advance(
        &self,
        id: FileId,
        from: u64,
        to: u64,
        length: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<bool, MetaError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let final_id: Option<Option<Uuid>> = sqlx::query_scalar(
            "UPDATE tus_uploads SET upload_offset = $1, \
             upload_length = COALESCE(upload_length, $2), updated_at = $3 \
             WHERE id = $4 AND upload_offset = $5 RETURNING final_id",
        )
        .bind(big(to))
        .bind(length.map(big))
        .bind(ms(now))
        .bind(id.0)
        .bind(big(from))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let Some(final_id) = final_id else {
            return Ok(false);
        };
        // The pending file's row is the upload's lease for the clean-up of pending files; a
        // part's progress is its final upload's too.
        sqlx::query(
            "UPDATE files SET updated_at = $1 WHERE status = 'upload_pending' \
             AND (id = $2 OR id = $3)",
        )
        .bind(ms(now))
        .bind(id.0)
        .bind(final_id)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if let Some(final_id) = final_id {
            sqlx::query("UPDATE tus_uploads SET updated_at = $1 WHERE id = $2")
                .bind(ms(now))
                .bind(final_id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    pub(super) async fn tus_delete(&self, id: FileId) -> Result<Option<TusUpload>, MetaError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM tus_uploads WHERE id = $1 RETURNING {TUS_COLUMNS}"
        )))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|r| tus_from_row(&r, 0))
        .transpose()
    }

    pub(super) async fn tus_stale_partials(
        &self,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<TusUpload>, MetaError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TUS_COLUMNS} FROM tus_uploads WHERE kind = 'partial' AND updated_at < $1 \
             ORDER BY updated_at LIMIT $2"
        )))
        .bind(ms(stale_before))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        tus_rows(&rows)
    }

    pub(super) async fn tus_delete_stale_partial(
        &self,
        id: FileId,
        stale_before: DateTime<Utc>,
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "DELETE FROM tus_uploads WHERE id = $1 AND kind = 'partial' AND updated_at < $2",
        )
        .bind(id.0)
        .bind(ms(stale_before))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn unfinished(
        &self,
        q: &UnfinishedQuery,
    ) -> Result<Vec<UnfinishedUpload>, MetaError> {
        // The upload's columns follow the file's, which `file_from_row` reads by position.
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(FILE_SELECT.replacen(
            " FROM files f",
            ", t.id, t.kind, t.upload_offset, t.upload_length, t.fingerprint, t.updated_at, \
             d.expires_at, d.upload_length, d.fingerprint FROM files f",
            1,
        ));
        qb.push(
            " LEFT JOIN tus_uploads t ON t.file_id = f.id \
             LEFT JOIN direct_uploads d ON d.file_id = f.id \
             WHERE f.status = 'upload_pending' AND (",
        );
        let tus = |qb: &mut QueryBuilder<Postgres>| {
            qb.push("(t.id IS NOT NULL AND t.updated_at >= ")
                .push_bind(ms(q.stale_before))
                .push(")");
        };
        let direct = |qb: &mut QueryBuilder<Postgres>| {
            qb.push("(d.file_id IS NOT NULL AND d.expires_at > ")
                .push_bind(ms(q.now))
                .push(")");
        };
        match q.protocol {
            Some(UploadProtocol::Tus) => tus(&mut qb),
            Some(UploadProtocol::Direct) => direct(&mut qb),
            None => {
                tus(&mut qb);
                qb.push(" OR ");
                direct(&mut qb);
            }
        }
        qb.push(")");
        if let Some(user) = &q.uploaded_by {
            qb.push(" AND f.uploaded_by_user_id = ")
                .push_bind(user.0.clone());
        }
        match &q.tenant {
            Some(Some(t)) => {
                qb.push(" AND f.tenant_id = ").push_bind(t.0.clone());
            }
            Some(None) => {
                qb.push(" AND f.tenant_id IS NULL");
            }
            None => {}
        }
        if let Some(fp) = &q.fingerprint {
            qb.push(" AND COALESCE(t.fingerprint, d.fingerprint) = ")
                .push_bind(fp.clone());
        }
        if let Some(b) = &q.bucket_id {
            qb.push(" AND f.bucket_id = ").push_bind(b.0.clone());
        }
        if let Some((created, id)) = &q.before {
            qb.push(" AND (f.created_at, f.id) < (")
                .push_bind(ms(*created))
                .push(", ")
                .push_bind(id.0)
                .push(")");
        }
        qb.push(" ORDER BY f.created_at DESC, f.id DESC LIMIT ")
            .push_bind(i64::from(q.limit));
        let rows = qb.build().fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(unfinished_from_row).collect()
    }
}

fn unfinished_from_row(r: &PgRow) -> Result<UnfinishedUpload, MetaError> {
    let file = file_from_row(r)?;
    let at = FILE_COLUMNS;
    let col = |i: usize| -> Result<Option<i64>, MetaError> { r.try_get(at + i).map_err(map_err) };
    let tus: Option<Uuid> = r.try_get(at).map_err(map_err)?;
    if tus.is_some() {
        let kind: Option<String> = r.try_get(at + 1).map_err(map_err)?;
        Ok(UnfinishedUpload {
            file,
            protocol: UploadProtocol::Tus,
            is_final: kind.as_deref() == Some(TusKind::Final.as_str()),
            offset: col(2)?.unwrap_or(0).max(0) as u64,
            length: col(3)?.map(|l| l.max(0) as u64),
            last_progress: r.try_get(at + 5).map_err(map_err)?,
            url_expires_at: None,
            fingerprint: r.try_get(at + 4).map_err(map_err)?,
        })
    } else {
        Ok(UnfinishedUpload {
            file,
            protocol: UploadProtocol::Direct,
            is_final: false,
            offset: 0,
            length: col(7)?.map(|l| l.max(0) as u64),
            last_progress: None,
            url_expires_at: r.try_get(at + 6).map_err(map_err)?,
            fingerprint: r.try_get(at + 8).map_err(map_err)?,
        })
    }
}
