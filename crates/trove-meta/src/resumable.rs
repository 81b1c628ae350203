//! The records of resumable uploads and of the listing of unfinished uploads.

use chrono::{DateTime, Utc};
use trove_core::{BucketId, FileId, FileRecord, TenantId, UserId};

/// How a tus upload takes part in a concatenation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TusKind {
    /// An ordinary upload: it becomes its file when its last byte arrives.
    Single,
    /// A part of a concatenation; it never becomes a file on its own.
    Partial,
    /// The concatenation of partial uploads.
    Final,
}

impl TusKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Partial => "partial",
            Self::Final => "final",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "single" => Some(Self::Single),
            "partial" => Some(Self::Partial),
            "final" => Some(Self::Final),
            _ => None,
        }
    }
}

/// A tus upload's durable state. Its offset counts only bytes the storage has made durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TusUpload {
    /// The upload id; for single and final uploads also the file id.
    pub id: FileId,
    pub kind: TusKind,
    /// The creator (with the tenant): nobody else may see or continue the upload.
    pub owner: Option<UserId>,
    pub tenant: Option<TenantId>,
    pub offset: u64,
    /// `None` while the client defers the length.
    pub length: Option<u64>,
    /// The `Upload-Metadata` header as the client sent it.
    pub metadata: Option<String>,
    pub fingerprint: Option<String>,
    /// A final upload's `Upload-Concat` value (`final;<urls>`).
    pub concat: Option<String>,
    /// A partial upload's final upload, once a final upload names it.
    pub final_id: Option<FileId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TusUpload {
    /// Whether every byte has arrived.
    pub fn is_complete(&self) -> bool {
        self.length == Some(self.offset)
    }
}

/// How an unfinished upload receives its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadProtocol {
    Tus,
    Direct,
}

impl UploadProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tus => "tus",
            Self::Direct => "direct",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "tus" => Some(Self::Tus),
            "direct" => Some(Self::Direct),
            _ => None,
        }
    }
}

/// Which unfinished uploads to list: newest first, before `before` (created at, id).
#[derive(Debug, Clone)]
pub struct UnfinishedQuery {
    /// Only uploads by this user id.
    pub uploaded_by: Option<UserId>,
    /// Only uploads in this tenant (`Some(None)`: without a tenant). A user's own uploads are
    /// both: a user is the pair (tenant, sub).
    pub tenant: Option<Option<TenantId>>,
    pub protocol: Option<UploadProtocol>,
    pub fingerprint: Option<String>,
    pub bucket_id: Option<BucketId>,
    pub before: Option<(DateTime<Utc>, FileId)>,
    pub limit: u32,
    /// Direct uploads whose URL expired before this are over.
    pub now: DateTime<Utc>,
    /// tus uploads without progress since this are over.
    pub stale_before: DateTime<Utc>,
}

/// An upload that has not received all its bytes yet.
#[derive(Debug, Clone, PartialEq)]
pub struct UnfinishedUpload {
    pub file: FileRecord,
    pub protocol: UploadProtocol,
    /// A tus final upload waiting for its partial uploads (listed under it).
    pub is_final: bool,
    pub offset: u64,
    pub length: Option<u64>,
    /// When a tus upload last made progress (it expires a fixed time after).
    pub last_progress: Option<DateTime<Utc>>,
    /// When a direct upload's URL expires.
    pub url_expires_at: Option<DateTime<Utc>>,
    pub fingerprint: Option<String>,
}
