//! Multipart uploads driven part by part, for resumable uploads on object storage: each request
//! of a tus upload sends whole parts, and the bytes below the store's part minimum wait in a
//! staging object under [`STAGING_PREFIX`] (not in memory, not on a local disk) until the next
//! request. The multipart upload id and the parts' ids are kept by the caller (in the metadata
//! database), so a request on another node continues the same upload.

use bytes::Bytes;

use crate::{Backend, BlobError, BlobStore};

/// Where staged tails live, beside the blobs (a bucket id cannot start with a dot).
pub const STAGING_PREFIX: &str = ".uploads/";

impl BlobStore {
    /// Whether this backend keeps resumable uploads as multipart uploads.
    pub fn supports_multipart(&self) -> bool {
        matches!(self.backend, Backend::Object(_))
    }

    fn object(&self) -> Result<&crate::object::ObjectBackend, BlobError> {
        match &self.backend {
            Backend::Object(o) => Ok(o),
            Backend::Local(_) => Err(BlobError::Unsupported(
                "multipart uploads need an object store",
            )),
        }
    }

    /// Starts a multipart upload that will become `key`; returns its id.
    pub async fn start_multipart(&self, key: &str) -> Result<String, BlobError> {
        self.object()?.start_multipart(key).await
    }

    /// Stores part `index` (from 0) of a multipart upload; returns the part's id, which
    /// [`Self::complete_multipart`] needs. Sending the same index again replaces the part.
    pub async fn put_part(
        &self,
        key: &str,
        upload_id: &str,
        index: usize,
        bytes: Bytes,
    ) -> Result<String, BlobError> {
        self.object()?.put_part(key, upload_id, index, bytes).await
    }

    /// Makes the parts, in order, the blob `key`.
    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<String>,
    ) -> Result<(), BlobError> {
        self.object()?
            .complete_multipart(key, upload_id, parts)
            .await
    }

    /// Discards a multipart upload and its parts; one that is gone already is fine.
    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), BlobError> {
        self.object()?.abort_multipart(key, upload_id).await
    }

    /// The key of a staged object of upload `upload`.
    pub fn staging_key(upload: &str, name: &str) -> String {
        format!("{STAGING_PREFIX}{upload}/{name}")
    }
}
