//! The service layer: every operation on buckets, files, categories and associations, with its
//! access and validation rules, independent of the transport. REST handlers (and GraphQL and tus)
//! are thin shells over it.

pub mod associations;
pub mod audit;
pub mod buckets;
pub mod categories;
pub mod files;
pub mod ingest;
pub mod resumable;
pub mod signed;
pub mod uploads;
pub mod view;
