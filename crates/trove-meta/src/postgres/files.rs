//! File rows on PostgreSQL.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use trove_core::precondition::if_match_holds;
use trove_core::{Bucket, BucketId, FileId, FileRecord, FileStatus, RevisionId};
use uuid::Uuid;

use super::PgMetaStore;
use super::catalog::queue_deletion;
use super::rows::{
    BUCKET_COLUMNS, FILE_COLUMNS, FILE_SELECT, big, bucket_from_row, file_from_row, files_from,
    map_err, ms,
};
use crate::{FileChanges, MetaError, StoredContent};

/// What must still hold for a deletion to go ahead.
#[derive(Debug, Clone, Copy)]
pub(super) enum DeleteGuard<'a> {
    /// The caller's `If-Match`, if any.
    IfMatch(Option<&'a str>),
    /// Clean-up: the row is a pending or cancelled upload untouched since this time.
    StaleUpload(DateTime<Utc>),
}

/// A file with its associations, on the pool or an open transaction.
pub(super) async fn fetch_on<'e>(
    ex: impl sqlx::PgExecutor<'e>,
    id: FileId,
) -> Result<Option<FileRecord>, MetaError> {
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("{FILE_SELECT} WHERE f.id = $1"));
    sqlx::query(sqlx::AssertSqlSafe(SQL.as_str()))
        .bind(id.0)
        .fetch_optional(ex)
        .await
        .map_err(map_err)?
        .map(|r| file_from_row(&r))
        .transpose()
}

/// Inserts a file row, its associations and its inline bytes on an open transaction.
pub(super) async fn insert_on(conn: &mut PgConnection, f: &FileRecord) -> Result<(), MetaError> {
    sqlx::query(
        "INSERT INTO files (id, bucket_id, name, mime_type, size, etag, status, metadata, \
         visibility, access, category, tenant_id, uploaded_by_user_id, checksum_sha256, revision, \
         created_at, updated_at, status_reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(f.id.0)
    .bind(f.bucket_id.as_str())
    .bind(&f.name)
    .bind(&f.mime_type)
    .bind(big(f.size))
    .bind(&f.etag)
    .bind(f.status.as_str())
    .bind(Json(&f.metadata))
    .bind(f.visibility.as_str())
    .bind(f.access.as_str())
    .bind(f.category.as_deref())
    .bind(f.tenant_id.as_ref().map(|t| t.0.as_str()))
    .bind(f.uploaded_by_user_id.as_ref().map(|u| u.0.as_str()))
    .bind(f.checksum_sha256.as_deref())
    .bind(f.revision.map(|r| r.0))
    .bind(ms(f.created_at))
    .bind(ms(f.updated_at))
    .bind(f.status_reason.as_deref())
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    for a in &f.associations {
        sqlx::query(
            "INSERT INTO file_associations (id, file_id, entity_name, entity_reference, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(a.id)
        .bind(f.id.0)
        .bind(&a.entity_name)
        .bind(&a.entity_reference)
        .bind(ms(a.created_at))
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    }
    if let (Some(data), Some(revision)) = (&f.inline_content, f.revision) {
        put_inline(conn, f.id, revision, data).await?;
    }
    Ok(())
}

/// Makes `data` the stored bytes of `file`'s `revision`, replacing any earlier revision's.
async fn put_inline(
    conn: &mut PgConnection,
    file: FileId,
    revision: RevisionId,
    data: &[u8],
) -> Result<(), MetaError> {
    sqlx::query(
        "INSERT INTO inline_contents (file_id, revision, data) VALUES ($1, $2, $3) \
         ON CONFLICT (file_id) DO UPDATE SET revision = EXCLUDED.revision, data = EXCLUDED.data",
    )
    .bind(file.0)
    .bind(revision.0)
    .bind(data)
    .execute(&mut *conn)
    .await
    .map(|_| ())
    .map_err(map_err)
}

/// Whether `revision` of `file` is kept inline (so there is no blob to delete for it).
async fn holds_inline(
    conn: &mut PgConnection,
    file: FileId,
    revision: Option<Uuid>,
) -> Result<bool, MetaError> {
    let Some(revision) = revision else {
        return Ok(false);
    };
    sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM inline_contents WHERE file_id = $1 AND revision = $2)",
    )
    .bind(file.0)
    .bind(revision)
    .fetch_one(&mut *conn)
    .await
    .map_err(map_err)
}

/// The blob key of a stored revision.
fn blob_key_of(bucket: String, id: FileId, revision: Option<Uuid>) -> Option<String> {
    revision.map(|r| FileRecord::blob_key(&BucketId(bucket), id, RevisionId(r)))
}

impl PgMetaStore {
    /// The file, its bucket and its current inline bytes (if any) in one statement.
    pub(super) async fn fetch_file_with_bucket(
        &self,
        id: FileId,
    ) -> Result<Option<(FileRecord, Bucket)>, MetaError> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            let file_columns = FILE_SELECT
                .strip_suffix(" FROM files f")
                .expect("FILE_SELECT ends with its FROM");
            let bucket_columns = BUCKET_COLUMNS
                .split(", ")
                .map(|c| format!("b.{c}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "{file_columns}, {bucket_columns}, c.data FROM files f \
                 JOIN buckets b ON b.id = f.bucket_id \
                 LEFT JOIN inline_contents c ON c.file_id = f.id AND c.revision = f.revision \
                 WHERE f.id = $1"
            )
        });
        let Some(r) = sqlx::query(sqlx::AssertSqlSafe(SQL.as_str()))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
        else {
            return Ok(None);
        };
        let mut file = file_from_row(&r)?;
        let bucket = bucket_from_row(&r, FILE_COLUMNS)?;
        file.inline_content = r
            .try_get::<Option<Vec<u8>>, _>(FILE_COLUMNS + 10)
            .map_err(map_err)?
            .map(bytes::Bytes::from);
        Ok(Some((file, bucket)))
    }

    pub(super) async fn page_of_bucket(
        &self,
        id: &BucketId,
        after: Option<FileId>,
        limit: u32,
    ) -> Result<Vec<FileRecord>, MetaError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{FILE_SELECT} WHERE f.bucket_id = $1 AND f.id > $2 ORDER BY f.id LIMIT $3"
        ));
        let rows = sqlx::query(sql)
            .bind(id.as_str())
            .bind(after.map(|a| a.0).unwrap_or(Uuid::nil()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        files_from(&rows)
    }

    pub(super) async fn update_fields(
        &self,
        id: FileId,
        c: &FileChanges,
        if_match: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<FileRecord>, MetaError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let etag: Option<String> =
            sqlx::query_scalar("SELECT etag FROM files WHERE id = $1 FOR UPDATE")
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
        let Some(etag) = etag else {
            return Ok(None);
        };
        if if_match.is_some_and(|expected| !if_match_holds(expected, &etag)) {
            return Err(MetaError::PreconditionFailed);
        }
        let mut qb = QueryBuilder::<Postgres>::new("UPDATE files SET updated_at = ");
        qb.push_bind(ms(now));
        if let Some(name) = &c.name {
            qb.push(", name = ").push_bind(name.clone());
        }
        if let Some(m) = &c.metadata {
            qb.push(", metadata = ").push_bind(Json(m.clone()));
        }
        if let Some(v) = c.visibility {
            qb.push(", visibility = ").push_bind(v.as_str());
        }
        if let Some(a) = c.access {
            qb.push(", access = ").push_bind(a.as_str());
        }
        if let Some(cat) = &c.category {
            qb.push(", category = ").push_bind(cat.clone());
        }
        qb.push(" WHERE id = ").push_bind(id.0);
        qb.build().execute(&mut *tx).await.map_err(map_err)?;
        let file = fetch_on(&mut *tx, id).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(file)
    }

    pub(super) async fn touch(&self, id: FileId, now: DateTime<Utc>) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE files SET updated_at = $1 WHERE id = $2 AND status = 'upload_pending'",
        )
        .bind(ms(now))
        .bind(id.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn complete(
        &self,
        id: FileId,
        c: &StoredContent,
        now: DateTime<Utc>,
    ) -> Result<FileRecord, MetaError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        // The row lock of this UPDATE makes two nodes completing the same upload take turns: the
        // second finds the row ready already and matches nothing.
        let done = sqlx::query(
            "UPDATE files SET status = 'ready', size = $1, mime_type = $2, checksum_sha256 = $3, \
             etag = $4, updated_at = $5 WHERE id = $6 AND status = 'upload_pending' AND revision = $7",
        )
        .bind(big(c.size))
        .bind(&c.mime_type)
        .bind(c.checksum_sha256.as_deref())
        .bind(&c.etag)
        .bind(ms(now))
        .bind(id.0)
        .bind(c.revision.0)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() != 1 {
            return Err(MetaError::Stale(format!("file {id} is no longer pending")));
        }
        if let Some(data) = &c.inline {
            put_inline(&mut tx, id, c.revision, data).await?;
        }
        sqlx::query("DELETE FROM tus_uploads WHERE file_id = $1 AND kind <> 'final'")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let file = fetch_on(&mut *tx, id)
            .await?
            .ok_or_else(|| MetaError::Stale(format!("file {id} vanished")))?;
        tx.commit().await.map_err(map_err)?;
        Ok(file)
    }

    pub(super) async fn replace(
        &self,
        id: FileId,
        c: &StoredContent,
        if_match: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(FileRecord, Option<String>), MetaError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let row = sqlx::query(
            "SELECT bucket_id, status, revision, etag FROM files WHERE id = $1 FOR UPDATE",
        )
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or_else(|| MetaError::Stale(format!("file {id} vanished")))?;
        let status: String = row.try_get(1).map_err(map_err)?;
        if status != FileStatus::Ready.as_str() {
            return Err(MetaError::Stale(format!("file {id} is not ready")));
        }
        let etag: String = row.try_get(3).map_err(map_err)?;
        if if_match.is_some_and(|expected| !if_match_holds(expected, &etag)) {
            return Err(MetaError::PreconditionFailed);
        }
        let bucket: String = row.try_get(0).map_err(map_err)?;
        let revision: Option<Uuid> = row.try_get(2).map_err(map_err)?;
        let was_inline = holds_inline(&mut tx, id, revision).await?;
        match &c.inline {
            Some(data) => put_inline(&mut tx, id, c.revision, data).await?,
            None => {
                sqlx::query("DELETE FROM inline_contents WHERE file_id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
        }
        sqlx::query(
            "UPDATE files SET size = $1, mime_type = $2, checksum_sha256 = $3, etag = $4, \
             revision = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(big(c.size))
        .bind(&c.mime_type)
        .bind(c.checksum_sha256.as_deref())
        .bind(&c.etag)
        .bind(c.revision.0)
        .bind(ms(now))
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let old_key = match was_inline {
            true => None,
            false => blob_key_of(bucket, id, revision),
        };
        if let Some(key) = &old_key {
            queue_deletion(&mut *tx, key).await?;
        }
        let new = fetch_on(&mut *tx, id)
            .await?
            .ok_or_else(|| MetaError::Stale(format!("file {id} vanished")))?;
        tx.commit().await.map_err(map_err)?;
        Ok((new, old_key))
    }

    pub(super) async fn delete_where(
        &self,
        id: FileId,
        guard: DeleteGuard<'_>,
    ) -> Result<Option<(FileRecord, Option<String>)>, MetaError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        // Locks the row first: a replacement or completion racing this deletion either finished
        // before (and is what is read and deleted here) or waits and then finds no row.
        let locked: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM files WHERE id = $1 FOR UPDATE")
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
        if locked.is_none() {
            return Ok(None);
        }
        let Some(file) = fetch_on(&mut *tx, id).await? else {
            return Ok(None);
        };
        match guard {
            DeleteGuard::IfMatch(Some(expected)) if !if_match_holds(expected, &file.etag) => {
                return Err(MetaError::PreconditionFailed);
            }
            DeleteGuard::StaleUpload(before)
                if file.updated_at >= before
                    || !matches!(
                        file.status,
                        FileStatus::UploadPending | FileStatus::Cancelled
                    ) =>
            {
                return Ok(None);
            }
            _ => {}
        }
        let inline = holds_inline(&mut tx, id, file.revision.map(|r| r.0)).await?;
        let row = sqlx::query("DELETE FROM files WHERE id = $1 RETURNING bucket_id, revision")
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        // Inline bytes go with the row (`ON DELETE CASCADE`); only a blob needs deleting.
        let key = match inline {
            true => None,
            false => blob_key_of(
                row.try_get(0).map_err(map_err)?,
                id,
                row.try_get(1).map_err(map_err)?,
            ),
        };
        if let Some(key) = &key {
            queue_deletion(&mut *tx, key).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(Some((file, key)))
    }
}
