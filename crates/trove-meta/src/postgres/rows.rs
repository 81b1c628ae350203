//! Row decoding and error mapping for PostgreSQL. Rows are read by column position, in the order
//! of [`FILE_SELECT`] and [`BUCKET_COLUMNS`].

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use trove_core::time::from_millis;
use trove_core::{
    Access, Association, Bucket, BucketId, Category, FileId, FileRecord, FileStatus, RevisionId,
    TenantId, UserId, Visibility,
};
use uuid::Uuid;

use crate::{MetaError, TusKind, TusUpload};

/// Every file column, then the file's associations as a JSON array, from `files f`.
pub(super) const FILE_SELECT: &str = "SELECT f.id, f.bucket_id, f.name, f.mime_type, f.size, \
     f.etag, f.status, f.metadata, f.visibility, f.access, f.category, f.tenant_id, \
     f.uploaded_by_user_id, f.checksum_sha256, f.revision, f.created_at, f.updated_at, \
     COALESCE((SELECT jsonb_agg(jsonb_build_object('id', a.id, 'entityName', a.entity_name, \
       'entityReference', a.entity_reference, \
       'createdAt', (extract(epoch FROM a.created_at) * 1000)::bigint) ORDER BY a.created_at, a.id) \
       FROM file_associations a WHERE a.file_id = f.id), '[]'::jsonb) AS associations, \
     f.status_reason FROM files f";

/// The columns [`file_from_row`] reads; a query's own columns come after them.
pub(super) const FILE_COLUMNS: usize = 19;

/// A bucket's columns, in the order [`bucket_from_row`] reads them.
pub(super) const BUCKET_COLUMNS: &str = "id, cache_control, download_expiration, \
     min_upload_file_size, max_upload_file_size, presigned_urls_enabled, allowed_mime_types, \
     default_visibility, created_at, updated_at";

pub(super) const CATEGORY_COLUMNS: &str = "key, name, bucket_id, max_size, allowed_mime_types, \
     default_visibility, default_access, created_at, updated_at";

pub(super) const TUS_COLUMNS: &str = "id, kind, owner_user_id, tenant_id, upload_offset, \
     upload_length, metadata, fingerprint, concat, final_id, created_at, updated_at";

/// SQLSTATEs that mean "try again later", not "this request is wrong": the server is shutting
/// down or restarting (57P01-57P03), the statement ran past `TROVE_DATABASE_TIMEOUT` (57014), a
/// serialization failure or deadlock (40001, 40P01), too many connections (53300).
const TRANSIENT: &[&str] = &[
    "57P01", "57P02", "57P03", "57014", "40001", "40P01", "53300",
];

pub(crate) fn map_err(e: sqlx::Error) -> MetaError {
    match &e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            MetaError::Unavailable(e.to_string())
        }
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            MetaError::Conflict(db.message().to_owned())
        }
        sqlx::Error::Database(db) if db.code().is_some_and(|c| TRANSIENT.contains(&&*c)) => {
            MetaError::Unavailable(e.to_string())
        }
        _ => MetaError::Backend(e.to_string()),
    }
}

fn corrupt(what: &str) -> MetaError {
    MetaError::Backend(format!("unreadable {what} in database"))
}

fn get<'r, T>(r: &'r PgRow, i: usize) -> Result<T, MetaError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    r.try_get(i).map_err(map_err)
}

/// A time as stored: to the millisecond, as listings' cursors carry it.
pub(super) fn ms(t: DateTime<Utc>) -> DateTime<Utc> {
    from_millis(t.timestamp_millis())
}

/// A non-negative count as PostgreSQL's `bigint`.
pub(super) fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn bucket_from_row(r: &PgRow, at: usize) -> Result<Bucket, MetaError> {
    Ok(Bucket {
        id: BucketId(get(r, at)?),
        cache_control: get(r, at + 1)?,
        download_expiration: get::<i64>(r, at + 2)?.clamp(0, i64::from(u32::MAX)) as u32,
        min_upload_file_size: get::<i64>(r, at + 3)?.max(0) as u64,
        max_upload_file_size: get::<i64>(r, at + 4)?.max(0) as u64,
        presigned_urls_enabled: get(r, at + 5)?,
        allowed_mime_types: get::<Json<Vec<String>>>(r, at + 6)?.0,
        default_visibility: Visibility::parse(&get::<String>(r, at + 7)?)
            .map_err(|_| corrupt("visibility"))?,
        created_at: get(r, at + 8)?,
        updated_at: get(r, at + 9)?,
    })
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssociationJson {
    id: Uuid,
    entity_name: String,
    entity_reference: String,
    created_at: i64,
}

/// Decodes the file of a row that starts with [`FILE_SELECT`]'s columns.
pub(super) fn file_from_row(r: &PgRow) -> Result<FileRecord, MetaError> {
    let id = FileId(get(r, 0)?);
    let status = FileStatus::parse(&get::<String>(r, 6)?).ok_or_else(|| corrupt("status"))?;
    let associations: Json<Vec<AssociationJson>> = get(r, 17)?;
    Ok(FileRecord {
        id,
        bucket_id: BucketId(get(r, 1)?),
        name: get(r, 2)?,
        mime_type: get(r, 3)?,
        size: get::<i64>(r, 4)?.max(0) as u64,
        etag: get(r, 5)?,
        is_uploaded: status == FileStatus::Ready,
        status,
        metadata: get::<Json<serde_json::Value>>(r, 7)?.0,
        visibility: Visibility::parse(&get::<String>(r, 8)?).map_err(|_| corrupt("visibility"))?,
        access: Access::parse(&get::<String>(r, 9)?).map_err(|_| corrupt("access"))?,
        category: get(r, 10)?,
        tenant_id: get::<Option<String>>(r, 11)?.map(TenantId),
        uploaded_by_user_id: get::<Option<String>>(r, 12)?.map(UserId),
        checksum_sha256: get(r, 13)?,
        revision: get::<Option<Uuid>>(r, 14)?.map(RevisionId),
        created_at: get(r, 15)?,
        updated_at: get(r, 16)?,
        associations: associations
            .0
            .into_iter()
            .map(|a| Association {
                id: a.id,
                file_id: id,
                entity_name: a.entity_name,
                entity_reference: a.entity_reference,
                created_at: from_millis(a.created_at),
            })
            .collect(),
        status_reason: get(r, 18)?,
        inline_content: None,
    })
}

pub(super) fn category_from_row(r: &PgRow) -> Result<Category, MetaError> {
    Ok(Category {
        key: get(r, 0)?,
        name: get(r, 1)?,
        bucket_id: get::<Option<String>>(r, 2)?.map(BucketId),
        max_size: get::<Option<i64>>(r, 3)?.map(|n| n.max(0) as u64),
        allowed_mime_types: get::<Json<Vec<String>>>(r, 4)?.0,
        default_visibility: get::<Option<String>>(r, 5)?
            .map(|v| Visibility::parse(&v))
            .transpose()
            .map_err(|_| corrupt("visibility"))?,
        default_access: get::<Option<String>>(r, 6)?
            .map(|a| Access::parse(&a))
            .transpose()
            .map_err(|_| corrupt("access"))?,
        created_at: get(r, 7)?,
        updated_at: get(r, 8)?,
    })
}

/// Decodes a tus upload whose [`TUS_COLUMNS`] start at column `at`.
pub(super) fn tus_from_row(r: &PgRow, at: usize) -> Result<TusUpload, MetaError> {
    Ok(TusUpload {
        id: FileId(get(r, at)?),
        kind: TusKind::parse(&get::<String>(r, at + 1)?).ok_or_else(|| corrupt("tus kind"))?,
        owner: get::<Option<String>>(r, at + 2)?.map(UserId),
        tenant: get::<Option<String>>(r, at + 3)?.map(TenantId),
        offset: get::<i64>(r, at + 4)?.max(0) as u64,
        length: get::<Option<i64>>(r, at + 5)?.map(|l| l.max(0) as u64),
        metadata: get(r, at + 6)?,
        fingerprint: get(r, at + 7)?,
        concat: get(r, at + 8)?,
        final_id: get::<Option<Uuid>>(r, at + 9)?.map(FileId),
        created_at: get(r, at + 10)?,
        updated_at: get(r, at + 11)?,
    })
}

pub(super) fn tus_rows(rows: &[PgRow]) -> Result<Vec<TusUpload>, MetaError> {
    rows.iter().map(|r| tus_from_row(r, 0)).collect()
}

pub(super) fn files_from(rows: &[PgRow]) -> Result<Vec<FileRecord>, MetaError> {
    rows.iter().map(file_from_row).collect()
}
