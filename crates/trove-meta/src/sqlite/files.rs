//! File rows on SQLite.

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};
use trove_core::time::to_millis;
use trove_core::{Bucket, BucketId, FileId, FileRecord, FileStatus, RevisionId};

use super::committer::WriteOp;
use super::rows::{bucket_from_prefixed_row, file_from_row, map_err};
use super::{FILE_SELECT, SqliteMetaStore, queue_deletion};
use crate::{MetaError, StoredContent};

const INSERT_FILE: &str = "INSERT INTO files (id, bucket_id, name, mime_type, size, etag, status, metadata, \
     visibility, access, category, tenant_id, uploaded_by_user_id, checksum_sha256, revision, created_at, \
     updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

impl SqliteMetaStore {
    pub(super) async fn fetch_file(&self, id: FileId) -> Result<Option<FileRecord>, MetaError> {
        let sql = sqlx::AssertSqlSafe(format!("{FILE_SELECT} WHERE f.id = ?"));
        sqlx::query(sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(|r| file_from_row(&r))
            .transpose()
    }

    pub(super) async fn fetch_file_with_bucket(
        &self,
        id: FileId,
    ) -> Result<Option<(FileRecord, Bucket)>, MetaError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{FILE_SELECT_WITH_BUCKET} JOIN buckets b ON b.id = f.bucket_id WHERE f.id = ?"
        ));
        let row = sqlx::query(sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some((
                file_from_row(&r)?,
                bucket_from_prefixed_row(&r, "b_")?,
            ))),
        }
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

    pub(super) async fn update_fields(&self, f: &FileRecord) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE files SET name = ?, metadata = ?, visibility = ?, access = ?, category = ?, \
             updated_at = ? WHERE id = ?",
        )
        .bind(f.name.as_str())
        .bind(f.metadata.to_string())
        .bind(f.visibility.as_str())
        .bind(f.access.as_str())
        .bind(f.category.clone())
        .bind(to_millis(f.updated_at))
        .bind(f.id.to_string())
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
        self.fetch_file(id)
            .await?
            .ok_or_else(|| MetaError::Stale(format!("file {id} vanished")))
    }

    pub(super) async fn replace(
        &self,
        id: FileId,
        c: &StoredContent,
        now: DateTime<Utc>,
    ) -> Result<(FileRecord, Option<String>), MetaError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let row = sqlx::query("SELECT bucket_id, status, revision FROM files WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?
            .ok_or_else(|| MetaError::Stale(format!("file {id} vanished")))?;
        let status: String = row.try_get("status").map_err(map_err)?;
        if status != FileStatus::Ready.as_str() {
            return Err(MetaError::Stale(format!("file {id} is not ready")));
        }
        let bucket: String = row.try_get("bucket_id").map_err(map_err)?;
        let revision: Option<String> = row.try_get("revision").map_err(map_err)?;
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
        let old_key =
            match revision {
                Some(r) => Some(FileRecord::blob_key(
                    &BucketId(bucket),
                    id,
                    RevisionId(uuid::Uuid::parse_str(&r).map_err(|_| {
                        MetaError::Backend("unreadable revision in database".into())
                    })?),
                )),
                None => None,
            };
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

    pub(super) async fn delete(
        &self,
        id: FileId,
    ) -> Result<Option<(FileRecord, Option<String>)>, MetaError> {
        let Some(file) = self.fetch_file(id).await? else {
            return Ok(None);
        };
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let done = sqlx::query("DELETE FROM files WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let key = file.current_blob_key();
        if let Some(key) = &key {
            queue_deletion(&mut tx, key).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(Some((file, key)))
    }
}

/// Inserts a file row and its associations on an open transaction.
pub(super) async fn insert_on(
    conn: &mut SqliteConnection,
    f: &FileRecord,
) -> Result<(), MetaError> {
    sqlx::query(INSERT_FILE)
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
        .bind(f.category.clone())
        .bind(f.tenant_id.as_ref().map(|t| t.0.clone()))
        .bind(f.uploaded_by_user_id.as_ref().map(|u| u.0.clone()))
        .bind(f.checksum_sha256.clone())
        .bind(f.revision.map(|r| r.to_string()))
        .bind(to_millis(f.created_at))
        .bind(to_millis(f.updated_at))
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    for a in &f.associations {
        sqlx::query(
            "INSERT INTO file_associations (id, file_id, entity_name, entity_reference, created_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
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

/// The file columns plus the bucket's, aliased `b_*`; completed with `JOIN buckets b`.
const FILE_SELECT_WITH_BUCKET: &str = "SELECT f.id, f.bucket_id, f.name, f.mime_type, f.size, f.etag, \
     f.status, f.metadata, f.visibility, f.access, f.category, f.tenant_id, f.uploaded_by_user_id, \
     f.checksum_sha256, f.revision, f.created_at, f.updated_at, \
     (SELECT json_group_array(json_object('id', x.id, 'entityName', x.entity_name, \
       'entityReference', x.entity_reference, 'createdAt', x.created_at)) FROM \
       (SELECT id, entity_name, entity_reference, created_at FROM file_associations \
        WHERE file_id = f.id ORDER BY created_at, id) x) AS associations, \
     b.id AS b_id, b.cache_control AS b_cache_control, b.download_expiration AS b_download_expiration, \
     b.min_upload_file_size AS b_min_upload_file_size, b.max_upload_file_size AS b_max_upload_file_size, \
     b.presigned_urls_enabled AS b_presigned_urls_enabled, b.allowed_mime_types AS b_allowed_mime_types, \
     b.default_visibility AS b_default_visibility, b.created_at AS b_created_at, \
     b.updated_at AS b_updated_at FROM files f";
