//! Newtype identifiers, so that a tenant id is never passed where a user id belongs.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::TroveError;

/// A file's id: a UUIDv7 when Trove makes it, so ids sort by creation time; any UUID when a client
/// chose it (hasura-storage's clients may), so nothing may rely on that order beyond tie-breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FileId(pub Uuid);

impl FileId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// Parses a path or query value; anything that is not a UUID is simply not a file.
    pub fn parse(s: &str) -> Option<Self> {
        Uuid::parse_str(s).ok().map(Self)
    }
}

impl Default for FileId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The id of one stored version of a file's content. Blob keys contain it, so a replacement is written
/// beside the old content and a reader never sees a half-written blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RevisionId(pub Uuid);

impl RevisionId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for RevisionId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RevisionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.simple().fmt(f)
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A user id: the JWT `sub`, or `X-Trove-User-Id` when the admin acts for a user.
    UserId
);
string_id!(
    /// A tenant id: from the configured JWT claim or `X-Trove-Tenant-Id`.
    TenantId
);
string_id!(
    /// A bucket id: a slug of 1–63 characters from `a-z 0-9 - _`.
    BucketId
);

impl BucketId {
    /// Validates a bucket slug.
    pub fn parse(s: &str) -> Result<Self, TroveError> {
        let ok = (1..=63).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(TroveError::invalid(
                "bucket id must be 1-63 characters of a-z, 0-9, '-' and '_'",
            ))
        }
    }

    /// The bucket that exists from the first start and cannot be deleted.
    pub fn default_bucket() -> Self {
        Self("default".to_owned())
    }
}

/// Validates a user or tenant id taken from a header or token claim: non-empty, at most 255 bytes,
/// no control characters.
pub fn valid_principal_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && !s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_slugs() {
        assert!(BucketId::parse("default").is_ok());
        assert!(BucketId::parse("a_b-9").is_ok());
        assert!(BucketId::parse(&"a".repeat(63)).is_ok());
        assert!(BucketId::parse(&"a".repeat(64)).is_err());
        assert!(BucketId::parse("").is_err());
        assert!(BucketId::parse("Upper").is_err());
        assert!(BucketId::parse("a/b").is_err());
        assert!(BucketId::parse("a.b").is_err());
    }

    #[test]
    fn file_ids_parse_only_uuids_and_sort_by_time() {
        assert!(FileId::parse("not-a-uuid").is_none());
        let a = FileId::new();
        let b = FileId::new();
        assert!(a < b);
        assert_eq!(FileId::parse(&a.to_string()), Some(a));
    }
}
