//! `/v1/buckets`.

pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod update;
pub mod usage;
