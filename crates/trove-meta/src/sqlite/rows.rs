//! Row decoding for SQLite, shared by the two drivers: sqlx (writes) and rusqlite (reads).

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use trove_core::time::from_millis;
use trove_core::{
    Access, Association, Bucket, BucketId, FileId, FileRecord, FileStatus, RevisionId, TenantId,
    UserId, Visibility,
};

use crate::MetaError;

pub(crate) fn map_err(e: sqlx::Error) -> MetaError {
    if matches!(e, sqlx::Error::PoolTimedOut) {
        return MetaError::Unavailable(e.to_string());
    }
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return MetaError::Conflict(db.message().to_owned());
    }
    MetaError::Backend(e.to_string())
}

/// rusqlite's errors, mapped as [`map_err`] maps sqlx's: a busy database is "unavailable" (503,
/// retry), a uniqueness clash a conflict, anything else a backend error.
pub(crate) fn map_rusqlite_err(e: rusqlite::Error) -> MetaError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e
        && matches!(
            f.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
    {
        return MetaError::Conflict(e.to_string());
    }
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            MetaError::Unavailable(e.to_string())
        }
        _ => MetaError::Backend(e.to_string()),
    }
}

fn corrupt(what: &str) -> MetaError {
    MetaError::Backend(format!("unreadable {what} in database"))
}

/// A result row of either driver, read by column position: the decoders below follow the column
/// order of [`super::FILE_SELECT`] and [`super::BUCKET_COLUMNS`] (looking columns up by name
/// cost more than SQLite's own work for a point read).
pub(crate) trait Columns {
    fn text(&self, i: usize) -> Result<String, MetaError>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, MetaError>;
    fn int(&self, i: usize) -> Result<i64, MetaError>;
    fn flag(&self, i: usize) -> Result<bool, MetaError>;
}

impl Columns for SqliteRow {
    fn text(&self, i: usize) -> Result<String, MetaError> {
        self.try_get(i).map_err(map_err)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, MetaError> {
        self.try_get(i).map_err(map_err)
    }
    fn int(&self, i: usize) -> Result<i64, MetaError> {
        self.try_get(i).map_err(map_err)
    }
    fn flag(&self, i: usize) -> Result<bool, MetaError> {
        self.try_get(i).map_err(map_err)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> Result<String, MetaError> {
        self.get(i).map_err(map_rusqlite_err)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, MetaError> {
        self.get(i).map_err(map_rusqlite_err)
    }
    fn int(&self, i: usize) -> Result<i64, MetaError> {
        self.get(i).map_err(map_rusqlite_err)
    }
    fn flag(&self, i: usize) -> Result<bool, MetaError> {
        self.get(i).map_err(map_rusqlite_err)
    }
}

/// The number of columns [`file_from_row`] reads; a query's own columns come after them.
pub(crate) const FILE_COLUMNS: usize = 19;

/// Decodes the bucket whose [`super::BUCKET_COLUMNS`] start at column `at`.
pub(crate) fn bucket_from_row(r: &impl Columns, at: usize) -> Result<Bucket, MetaError> {
    Ok(Bucket {
        id: BucketId(r.text(at)?),
        cache_control: r.text(at + 1)?,
        download_expiration: r.int(at + 2)? as u32,
        min_upload_file_size: r.int(at + 3)? as u64,
        max_upload_file_size: r.int(at + 4)? as u64,
        presigned_urls_enabled: r.flag(at + 5)?,
        allowed_mime_types: serde_json::from_str(&r.text(at + 6)?)
            .map_err(|_| corrupt("mime list"))?,
        default_visibility: Visibility::parse(&r.text(at + 7)?)
            .map_err(|_| corrupt("visibility"))?,
        created_at: from_millis(r.int(at + 8)?),
        updated_at: from_millis(r.int(at + 9)?),
    })
}

/// Decodes the file of a row that starts with [`super::FILE_SELECT`]'s columns.
pub(crate) fn file_from_row(r: &impl Columns) -> Result<FileRecord, MetaError> {
    let file_id = FileId::parse(&r.text(0)?).ok_or_else(|| corrupt("file id"))?;
    let status = FileStatus::parse(&r.text(6)?).ok_or_else(|| corrupt("status"))?;
    Ok(FileRecord {
        id: file_id,
        bucket_id: BucketId(r.text(1)?),
        name: r.text(2)?,
        mime_type: r.text(3)?,
        size: r.int(4)? as u64,
        etag: r.text(5)?,
        is_uploaded: status == FileStatus::Ready,
        status,
        metadata: serde_json::from_str(&r.text(7)?).map_err(|_| corrupt("metadata"))?,
        visibility: Visibility::parse(&r.text(8)?).map_err(|_| corrupt("visibility"))?,
        access: Access::parse(&r.text(9)?).map_err(|_| corrupt("access"))?,
        category: r.opt_text(10)?,
        tenant_id: r.opt_text(11)?.map(TenantId),
        uploaded_by_user_id: r.opt_text(12)?.map(UserId),
        checksum_sha256: r.opt_text(13)?,
        revision: match r.opt_text(14)? {
            Some(s) => Some(RevisionId(
                uuid::Uuid::parse_str(&s).map_err(|_| corrupt("revision"))?,
            )),
            None => None,
        },
        created_at: from_millis(r.int(15)?),
        updated_at: from_millis(r.int(16)?),
        associations: associations_from_json(file_id, &r.text(17)?)?,
        status_reason: r.opt_text(18)?,
        inline_content: None,
    })
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssociationJson {
    id: String,
    entity_name: String,
    entity_reference: String,
    created_at: i64,
}

fn associations_from_json(file: FileId, json: &str) -> Result<Vec<Association>, MetaError> {
    let rows: Vec<AssociationJson> =
        serde_json::from_str(json).map_err(|_| corrupt("associations"))?;
    rows.into_iter()
        .map(|a| {
            Ok(Association {
                id: uuid::Uuid::parse_str(&a.id).map_err(|_| corrupt("association id"))?,
                file_id: file,
                entity_name: a.entity_name,
                entity_reference: a.entity_reference,
                created_at: from_millis(a.created_at),
            })
        })
        .collect()
}
