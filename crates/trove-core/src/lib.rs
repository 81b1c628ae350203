//! Trove's domain: identifiers, buckets and files, who may do what to them, how input is validated,
//! and the pure parts of HTTP that downloads need (ranges, preconditions, dispositions).
//!
//! Nothing here performs I/O, so every rule is a plain function that REST, GraphQL and tus call alike
//! and that unit tests can exercise exhaustively.

pub mod access;
pub mod association;
pub mod caching;
pub mod category;
pub mod disposition;
pub mod error;
pub mod ids;
pub mod listing;
pub mod mime;
pub mod model;
pub mod nesting;
pub mod precondition;
pub mod range;
pub mod time;
pub mod transform;
pub mod tus;
pub mod validate;

pub use access::{FilePermission, Principal, UserContext};
pub use association::{Association, EntityRef};
pub use category::{Category, CategoryPatch, ContentRules, NewCategory};
pub use error::{ErrorCode, TroveError};
pub use ids::{BucketId, FileId, RevisionId, TenantId, UserId};
pub use listing::{FileQuery, ListScope};
pub use model::{Access, Bucket, BucketPatch, FileRecord, FileStatus, NewBucket, Visibility};
