//! tus uploads and the listing of unfinished uploads on SQLite.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use trove_core::time::{from_millis, to_millis};
use trove_core::{FileId, FileRecord, TenantId, UserId};

use super::rows::{file_from_row, map_err};
use super::{FILE_SELECT, SqliteMetaStore, begin_immediate};
use crate::{MetaError, TusKind, TusUpload, UnfinishedQuery, UnfinishedUpload, UploadProtocol};

const TUS_COLUMNS: &str = "id, kind, owner_user_id, tenant_id, upload_offset, upload_length, \
     metadata, fingerprint, concat, final_id, created_at, updated_at";

fn tus_rows(rows: &[SqliteRow]) -> Result<Vec<TusUpload>, MetaError> {
    rows.iter().map(tus_from_row).collect()
}

fn tus_from_row(r: &SqliteRow) -> Result<TusUpload, MetaError> {
    let corrupt = |what: &str| MetaError::Backend(format!("unreadable {what} in tus_uploads"));
    let id: String = r.try_get("id").map_err(map_err)?;
    let kind: String = r.try_get("kind").map_err(map_err)?;
    let length: Option<i64> = r.try_get("upload_length").map_err(map_err)?;
    Ok(TusUpload {
        id: FileId::parse(&id).ok_or_else(|| corrupt("id"))?,
        kind: TusKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
        owner: r
            .try_get::<Option<String>, _>("owner_user_id")
            .map_err(map_err)?
            .map(UserId),
        tenant: r
            .try_get::<Option<String>, _>("tenant_id")
            .map_err(map_err)?
            .map(TenantId),
        offset: r.try_get::<i64, _>("upload_offset").map_err(map_err)? as u64,
        length: length.map(|l| l as u64),
        metadata: r.try_get("metadata").map_err(map_err)?,
        fingerprint: r.try_get("fingerprint").map_err(map_err)?,
        concat: r.try_get("concat").map_err(map_err)?,
        final_id: r
            .try_get::<Option<String>, _>("final_id")
            .map_err(map_err)?
            .map(|f| FileId::parse(&f).ok_or_else(|| corrupt("final id")))
            .transpose()?,
        created_at: from_millis(r.try_get("created_at").map_err(map_err)?),
        updated_at: from_millis(r.try_get("updated_at").map_err(map_err)?),
    })
}

impl SqliteMetaStore {
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
        let mut tx = begin_immediate(&self.pool).await?;
        super::files::insert_on(&mut tx, file).await?;
        insert_on(&mut tx, u, Some(file.id)).await?;
        for part in parts {
            let linked = sqlx::query(
                "UPDATE tus_uploads SET final_id = ? WHERE id = ? AND kind = 'partial' \
                 AND final_id IS NULL",
            )
            .bind(u.id.to_string())
            .bind(part.to_string())
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
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {TUS_COLUMNS} FROM tus_uploads WHERE final_id = ?"
        ));
        let rows = sqlx::query(sql)
            .bind(final_id.to_string())
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
            "UPDATE tus_uploads SET claimed_until = ? WHERE id = ? AND kind = 'final' \
             AND (claimed_until IS NULL OR claimed_until < ?)",
        )
        .bind(to_millis(until))
        .bind(final_id.to_string())
        .bind(to_millis(now))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn tus_get(&self, id: FileId) -> Result<Option<TusUpload>, MetaError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {TUS_COLUMNS} FROM tus_uploads WHERE id = ?"
        ));
        sqlx::query(sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(tus_from_row)
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
        let mut tx = begin_immediate(&self.pool).await?;
        let done = sqlx::query(
            "UPDATE tus_uploads SET upload_offset = ?, upload_length = COALESCE(upload_length, ?), \
             updated_at = ? WHERE id = ? AND upload_offset = ?",
        )
        .bind(to as i64)
        .bind(length.map(|l| l as i64))
        .bind(to_millis(now))
        .bind(id.to_string())
        .bind(from as i64)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        // The pending file's row is the upload's lease for the clean-up of pending files; a part's
        // progress is its final upload's too.
        sqlx::query(
            "UPDATE files SET updated_at = ? WHERE status = 'upload_pending' AND id IN \
             (SELECT ? UNION ALL SELECT final_id FROM tus_uploads WHERE id = ?)",
        )
        .bind(to_millis(now))
        .bind(id.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query(
            "UPDATE tus_uploads SET updated_at = ? WHERE id = \
             (SELECT final_id FROM tus_uploads WHERE id = ?)",
        )
        .bind(to_millis(now))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    pub(super) async fn tus_delete(&self, id: FileId) -> Result<Option<TusUpload>, MetaError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "DELETE FROM tus_uploads WHERE id = ? RETURNING {TUS_COLUMNS}"
        ));
        sqlx::query(sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(tus_from_row)
            .transpose()
    }

    pub(super) async fn tus_stale_partials(
        &self,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<TusUpload>, MetaError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {TUS_COLUMNS} FROM tus_uploads WHERE kind = 'partial' AND updated_at < ? \
             ORDER BY updated_at LIMIT ?"
        ));
        let rows = sqlx::query(sql)
            .bind(to_millis(stale_before))
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
            "DELETE FROM tus_uploads WHERE id = ? AND kind = 'partial' AND updated_at < ?",
        )
        .bind(id.to_string())
        .bind(to_millis(stale_before))
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
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(FILE_SELECT.replacen(
            " FROM files f",
            ", t.id AS tus_id, t.kind AS tus_kind, t.upload_offset, t.upload_length AS tus_length, \
             t.fingerprint AS tus_fingerprint, t.updated_at AS tus_updated_at, \
             d.expires_at AS direct_expires_at, d.upload_length AS direct_length, \
             d.fingerprint AS direct_fingerprint FROM files f",
            1,
        ));
        qb.push(
            " LEFT JOIN tus_uploads t ON t.file_id = f.id \
             LEFT JOIN direct_uploads d ON d.file_id = f.id \
             WHERE f.status = 'upload_pending' AND (",
        );
        let tus = |qb: &mut QueryBuilder<Sqlite>| {
            qb.push("(t.id IS NOT NULL AND t.updated_at >= ")
                .push_bind(to_millis(q.stale_before))
                .push(")");
        };
        let direct = |qb: &mut QueryBuilder<Sqlite>| {
            qb.push("(d.file_id IS NOT NULL AND d.expires_at > ")
                .push_bind(to_millis(q.now))
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
        if let Some(tenant) = &q.tenant {
            qb.push(" AND f.tenant_id IS ")
                .push_bind(tenant.as_ref().map(|t| t.0.clone()));
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
                .push_bind(to_millis(*created))
                .push(", ")
                .push_bind(id.to_string())
                .push(")");
        }
        qb.push(" ORDER BY f.created_at DESC, f.id DESC LIMIT ")
            .push_bind(i64::from(q.limit));
        let rows = qb.build().fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(unfinished_from_row).collect()
    }
}

fn unfinished_from_row(r: &SqliteRow) -> Result<UnfinishedUpload, MetaError> {
    let file = file_from_row(r)?;
    let tus: Option<String> = r.try_get("tus_id").map_err(map_err)?;
    let int = |c: &str| r.try_get::<Option<i64>, _>(c).map_err(map_err);
    if tus.is_some() {
        let kind: Option<String> = r.try_get("tus_kind").map_err(map_err)?;
        Ok(UnfinishedUpload {
            file,
            protocol: UploadProtocol::Tus,
            is_final: kind.as_deref() == Some(TusKind::Final.as_str()),
            offset: int("upload_offset")?.unwrap_or(0) as u64,
            length: int("tus_length")?.map(|l| l as u64),
            last_progress: int("tus_updated_at")?.map(from_millis),
            url_expires_at: None,
            fingerprint: r.try_get("tus_fingerprint").map_err(map_err)?,
        })
    } else {
        Ok(UnfinishedUpload {
            file,
            protocol: UploadProtocol::Direct,
            is_final: false,
            offset: 0,
            length: int("direct_length")?.map(|l| l as u64),
            last_progress: None,
            url_expires_at: int("direct_expires_at")?.map(from_millis),
            fingerprint: r.try_get("direct_fingerprint").map_err(map_err)?,
        })
    }
}

async fn insert_on(
    conn: &mut sqlx::SqliteConnection,
    u: &TusUpload,
    file: Option<FileId>,
) -> Result<(), MetaError> {
    sqlx::query(
        "INSERT INTO tus_uploads (id, file_id, kind, owner_user_id, tenant_id, upload_offset, \
         upload_length, metadata, fingerprint, concat, final_id, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(u.id.to_string())
    .bind(file.map(|f| f.to_string()))
    .bind(u.kind.as_str())
    .bind(u.owner.as_ref().map(|o| o.0.clone()))
    .bind(u.tenant.as_ref().map(|t| t.0.clone()))
    .bind(u.offset as i64)
    .bind(u.length.map(|l| l as i64))
    .bind(u.metadata.clone())
    .bind(u.fingerprint.clone())
    .bind(u.concat.clone())
    .bind(u.final_id.map(|f| f.to_string()))
    .bind(to_millis(u.created_at))
    .bind(to_millis(u.updated_at))
    .execute(&mut *conn)
    .await
    .map(|_| ())
    .map_err(map_err)
}
