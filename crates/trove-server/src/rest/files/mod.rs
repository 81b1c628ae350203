//! `/v1/files`.

pub mod delete;
pub mod delete_many;
pub mod download;
pub mod get;
pub mod list;
pub mod make_private;
pub mod make_public;
pub mod replace;
pub mod signed_url;
pub mod update;
pub mod upload;
pub(crate) mod upload_multipart;
mod upload_raw;
