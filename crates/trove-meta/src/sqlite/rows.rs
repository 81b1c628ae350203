//! Row decoding for SQLite.

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

fn corrupt(what: &str) -> MetaError {
    MetaError::Backend(format!("unreadable {what} in database"))
}

pub(crate) fn bucket_from_row(r: &SqliteRow) -> Result<Bucket, MetaError> {
    bucket_from_prefixed_row(r, "")
}

/// Decodes bucket columns named `{prefix}{column}` (joins alias them to avoid clashes).
pub(crate) fn bucket_from_prefixed_row(r: &SqliteRow, prefix: &str) -> Result<Bucket, MetaError> {
    let col = |c: &str| format!("{prefix}{c}");
    let text = |c: &str| r.try_get::<String, _>(col(c).as_str()).map_err(map_err);
    let int = |c: &str| r.try_get::<i64, _>(col(c).as_str()).map_err(map_err);
    Ok(Bucket {
        id: BucketId(text("id")?),
        cache_control: text("cache_control")?,
        download_expiration: int("download_expiration")? as u32,
        min_upload_file_size: int("min_upload_file_size")? as u64,
        max_upload_file_size: int("max_upload_file_size")? as u64,
        presigned_urls_enabled: r
            .try_get(col("presigned_urls_enabled").as_str())
            .map_err(map_err)?,
        allowed_mime_types: serde_json::from_str(&text("allowed_mime_types")?)
            .map_err(|_| corrupt("mime list"))?,
        default_visibility: Visibility::parse(&text("default_visibility")?)
            .map_err(|_| corrupt("visibility"))?,
        created_at: from_millis(int("created_at")?),
        updated_at: from_millis(int("updated_at")?),
    })
}

pub(crate) fn file_from_row(r: &SqliteRow) -> Result<FileRecord, MetaError> {
    let id: String = r.try_get("id").map_err(map_err)?;
    let file_id = FileId::parse(&id).ok_or_else(|| corrupt("file id"))?;
    let status: String = r.try_get("status").map_err(map_err)?;
    let status = FileStatus::parse(&status).ok_or_else(|| corrupt("status"))?;
    let metadata: String = r.try_get("metadata").map_err(map_err)?;
    let vis: String = r.try_get("visibility").map_err(map_err)?;
    let access: String = r.try_get("access").map_err(map_err)?;
    let revision: Option<String> = r.try_get("revision").map_err(map_err)?;
    Ok(FileRecord {
        id: file_id,
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
        category: r.try_get("category").map_err(map_err)?,
        associations: associations_from_json(
            file_id,
            &r.try_get::<String, _>("associations").map_err(map_err)?,
        )?,
        created_at: from_millis(r.try_get("created_at").map_err(map_err)?),
        updated_at: from_millis(r.try_get("updated_at").map_err(map_err)?),
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
