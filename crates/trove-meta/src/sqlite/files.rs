//! File rows on SQLite.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use trove_core::precondition::if_match_holds;
use trove_core::time::to_millis;
use trove_core::{Bucket, BucketId, FileId, FileRecord, FileStatus, RevisionId};

use super::committer::WriteOp;
use super::deletions::queue_deletion;
use super::rows::{FILE_COLUMNS, bucket_from_row, file_from_row, map_err, map_rusqlite_err};
use super::{BUCKET_COLUMNS, FILE_SELECT, SqliteMetaStore, begin_immediate};
use crate::{FileChanges, MetaError, StoredContent};

pub(super) const INSERT_FILE: &str = "INSERT INTO files (id, bucket_id, name, mime_type, size, etag, status, metadata, \
     visibility, access, category, tenant_id, uploaded_by_user_id, checksum_sha256, revision, created_at, \
     updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

pub(super) const INSERT_ASSOCIATION: &str = "INSERT INTO file_associations (id, file_id, entity_name, \
     entity_reference, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";

/// The values of [`INSERT_FILE`], in its order, for either driver.
pub(super) fn file_values(f: &FileRecord) -> [Value; 17] {
    let text = |s: &str| Value::Text(s.to_owned());
    [
        Value::Text(f.id.to_string()),
        text(f.bucket_id.as_str()),
        text(&f.name),
        text(&f.mime_type),
        Value::Integer(f.size as i64),
        text(&f.etag),
        text(f.status.as_str()),
        Value::Text(f.metadata.to_string()),
        text(f.visibility.as_str()),
        text(f.access.as_str()),
        f.category.clone().into(),
        f.tenant_id.as_ref().map(|t| t.0.clone()).into(),
        f.uploaded_by_user_id.as_ref().map(|u| u.0.clone()).into(),
        f.checksum_sha256.clone().into(),
        f.revision.map(|r| r.to_string()).into(),
        Value::Integer(to_millis(f.created_at)),
        Value::Integer(to_millis(f.updated_at)),
    ]
}

impl SqliteMetaStore {
    /// A file, from the read cache when nothing was committed since it was read.
    pub(super) async fn fetch_file(&self, id: FileId) -> Result<Option<FileRecord>, MetaError> {
        Ok(self.fetch_file_with_bucket(id).await?.map(|(mut file, _)| {
            file.inline_content = None;
            file
        }))
    }

    /// A file, read now: for the reads that follow a write of the same call.
    pub(super) async fn fetch_file_uncached(
        &self,
        id: FileId,
    ) -> Result<Option<FileRecord>, MetaError> {
        static SQL: LazyLock<String> = LazyLock::new(|| format!("{FILE_SELECT} WHERE f.id = ?"));
        self.readers.read(|conn| {
            let mut stmt = conn.prepare_cached(&SQL).map_err(map_rusqlite_err)?;
            let mut rows = stmt.query([id.to_string()]).map_err(map_rusqlite_err)?;
            match rows.next().map_err(map_rusqlite_err)? {
                Some(r) => file_from_row(r).map(Some),
                None => Ok(None),
            }
        })
    }

    /// The file, its bucket and its inline content (if any) in one statement: what a download
    /// needs. Served from the read cache when nothing was committed since it was read.
    pub(super) async fn fetch_file_with_bucket(
        &self,
        id: FileId,
    ) -> Result<Option<(FileRecord, Bucket)>, MetaError> {
        self.cache.check_version(&self.readers)?;
        if let Some(hit) = self.cache.get(id) {
            return Ok(Some(hit));
        }
        let generation = self.cache.generation();
        let found = self.read_file_with_bucket(id)?;
        if let Some((file, bucket)) = &found {
            self.cache.put(generation, file, bucket);
        }
        Ok(found)
    }

    fn read_file_with_bucket(&self, id: FileId) -> Result<Option<(FileRecord, Bucket)>, MetaError> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
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
                 WHERE f.id = ?"
            )
        });
        self.readers.read(|conn| {
            let mut stmt = conn.prepare_cached(&SQL).map_err(map_rusqlite_err)?;
            let mut rows = stmt.query([id.to_string()]).map_err(map_rusqlite_err)?;
            let Some(r) = rows.next().map_err(map_rusqlite_err)? else {
                return Ok(None);
            };
            let mut file = file_from_row(r)?;
            let bucket = bucket_from_row(r, FILE_COLUMNS)?;
            file.inline_content = r
                .get::<_, Option<Vec<u8>>>(FILE_COLUMNS + 10)
                .map_err(map_rusqlite_err)?
                .map(bytes::Bytes::from);
            Ok(Some((file, bucket)))
        })
    }

    pub(super) async fn page_of_bucket(
        &self,
        id: &BucketId,
        after: Option<FileId>,
        limit: u32,
    ) -> Result<Vec<FileRecord>, MetaError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{FILE_SELECT} WHERE f.bucket_id = ? AND f.id > ? ORDER BY f.id LIMIT ?"
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

    /// Inserts the row and its associations, in a group commit.
    pub(super) async fn insert(&self, f: &FileRecord) -> Result<(), MetaError> {
        self.committer
            .submit(WriteOp::InsertFile(Box::new(f.clone())))
            .await
    }

    pub(super) async fn update_fields(
        &self,
        id: FileId,
        c: &FileChanges,
        if_match: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<FileRecord>, MetaError> {
        let mut tx = begin_immediate(&self.pool).await?;
        if let Some(expected) = if_match {
            match current_etag(&mut tx, id).await? {
                None => return Ok(None),
                Some(etag) if !if_match_holds(expected, &etag) => {
                    return Err(MetaError::PreconditionFailed);
                }
                Some(_) => {}
            }
        }
        let mut qb = QueryBuilder::<Sqlite>::new("UPDATE files SET updated_at = ");
        qb.push_bind(to_millis(now));
        if let Some(name) = &c.name {
            qb.push(", name = ").push_bind(name.clone());
        }
        if let Some(m) = &c.metadata {
            qb.push(", metadata = ").push_bind(m.to_string());
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
        qb.push(" WHERE id = ").push_bind(id.to_string());
        let done = qb.build().execute(&mut *tx).await.map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let file = fetch_on(&mut *tx, id).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(file)
    }

    pub(super) async fn touch(&self, id: FileId, now: DateTime<Utc>) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE files SET updated_at = ? WHERE id = ? AND status = 'upload_pending'",
        )
        .bind(to_millis(now))
        .bind(id.to_string())
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
        self.committer
            .submit(WriteOp::Complete {
                id,
                content: c.clone(),
                now,
            })
            .await?;
        self.cache.wrote();
        self.fetch_file_uncached(id)
            .await?
            .ok_or_else(|| MetaError::Stale(format!("file {id} vanished")))
    }

    pub(super) async fn replace(
        &self,
        id: FileId,
        c: &StoredContent,
        if_match: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(FileRecord, Option<String>), MetaError> {
        let mut tx = begin_immediate(&self.pool).await?;
        let row = sqlx::query("SELECT bucket_id, status, revision, etag FROM files WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?
            .ok_or_else(|| MetaError::Stale(format!("file {id} vanished")))?;
        let status: String = row.try_get("status").map_err(map_err)?;
        if status != FileStatus::Ready.as_str() {
            return Err(MetaError::Stale(format!("file {id} is not ready")));
        }
        let etag: String = row.try_get("etag").map_err(map_err)?;
        if if_match.is_some_and(|expected| !if_match_holds(expected, &etag)) {
            return Err(MetaError::PreconditionFailed);
        }
        let bucket: String = row.try_get("bucket_id").map_err(map_err)?;
        let revision: Option<String> = row.try_get("revision").map_err(map_err)?;
        let was_inline = super::inline::holds_on(&mut tx, id, revision.as_deref()).await?;
        match &c.inline {
            Some(data) => super::inline::put_on(&mut tx, id, c.revision, data).await?,
            None => super::inline::drop_on(&mut tx, id).await?,
        }
        sqlx::query(
            "UPDATE files SET size = ?, mime_type = ?, checksum_sha256 = ?, etag = ?, revision = ?, \
             updated_at = ? WHERE id = ?",
        )
        .bind(c.size as i64)
        .bind(c.mime_type.as_str())
        .bind(c.checksum_sha256.as_deref())
        .bind(c.etag.as_str())
        .bind(c.revision.to_string())
        .bind(to_millis(now))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let old_key = match was_inline {
            true => None,
            false => blob_key_of(bucket, id, revision)?,
        };
        if let Some(key) = &old_key {
            queue_deletion(&mut tx, key).await?;
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
        let mut tx = begin_immediate(&self.pool).await?;
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
        let inline =
            super::inline::holds_on(&mut tx, id, file.revision.map(|r| r.to_string()).as_deref())
                .await?;
        // The key queued is the one the deleting statement saw, whatever was read before.
        let Some(row) = sqlx::query("DELETE FROM files WHERE id = ? RETURNING bucket_id, revision")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?
        else {
            return Ok(None);
        };
        // Inline bytes go with the row (`ON DELETE CASCADE`); only a blob needs deleting.
        let key = match inline {
            true => None,
            false => blob_key_of(
                row.try_get("bucket_id").map_err(map_err)?,
                id,
                row.try_get("revision").map_err(map_err)?,
            )?,
        };
        if let Some(key) = &key {
            queue_deletion(&mut tx, key).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(Some((file, key)))
    }
}

/// What must still hold for a deletion to go ahead.
#[derive(Debug, Clone, Copy)]
pub(super) enum DeleteGuard<'a> {
    /// The caller's `If-Match`, if any.
    IfMatch(Option<&'a str>),
    /// Clean-up: the row is a pending or cancelled upload untouched since this time.
    StaleUpload(DateTime<Utc>),
}

/// The blob key of a stored revision, from its columns.
fn blob_key_of(
    bucket: String,
    id: FileId,
    revision: Option<String>,
) -> Result<Option<String>, MetaError> {
    revision
        .map(|r| {
            uuid::Uuid::parse_str(&r)
                .map(|r| FileRecord::blob_key(&BucketId(bucket), id, RevisionId(r)))
                .map_err(|_| MetaError::Backend("unreadable revision in database".into()))
        })
        .transpose()
}

async fn current_etag(
    conn: &mut SqliteConnection,
    id: FileId,
) -> Result<Option<String>, MetaError> {
    sqlx::query("SELECT etag FROM files WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err)?
        .map(|r| r.try_get::<String, _>(0).map_err(map_err))
        .transpose()
}

/// A file with its associations, on the pool or an open transaction.
async fn fetch_on<'e>(
    ex: impl sqlx::SqliteExecutor<'e>,
    id: FileId,
) -> Result<Option<FileRecord>, MetaError> {
    let sql = sqlx::AssertSqlSafe(format!("{FILE_SELECT} WHERE f.id = ?"));
    sqlx::query(sql)
        .bind(id.to_string())
        .fetch_optional(ex)
        .await
        .map_err(map_err)?
        .map(|r| file_from_row(&r))
        .transpose()
}

/// Inserts a file row and its associations on an open transaction.
pub(super) async fn insert_on(
    conn: &mut SqliteConnection,
    f: &FileRecord,
) -> Result<(), MetaError> {
    let mut q = sqlx::query(INSERT_FILE);
    for v in file_values(f) {
        q = match v {
            Value::Integer(i) => q.bind(i),
            Value::Text(t) => q.bind(t),
            Value::Null => q.bind(None::<String>),
            Value::Real(r) => q.bind(r),
            Value::Blob(b) => q.bind(b),
        };
    }
    q.execute(&mut *conn).await.map_err(map_err)?;
    if let (Some(data), Some(revision)) = (&f.inline_content, f.revision) {
        super::inline::put_on(conn, f.id, revision, data).await?;
    }
    for a in &f.associations {
        sqlx::query(INSERT_ASSOCIATION)
            .bind(a.id.to_string())
            .bind(f.id.to_string())
            .bind(a.entity_name.as_str())
            .bind(a.entity_reference.as_str())
            .bind(to_millis(a.created_at))
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
    }
    Ok(())
}
