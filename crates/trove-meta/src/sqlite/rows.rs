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

/// A result row of either driver, read by column name.
pub(crate) trait Columns {
    fn text(&self, c: &str) -> Result<String, MetaError>;
    fn opt_text(&self, c: &str) -> Result<Option<String>, MetaError>;
    fn int(&self, c: &str) -> Result<i64, MetaError>;
    fn flag(&self, c: &str) -> Result<bool, MetaError>;
}

impl Columns for SqliteRow {
    fn text(&self, c: &str) -> Result<String, MetaError> {
        self.try_get(c).map_err(map_err)
    }
    fn opt_text(&self, c: &str) -> Result<Option<String>, MetaError> {
        self.try_get(c).map_err(map_err)
    }
    fn int(&self, c: &str) -> Result<i64, MetaError> {
        self.try_get(c).map_err(map_err)
    }
    fn flag(&self, c: &str) -> Result<bool, MetaError> {
        self.try_get(c).map_err(map_err)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, c: &str) -> Result<String, MetaError> {
        self.get(c).map_err(map_rusqlite_err)
    }
    fn opt_text(&self, c: &str) -> Result<Option<String>, MetaError> {
        self.get(c).map_err(map_rusqlite_err)
    }
    fn int(&self, c: &str) -> Result<i64, MetaError> {
        self.get(c).map_err(map_rusqlite_err)
    }
    fn flag(&self, c: &str) -> Result<bool, MetaError> {
        self.get(c).map_err(map_rusqlite_err)
    }
}

pub(crate) fn bucket_from_row(r: &impl Columns) -> Result<Bucket, MetaError> {
    bucket_from_prefixed_row(r, "")
}

/// Decodes bucket columns named `{prefix}{column}` (joins alias them to avoid clashes).
pub(crate) fn bucket_from_prefixed_row(
    r: &impl Columns,
    prefix: &str,
) -> Result<Bucket, MetaError> {
    let col = |c: &str| format!("{prefix}{c}");
    let text = |c: &str| r.text(&col(c));
    let int = |c: &str| r.int(&col(c));
    Ok(Bucket {
        id: BucketId(text("id")?),
        cache_control: text("cache_control")?,
        download_expiration: int("download_expiration")? as u32,
        min_upload_file_size: int("min_upload_file_size")? as u64,
        max_upload_file_size: int("max_upload_file_size")? as u64,
        presigned_urls_enabled: r.flag(&col("presigned_urls_enabled"))?,
        allowed_mime_types: serde_json::from_str(&text("allowed_mime_types")?)
            .map_err(|_| corrupt("mime list"))?,
        default_visibility: Visibility::parse(&text("default_visibility")?)
            .map_err(|_| corrupt("visibility"))?,
        created_at: from_millis(int("created_at")?),
        updated_at: from_millis(int("updated_at")?),
    })
}

pub(crate) fn file_from_row(r: &impl Columns) -> Result<FileRecord, MetaError> {
    let id = r.text("id")?;
    let file_id = FileId::parse(&id).ok_or_else(|| corrupt("file id"))?;
    let status = FileStatus::parse(&r.text("status")?).ok_or_else(|| corrupt("status"))?;
    let revision = r.opt_text("revision")?;
    Ok(FileRecord {
        id: file_id,
        bucket_id: BucketId(r.text("bucket_id")?),
        name: r.text("name")?,
        mime_type: r.text("mime_type")?,
        size: r.int("size")? as u64,
        etag: r.text("etag")?,
        is_uploaded: status == FileStatus::Ready,
        status,
        metadata: serde_json::from_str(&r.text("metadata")?).map_err(|_| corrupt("metadata"))?,
        visibility: Visibility::parse(&r.text("visibility")?).map_err(|_| corrupt("visibility"))?,
        access: Access::parse(&r.text("access")?).map_err(|_| corrupt("access"))?,
        tenant_id: r.opt_text("tenant_id")?.map(TenantId),
        uploaded_by_user_id: r.opt_text("uploaded_by_user_id")?.map(UserId),
        checksum_sha256: r.opt_text("checksum_sha256")?,
        category: r.opt_text("category")?,
        associations: associations_from_json(file_id, &r.text("associations")?)?,
        created_at: from_millis(r.int("created_at")?),
        updated_at: from_millis(r.int("updated_at")?),
        revision: match revision {
            Some(s) => Some(RevisionId(
                uuid::Uuid::parse_str(&s).map_err(|_| corrupt("revision"))?,
            )),
            None => None,
        },
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
