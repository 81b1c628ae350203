//! The service layer: every operation on buckets and files, with its access and validation rules,
//! independent of the transport. REST handlers (and later GraphQL and tus) are thin shells over it.

pub mod buckets;
pub mod files;
pub mod ingest;
