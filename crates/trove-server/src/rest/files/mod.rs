//! `/v1/files`.

pub mod delete;
pub mod download;
pub mod get;
pub mod replace;
pub mod update;
pub mod upload;
mod upload_multipart;
mod upload_raw;
