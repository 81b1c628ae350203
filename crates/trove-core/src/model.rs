//! Buckets and files as the API shows them. JSON names follow the Nhost/Rolebase file object.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::TroveError;
use crate::ids::{BucketId, FileId, RevisionId, TenantId, UserId};
use crate::time::rfc3339;
use crate::validate;

/// Who can see a file without any other right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Readable by anyone, anonymous callers included.
    Public,
    /// Readable only as the access rules allow.
    #[default]
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
        }
    }

    pub fn parse(s: &str) -> Result<Self, TroveError> {
        match s {
            "public" => Ok(Self::Public),
            "private" => Ok(Self::Private),
            _ => Err(TroveError::invalid(
                "visibility must be 'public' or 'private'",
            )),
        }
    }
}

/// Which users besides the owner may read a private file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// The owner (and the tenant's admins) only.
    #[default]
    Owner,
    /// Every user of the file's tenant may read it.
    Tenant,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Tenant => "tenant",
        }
    }

    pub fn parse(s: &str) -> Result<Self, TroveError> {
        match s {
            "owner" => Ok(Self::Owner),
            "tenant" => Ok(Self::Tenant),
            _ => Err(TroveError::invalid("access must be 'owner' or 'tenant'")),
        }
    }
}

/// Where a file is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// The row exists, its content is not yet (durably) stored. Never served.
    UploadPending,
    /// The content is durable and matches `size`, `etag` and `checksumSha256`.
    Ready,
    /// The bytes were refused after they were stored (a direct upload completed against object
    /// storage whose content breaks the rules); the row is kept for the client to see why, the
    /// bytes are gone. Reserved: nothing sets it yet, but listings may filter on it.
    Error,
    /// The upload was cancelled by the client; clean-up removes the row later.
    Cancelled,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UploadPending => "upload_pending",
            Self::Ready => "ready",
            Self::Error => "error",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "upload_pending" => Some(Self::UploadPending),
            "ready" => Some(Self::Ready),
            "error" => Some(Self::Error),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// A bucket and its upload and download rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    pub id: BucketId,
    pub cache_control: String,
    /// Seconds a signed download URL stays valid at most.
    pub download_expiration: u32,
    pub min_upload_file_size: u64,
    pub max_upload_file_size: u64,
    pub presigned_urls_enabled: bool,
    pub allowed_mime_types: Vec<String>,
    pub default_visibility: Visibility,
    #[serde(with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// The body of `POST /v1/buckets`: every rule is optional and takes its default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewBucket {
    pub id: String,
    pub cache_control: Option<String>,
    pub download_expiration: Option<u32>,
    pub min_upload_file_size: Option<u64>,
    pub max_upload_file_size: Option<u64>,
    pub presigned_urls_enabled: Option<bool>,
    pub allowed_mime_types: Option<Vec<String>>,
    pub default_visibility: Option<Visibility>,
}

/// The body of `PATCH /v1/buckets/{id}`: only the given fields change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BucketPatch {
    pub cache_control: Option<String>,
    pub download_expiration: Option<u32>,
    pub min_upload_file_size: Option<u64>,
    pub max_upload_file_size: Option<u64>,
    pub presigned_urls_enabled: Option<bool>,
    pub allowed_mime_types: Option<Vec<String>>,
    pub default_visibility: Option<Visibility>,
}

impl Bucket {
    pub const DEFAULT_CACHE_CONTROL: &'static str = "max-age=3600";
    pub const DEFAULT_DOWNLOAD_EXPIRATION: u32 = 30;
    pub const DEFAULT_MIN_SIZE: u64 = 1;
    pub const DEFAULT_MAX_SIZE: u64 = 50_000_000;

    /// Builds a bucket from a creation request, with defaults, and validates it.
    pub fn create(req: NewBucket, now: DateTime<Utc>) -> Result<Self, TroveError> {
        let bucket = Self {
            id: BucketId::parse(&req.id)?,
            cache_control: req
                .cache_control
                .unwrap_or_else(|| Self::DEFAULT_CACHE_CONTROL.to_owned()),
            download_expiration: req
                .download_expiration
                .unwrap_or(Self::DEFAULT_DOWNLOAD_EXPIRATION),
            min_upload_file_size: req.min_upload_file_size.unwrap_or(Self::DEFAULT_MIN_SIZE),
            max_upload_file_size: req.max_upload_file_size.unwrap_or(Self::DEFAULT_MAX_SIZE),
            presigned_urls_enabled: req.presigned_urls_enabled.unwrap_or(true),
            allowed_mime_types: req.allowed_mime_types.unwrap_or_default(),
            default_visibility: req.default_visibility.unwrap_or_default(),
            created_at: now,
            updated_at: now,
        };
        bucket.validate()?;
        Ok(bucket)
    }

    /// The default bucket, as created on first start.
    pub fn default_bucket(now: DateTime<Utc>) -> Self {
        Self::create(
            NewBucket {
                id: BucketId::default_bucket().0,
                ..NewBucket::default()
            },
            now,
        )
        .unwrap_or_else(|_| unreachable!("the default bucket is valid"))
    }

    /// Applies a patch and validates the result; `self` is unchanged on error.
    pub fn patched(&self, patch: BucketPatch, now: DateTime<Utc>) -> Result<Self, TroveError> {
        let mut b = self.clone();
        if let Some(v) = patch.cache_control {
            b.cache_control = v;
        }
        if let Some(v) = patch.download_expiration {
            b.download_expiration = v;
        }
        if let Some(v) = patch.min_upload_file_size {
            b.min_upload_file_size = v;
        }
        if let Some(v) = patch.max_upload_file_size {
            b.max_upload_file_size = v;
        }
        if let Some(v) = patch.presigned_urls_enabled {
            b.presigned_urls_enabled = v;
        }
        if let Some(v) = patch.allowed_mime_types {
            b.allowed_mime_types = v;
        }
        if let Some(v) = patch.default_visibility {
            b.default_visibility = v;
        }
        b.updated_at = now;
        b.validate()?;
        Ok(b)
    }

    fn validate(&self) -> Result<(), TroveError> {
        validate::cache_control(&self.cache_control)?;
        if !(1..=604_800).contains(&self.download_expiration) {
            return Err(TroveError::invalid(
                "downloadExpiration must be between 1 and 604800 seconds",
            ));
        }
        if self.min_upload_file_size > self.max_upload_file_size {
            return Err(TroveError::invalid(
                "minUploadFileSize must not exceed maxUploadFileSize",
            ));
        }
        if self.max_upload_file_size > i64::MAX as u64 {
            return Err(TroveError::invalid("maxUploadFileSize is too large"));
        }
        for pattern in &self.allowed_mime_types {
            validate::mime_pattern(pattern)?;
        }
        Ok(())
    }
}

/// A file's metadata row, including the fields the API never shows (the content revision).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileRecord {
    pub id: FileId,
    pub bucket_id: BucketId,
    pub name: String,
    pub mime_type: String,
    pub size: u64,
    pub etag: String,
    pub is_uploaded: bool,
    pub status: FileStatus,
    pub metadata: serde_json::Value,
    pub visibility: Visibility,
    pub access: Access,
    pub tenant_id: Option<TenantId>,
    pub uploaded_by_user_id: Option<UserId>,
    pub checksum_sha256: Option<String>,
    /// The category's key, if the file has one.
    pub category: Option<String>,
    /// The objects of the application this file is related to.
    pub associations: Vec<crate::association::Association>,
    #[serde(with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// Why the file is in status `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// The blob revision holding the current content; internal.
    #[serde(skip)]
    pub revision: Option<RevisionId>,
    /// The content itself, when it is small enough to live in the metadata store beside the row
    /// (`TROVE_INLINE_MAX_BYTES`) rather than in the blob store. Written with the row; read back
    /// only by the reads that serve content (`MetaStore::get_file_with_bucket`), `None` from the
    /// others.
    #[serde(skip)]
    pub inline_content: Option<bytes::Bytes>,
}

impl FileRecord {
    /// The strong, quoted ETag for content with this SHA-256.
    pub fn etag_for(sha256_hex: &str) -> String {
        format!("\"{sha256_hex}\"")
    }

    /// The blob key of a revision: `{bucketId}/{ab}/{cd}/{fileId}/{revision}`, where `abcd` are
    /// four hex digits of a hash of the file id. Object stores partition request rates by key
    /// prefix, and time-ordered ids would otherwise put every new upload under one prefix; the
    /// same fan-out keeps local folders small. One layout serves every backend.
    pub fn blob_key(bucket: &BucketId, id: FileId, revision: RevisionId) -> String {
        let fan = fan_out(&id.to_string());
        format!(
            "{bucket}/{:02x}/{:02x}/{id}/{revision}",
            fan >> 8,
            fan & 0xff
        )
    }

    /// The key revisions had before the fan-out (`{bucketId}/{fileId}/{revision}`), which
    /// `trove migrate-storage` still reads.
    pub fn legacy_blob_key(bucket: &BucketId, id: FileId, revision: RevisionId) -> String {
        format!("{bucket}/{id}/{revision}")
    }

    /// The key of the current content, if there is any.
    pub fn current_blob_key(&self) -> Option<String> {
        self.revision
            .map(|r| Self::blob_key(&self.bucket_id, self.id, r))
    }
}

/// 16 bits of FNV-1a over `text`: stable across versions and platforms, spread evenly.
fn fan_out(text: &str) -> u16 {
    let mut h: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    ((h >> 16) ^ (h & 0xffff)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::now;

    #[test]
    fn blob_keys_spread_time_ordered_ids_over_many_prefixes() {
        let bucket = BucketId::default_bucket();
        let revision = RevisionId::new();
        let prefixes: std::collections::HashSet<String> = (0..2000)
            .map(|_| {
                let key = FileRecord::blob_key(&bucket, FileId::new(), revision);
                key.split('/').take(3).collect::<Vec<_>>().join("/")
            })
            .collect();
        // 2000 consecutive ids (same millisecond prefix) land under well over a thousand of the
        // 65,536 prefixes.
        assert!(prefixes.len() > 1500, "{} prefixes", prefixes.len());
        let id = FileId::new();
        let key = FileRecord::blob_key(&bucket, id, revision);
        assert_eq!(key, FileRecord::blob_key(&bucket, id, revision), "stable");
        assert!(key.starts_with("default/") && key.ends_with(&format!("/{id}/{revision}")));
        assert_eq!(key.split('/').count(), 5);
    }

    #[test]
    fn bucket_defaults() {
        let b = Bucket::default_bucket(now());
        assert_eq!(b.cache_control, "max-age=3600");
        assert_eq!(b.download_expiration, 30);
        assert_eq!(b.min_upload_file_size, 1);
        assert_eq!(b.max_upload_file_size, 50_000_000);
        assert!(b.presigned_urls_enabled);
        assert!(b.allowed_mime_types.is_empty());
        assert_eq!(b.default_visibility, Visibility::Private);
    }

    #[test]
    fn bucket_rules_are_validated() {
        let mk = |f: fn(&mut NewBucket)| {
            let mut n = NewBucket {
                id: "b".into(),
                ..NewBucket::default()
            };
            f(&mut n);
            Bucket::create(n, now())
        };
        assert!(mk(|n| n.download_expiration = Some(0)).is_err());
        assert!(mk(|n| n.download_expiration = Some(604_801)).is_err());
        assert!(mk(|n| n.download_expiration = Some(604_800)).is_ok());
        assert!(
            mk(|n| {
                n.min_upload_file_size = Some(10);
                n.max_upload_file_size = Some(5)
            })
            .is_err()
        );
        assert!(mk(|n| n.max_upload_file_size = Some(10 * (1 << 30))).is_ok());
        assert!(mk(|n| n.allowed_mime_types = Some(vec!["image".into()])).is_err());
        assert!(mk(|n| n.cache_control = Some("a\nb".into())).is_err());
    }

    #[test]
    fn patch_keeps_what_is_not_given() {
        let b = Bucket::default_bucket(now());
        let p = b
            .patched(
                BucketPatch {
                    max_upload_file_size: Some(5_000_000_000),
                    ..BucketPatch::default()
                },
                now(),
            )
            .unwrap();
        assert_eq!(p.max_upload_file_size, 5_000_000_000);
        assert_eq!(p.cache_control, b.cache_control);
    }
}
