//! The `object_store` backends: S3 (any S3-compatible store) and memory.
//!
//! Keys are stored under an optional prefix (`s3://bucket/prefix`). Writes of a known length
//! stream into one PUT ([`crate::single_put`]); others into multipart uploads of [`PART_SIZE`]
//! parts with at most [`PARTS_IN_FLIGHT`] in flight. Either way a writer holds at most a few parts
//! in memory whatever the file's size ([`ObjectWriter`]).
//!
//! Every failure other than a missing object is [`BlobError::Unavailable`]: the store did not
//! answer, or answered with an error after `object_store`'s retries.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as ObjectPath;
use object_store::signer::{HeaderName, HeaderValue, Method, SignedUrlOptions, Signer};
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, PutPayloadMut, WriteMultipart,
};

use crate::{BlobError, BlobInfo, BlobStream, Presigned, PutConstraints, ResponseOverrides};

/// Size of each part a streaming write sends (S3's minimum is 5 MiB).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts of one write in flight at once.
const PARTS_IN_FLIGHT: usize = 2;

/// An object store and where in it Trove's keys live.
pub(crate) struct ObjectBackend {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) multipart: Arc<dyn MultipartStore>,
    /// Present for stores that presign URLs (S3).
    pub(crate) signer: Option<Arc<dyn Signer>>,
    /// `""` or `"some/prefix/"`.
    pub(crate) prefix: String,
    pub(crate) kind: &'static str,
    /// Resumable uploads a request of this process holds.
    pub(crate) held: crate::object_upload::Held,
    /// The client of single streaming PUTs (stores that presign URLs).
    pub(crate) http: Option<reqwest::Client>,
}

impl std::fmt::Debug for ObjectBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectBackend")
            .field("store", &self.store)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl From<object_store::Error> for BlobError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => Self::NotFound,
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl ObjectBackend {
    pub(crate) fn path(&self, key: &str) -> ObjectPath {
        ObjectPath::from(format!("{}{key}", self.prefix))
    }

    pub(crate) fn writer(&self, key: &str) -> ObjectWriter {
        ObjectWriter {
            store: self.store.clone(),
            path: self.path(key),
            state: WriteState::Buffer(PutPayloadMut::new()),
        }
    }

    /// A writer of exactly `len` bytes: one streaming PUT where the store presigns and the
    /// length is above one part and within a single PUT's limit, else as [`Self::writer`].
    pub(crate) async fn writer_of_len(
        &self,
        key: &str,
        len: u64,
    ) -> Result<ObjectWriter, BlobError> {
        let (Some(signer), Some(http)) = (&self.signer, &self.http) else {
            return Ok(self.writer(key));
        };
        if len < PART_SIZE as u64 || len > crate::single_put::SINGLE_PUT_MAX {
            return Ok(self.writer(key));
        }
        let put = crate::single_put::SinglePut::start(http, signer.as_ref(), &self.path(key), len)
            .await?;
        Ok(ObjectWriter {
            store: self.store.clone(),
            path: self.path(key),
            state: WriteState::Single(Box::new(put)),
        })
    }

    pub(crate) async fn read(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<BlobStream, BlobError> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = self.store.get_opts(&self.path(key), options).await?;
        Ok(result.into_stream().map_err(std::io::Error::other).boxed())
    }

    pub(crate) async fn head(&self, key: &str) -> Result<BlobInfo, BlobError> {
        let meta = self.store.head(&self.path(key)).await?;
        Ok(BlobInfo {
            key: key.to_owned(),
            size: meta.size,
            last_modified: meta.last_modified,
        })
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<(), BlobError> {
        Ok(self.store.delete(&self.path(key)).await?)
    }

    pub(crate) async fn put(&self, key: &str, bytes: Bytes) -> Result<(), BlobError> {
        self.store
            .put(&self.path(key), PutPayload::from_bytes(bytes))
            .await?;
        Ok(())
    }

    /// Every stored object under `under` (a key prefix ending in `/`, or `""` for all).
    pub(crate) fn list(
        &self,
        under: &str,
    ) -> futures_util::stream::BoxStream<'static, Result<BlobInfo, BlobError>> {
        let prefix = self.prefix.clone();
        let root = format!("{prefix}{under}");
        let root = root.trim_end_matches('/');
        let listing = if root.is_empty() {
            self.store.list(None)
        } else {
            self.store.list(Some(&ObjectPath::from(root)))
        };
        listing
            .map(move |item| {
                let meta = item?;
                let key = meta
                    .location
                    .as_ref()
                    .strip_prefix(prefix.as_str())
                    .unwrap_or(meta.location.as_ref())
                    .to_owned();
                Ok(BlobInfo {
                    key,
                    size: meta.size,
                    last_modified: meta.last_modified,
                })
            })
            .boxed()
    }

    /// Answers when the store does: lists at most one key under the prefix.
    pub(crate) async fn ping(&self) -> Result<(), BlobError> {
        let path = ObjectPath::from(format!("{}__ping__", self.prefix));
        match self.store.list(Some(&path)).next().await {
            Some(Err(e)) => Err(e.into()),
            _ => Ok(()),
        }
    }

    pub(crate) async fn presign_put(
        &self,
        key: &str,
        constraints: &PutConstraints,
        expires_in: Duration,
    ) -> Result<Option<Presigned>, BlobError> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let mut options = SignedUrlOptions::default();
        let mut headers = Vec::new();
        let mut bind = |name: &'static str, value: String| -> Result<(), BlobError> {
            let v = HeaderValue::from_str(&value)
                .map_err(|_| BlobError::Io(format!("invalid {name} header value")))?;
            options
                .signed_headers
                .append(HeaderName::from_static(name), v);
            headers.push((name.to_owned(), value));
            Ok(())
        };
        bind("content-type", constraints.content_type.clone())?;
        if let Some(sha) = &constraints.sha256_base64 {
            bind("x-amz-checksum-sha256", sha.clone())?;
        }
        let url = signer
            .signed_url_opts(Method::PUT, &self.path(key), expires_in, &options)
            .await?;
        Ok(Some(Presigned {
            url: url.to_string(),
            headers,
        }))
    }

    pub(crate) async fn presign_get(
        &self,
        key: &str,
        expires_in: Duration,
        overrides: &ResponseOverrides,
    ) -> Result<Option<String>, BlobError> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let mut query = Vec::new();
        if let Some(t) = &overrides.content_type {
            query.push(("response-content-type", t.clone()));
        }
        if let Some(d) = &overrides.content_disposition {
            query.push(("response-content-disposition", d.clone()));
        }
        if let Some(c) = &overrides.cache_control {
            query.push(("response-cache-control", c.clone()));
        }
        let options = SignedUrlOptions::default().with_query(query);
        let url = signer
            .signed_url_opts(Method::GET, &self.path(key), expires_in, &options)
            .await?;
        Ok(Some(url.to_string()))
    }

    pub(crate) async fn start_multipart(&self, key: &str) -> Result<String, BlobError> {
        Ok(self.multipart.create_multipart(&self.path(key)).await?)
    }

    pub(crate) async fn put_part(
        &self,
        key: &str,
        upload_id: &str,
        index: usize,
        bytes: Bytes,
    ) -> Result<String, BlobError> {
        let part = self
            .multipart
            .put_part(
                &self.path(key),
                &upload_id.to_owned(),
                index,
                PutPayload::from_bytes(bytes),
            )
            .await?;
        Ok(part.content_id)
    }

    pub(crate) async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<String>,
    ) -> Result<(), BlobError> {
        let parts = parts
            .into_iter()
            .map(|content_id| PartId { content_id })
            .collect();
        self.multipart
            .complete_multipart(&self.path(key), &upload_id.to_owned(), parts)
            .await?;
        Ok(())
    }

    pub(crate) async fn abort_multipart(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<(), BlobError> {
        match self
            .multipart
            .abort_multipart(&self.path(key), &upload_id.to_owned())
            .await
        {
            Err(object_store::Error::NotFound { .. }) | Ok(()) => Ok(()),
            // The memory store reports an unknown upload as a generic error.
            Err(object_store::Error::Generic { source, .. })
                if self.kind == "memory" && source.to_string().contains("not found") =>
            {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// A streaming write to an object store. The first [`PART_SIZE`] bytes are buffered: a smaller
/// blob is one PUT. A larger one becomes a multipart upload with at most [`PARTS_IN_FLIGHT`]
/// parts in flight, which is aborted when anything fails, when [`Self::abort`] is called, or
/// when the writer is dropped unfinished (in the background), so no failed write leaves parts
/// behind in the store.
pub(crate) struct ObjectWriter {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    state: WriteState,
}

enum WriteState {
    Buffer(PutPayloadMut),
    Multipart(Box<WriteMultipart>),
    Single(Box<crate::single_put::SinglePut>),
    Done,
}

impl ObjectWriter {
    pub(crate) async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        match &mut self.state {
            WriteState::Buffer(buf) => {
                buf.push(chunk);
                if buf.content_length() >= PART_SIZE {
                    let buffered = std::mem::take(buf).freeze();
                    let upload = self.store.put_multipart(&self.path).await?;
                    let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
                    for bytes in buffered {
                        w.put(bytes);
                    }
                    self.state = WriteState::Multipart(Box::new(w));
                }
                Ok(())
            }
            WriteState::Multipart(w) => {
                if let Err(e) = w.wait_for_capacity(PARTS_IN_FLIGHT).await {
                    self.abort_now().await;
                    return Err(e.into());
                }
                w.put(chunk);
                Ok(())
            }
            WriteState::Single(put) => {
                let written = put.write(chunk).await;
                if written.is_err() {
                    self.abort_now().await;
                }
                written
            }
            WriteState::Done => Err(BlobError::Io("writer closed".into())),
        }
    }

    pub(crate) async fn finish(mut self) -> Result<(), BlobError> {
        match std::mem::replace(&mut self.state, WriteState::Done) {
            WriteState::Buffer(buf) => {
                self.store.put(&self.path, buf.freeze()).await?;
                Ok(())
            }
            WriteState::Multipart(mut w) => {
                // Every part stored first, so a failed part aborts the upload instead of
                // leaving it behind.
                if let Err(e) = w.wait_for_capacity(0).await {
                    abort(w).await;
                    return Err(e.into());
                }
                w.finish().await?;
                Ok(())
            }
            WriteState::Single(put) => put.finish().await,
            WriteState::Done => Err(BlobError::Io("writer closed".into())),
        }
    }

    pub(crate) async fn abort_now(&mut self) {
        match std::mem::replace(&mut self.state, WriteState::Done) {
            WriteState::Multipart(w) => abort(w).await,
            WriteState::Single(mut put) => put.abort(),
            _ => {}
        }
    }
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        if let WriteState::Multipart(w) = std::mem::replace(&mut self.state, WriteState::Done)
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(abort(w));
        }
    }
}

async fn abort(w: Box<WriteMultipart>) {
    if let Err(e) = w.abort().await {
        tracing::warn!(error = %e, "aborting a multipart upload failed");
    }
}
