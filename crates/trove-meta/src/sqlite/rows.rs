//! Row decoding for SQLite.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use trove_core::time::from_millis;
use trove_core::{
    Access, Bucket, BucketId, FileId, FileRecord, FileStatus, RevisionId, TenantId, UserId,
    Visibility,
};

use crate::MetaError;

pub(crate) fn map_err(e: sqlx::Error) -> MetaError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return MetaError::Conflict(db.message().to_owned());
    }
    MetaError::Backend(e.to_string())
}

fn corrupt(what: &str) -> MetaError {
    MetaError::Backend(format!("unreadable {what} in database"))
}

pub(crate) fn bucket_from_row(r: &SqliteRow) -> Result<Bucket, MetaError> {
    let mimes: String = r.try_get("allowed_mime_types").map_err(map_err)?;
    let vis: String = r.try_get("default_visibility").map_err(map_err)?;
    Ok(Bucket {
        id: BucketId(r.try_get("id").map_err(map_err)?),
        cache_control: r.try_get("cache_control").map_err(map_err)?,
        download_expiration: r
            .try_get::<i64, _>("download_expiration")
            .map_err(map_err)? as u32,
        min_upload_file_size: r
            .try_get::<i64, _>("min_upload_file_size")
            .map_err(map_err)? as u64,
        max_upload_file_size: r
            .try_get::<i64, _>("max_upload_file_size")
            .map_err(map_err)? as u64,
        presigned_urls_enabled: r.try_get("presigned_urls_enabled").map_err(map_err)?,
        allowed_mime_types: serde_json::from_str(&mimes).map_err(|_| corrupt("mime list"))?,
        default_visibility: Visibility::parse(&vis).map_err(|_| corrupt("visibility"))?,
        created_at: from_millis(r.try_get("created_at").map_err(map_err)?),
        updated_at: from_millis(r.try_get("updated_at").map_err(map_err)?),
    })
}

pub(crate) fn file_from_row(r: &SqliteRow) -> Result<FileRecord, MetaError> {
    let id: String = r.try_get("id").map_err(map_err)?;
    let status: String = r.try_get("status").map_err(map_err)?;
    let status = FileStatus::parse(&status).ok_or_else(|| corrupt("status"))?;
    let metadata: String = r.try_get("metadata").map_err(map_err)?;
    let vis: String = r.try_get("visibility").map_err(map_err)?;
    let access: String = r.try_get("access").map_err(map_err)?;
    let revision: Option<String> = r.try_get("revision").map_err(map_err)?;
    Ok(FileRecord {
        id: FileId::parse(&id).ok_or_else(|| corrupt("file id"))?,
        bucket_id: BucketId(r.try_get("bucket_id").map_err(map_err)?),
        name: r.try_get("name").map_err(map_err)?,
        mime_type: r.try_get("mime_type").map_err(map_err)?,
        size: r.try_get::<i64, _>("size").map_err(map_err)? as u64,
        etag: r.try_get("etag").map_err(map_err)?,
        is_uploaded: status == FileStatus::Ready,
        status,
        metadata: serde_json::from_str(&metadata).map_err(|_| corrupt("metadata"))?,
        visibility: Visibility::parse(&vis).map_err(|_| corrupt("visibility"))?,
        access: Access::parse(&access).map_err(|_| corrupt("access"))?,
        tenant_id: r
            .try_get::<Option<String>, _>("tenant_id")
            .map_err(map_err)?
            .map(TenantId),
        uploaded_by_user_id: r
            .try_get::<Option<String>, _>("uploaded_by_user_id")
            .map_err(map_err)?
            .map(UserId),
        checksum_sha256: r.try_get("checksum_sha256").map_err(map_err)?,
        created_at: from_millis(r.try_get("created_at").map_err(map_err)?),
        updated_at: from_millis(r.try_get("updated_at").map_err(map_err)?),
        revision: match revision {
            Some(s) => Some(RevisionId(
                uuid::Uuid::parse_str(&s).map_err(|_| corrupt("revision"))?,
            )),
            None => None,
        },
    })
}
