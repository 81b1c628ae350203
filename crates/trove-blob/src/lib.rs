//! Byte storage for file contents, chosen at start-up from `TROVE_STORAGE_URL`.
//!
//! Two families of backends sit behind one [`BlobStore`]:
//! - `file://` — our own local-folder backend ([`local`]). It is not `object_store`'s
//!   `LocalFileSystem` because that one does not fsync: we need "write to a temporary file, fsync,
//!   rename, fsync the directory" before an upload is acknowledged.
//! - `s3://` and `memory://` go through the `object_store` crate ([`object`], [`s3`]), whose
//!   multipart writer streams without buffering whole files and whose S3 client retries, signs
//!   and presigns.
//!
//! Every operation streams: writers take chunks, readers return a stream of chunks.
//!
//! Error policy: a missing blob is [`BlobError::NotFound`]; an object store that does not answer
//! (after retries) is [`BlobError::Unavailable`]; a local I/O failure is [`BlobError::Io`]. The
//! texts are for logs only.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::ObjectStore;
use object_store::memory::InMemory;

pub mod local;
mod multipart;
mod object;
mod object_upload;
mod resumable;
pub mod s3;
mod single_put;

pub use object::PART_SIZE;
pub use object_upload::ObjectUpload;
pub use resumable::{LocalUpload, UploadFile};
pub use s3::S3Settings;

/// Failures of the blob layer.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob not found")]
    NotFound,
    /// Another request holds the upload.
    #[error("the upload is locked by another request")]
    Locked,
    /// The storage backend cannot do this.
    #[error("{0}")]
    Unsupported(&'static str),
    /// The object store did not answer, or failed, after retries.
    #[error("object store unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Io(String),
}

impl From<std::io::Error> for BlobError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            Self::NotFound
        } else {
            Self::Io(e.to_string())
        }
    }
}

/// A stream of content chunks.
pub type BlobStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// A stored blob, as a listing or a HEAD sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub key: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
}

/// What a presigned PUT binds into its signature: the client must send exactly these headers.
/// (`object_store` does not let a presigned URL bind `Content-Length`; the size is checked when
/// the upload is completed instead.)
#[derive(Debug, Clone, Default)]
pub struct PutConstraints {
    pub content_type: String,
    /// Bound as `x-amz-checksum-sha256`: the store refuses bytes with another hash.
    pub sha256_base64: Option<String>,
}

/// A presigned request: the URL and the headers the client must send with it.
#[derive(Debug, Clone)]
pub struct Presigned {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// Response headers a presigned GET asks the store to answer with.
#[derive(Debug, Clone, Default)]
pub struct ResponseOverrides {
    pub content_type: Option<String>,
    pub content_disposition: Option<String>,
    pub cache_control: Option<String>,
}

/// The storage for file contents.
#[derive(Debug, Clone)]
pub struct BlobStore {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Local(Arc<local::LocalDir>),
    Object(Arc<object::ObjectBackend>),
}

impl BlobStore {
    /// Opens the backend named by a storage URL: `file:///abs/path`, `file://rel/path`,
    /// `memory://`, or `s3://bucket[/prefix]` (with `s3`; the `AWS_*` variables fill its gaps).
    /// An S3 bucket is checked before this returns.
    pub async fn open(url: &str, s3: &S3Settings) -> Result<Self, String> {
        if let Some(path) = url.strip_prefix("file://") {
            if path.is_empty() {
                return Err("a file:// URL needs a path".into());
            }
            let dir = local::LocalDir::open(path.into())
                .await
                .map_err(|e| format!("cannot use {path}: {e}"))?;
            Ok(Self {
                backend: Backend::Local(Arc::new(dir)),
            })
        } else if url == "memory://" || url == "memory:" {
            Ok(Self::in_memory())
        } else if url.starts_with("s3://") {
            let backend = s3::open(url, &s3.clone().with_aws_fallback()).await?;
            Ok(Self {
                backend: Backend::Object(Arc::new(backend)),
            })
        } else {
            Err(format!(
                "unsupported storage URL scheme in '{url}' (expected file://, s3:// or memory://)"
            ))
        }
    }

    /// [`Self::open`] with S3 settings from the `AWS_*` variables only.
    pub async fn from_url(url: &str) -> Result<Self, String> {
        Self::open(url, &S3Settings::default()).await
    }

    /// A process-local in-memory store, for tests.
    pub fn in_memory() -> Self {
        let store = Arc::new(InMemory::new());
        Self {
            backend: Backend::Object(Arc::new(object::ObjectBackend {
                store: store.clone() as Arc<dyn ObjectStore>,
                multipart: store,
                signer: None,
                prefix: String::new(),
                kind: "memory",
                held: Default::default(),
                http: None,
            })),
        }
    }

    /// `local`, `s3` or `memory`.
    pub fn kind(&self) -> &'static str {
        match &self.backend {
            Backend::Local(_) => "local",
            Backend::Object(o) => o.kind,
        }
    }

    /// True when the store itself keeps one writer per resumable upload (the local folder's file
    /// locks, which every process sharing the folder sees); object storage needs a lease elsewhere.
    pub fn locks_uploads(&self) -> bool {
        matches!(self.backend, Backend::Local(_))
    }

    /// Starts writing a blob; nothing is visible under `key` until [`BlobWriter::finish`] returns.
    pub async fn writer(&self, key: &str) -> Result<BlobWriter, BlobError> {
        let inner = match &self.backend {
            Backend::Local(dir) => WriterInner::Local(Box::new(dir.writer(key).await?)),
            Backend::Object(o) => WriterInner::Object(Box::new(o.writer(key))),
        };
        Ok(BlobWriter { inner })
    }

    /// [`Self::writer`] for exactly `len` bytes (a request that declared its length): on S3, one
    /// streaming PUT instead of a multipart upload. Fewer bytes, or more, fail the write.
    pub async fn writer_of_len(&self, key: &str, len: u64) -> Result<BlobWriter, BlobError> {
        let inner = match &self.backend {
            Backend::Local(dir) => WriterInner::Local(Box::new(dir.writer(key).await?)),
            Backend::Object(o) => WriterInner::Object(Box::new(o.writer_of_len(key, len).await?)),
        };
        Ok(BlobWriter { inner })
    }

    /// Stores a small blob in one request.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), BlobError> {
        match &self.backend {
            Backend::Object(o) => o.put(key, bytes).await,
            Backend::Local(_) => {
                let mut w = self.writer(key).await?;
                w.write(bytes).await?;
                w.finish().await
            }
        }
    }

    /// Reads a blob, or the given byte range of it, as a stream.
    pub async fn read(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<BlobStream, BlobError> {
        match &self.backend {
            Backend::Local(dir) => dir.read(key, range).await,
            Backend::Object(o) => o.read(key, range).await,
        }
    }

    /// The size of a stored blob, or `None` when it does not exist.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        Ok(self.head(key).await?.map(|i| i.size))
    }

    /// What the store knows of a blob, or `None` when it does not exist.
    pub async fn head(&self, key: &str) -> Result<Option<BlobInfo>, BlobError> {
        let found = match &self.backend {
            Backend::Local(dir) => dir.head(key).await,
            Backend::Object(o) => o.head(key).await,
        };
        match found {
            Ok(info) => Ok(Some(info)),
            Err(BlobError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes a blob; deleting one that is already gone succeeds.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let result = match &self.backend {
            Backend::Local(dir) => dir.delete(key).await,
            Backend::Object(o) => o.delete(key).await,
        };
        match result {
            Err(BlobError::NotFound) => Ok(()),
            other => other,
        }
    }

    /// Every blob whose key starts with `under` (`""` for all, else a folder ending in `/`), in
    /// no particular order; the store's own folders (staging, unfinished uploads) are not listed.
    pub fn list(&self, under: &str) -> BoxStream<'static, Result<BlobInfo, BlobError>> {
        match &self.backend {
            Backend::Local(dir) => dir.list(under),
            Backend::Object(o) => o
                .list(under)
                .filter(|r| {
                    let internal = r
                        .as_ref()
                        .is_ok_and(|i| i.key.starts_with(multipart::STAGING_PREFIX));
                    std::future::ready(!internal)
                })
                .boxed(),
        }
    }

    /// A URL that lets anyone holding it PUT the blob straight into the store, or `None` when
    /// the backend has no such URLs (Trove then receives the bytes itself).
    pub async fn presign_put(
        &self,
        key: &str,
        constraints: &PutConstraints,
        expires_in: Duration,
    ) -> Result<Option<Presigned>, BlobError> {
        match &self.backend {
            Backend::Object(o) => o.presign_put(key, constraints, expires_in).await,
            Backend::Local(_) => Ok(None),
        }
    }

    /// A URL that lets anyone holding it GET the blob straight from the store, or `None`.
    pub async fn presign_get(
        &self,
        key: &str,
        expires_in: Duration,
        overrides: &ResponseOverrides,
    ) -> Result<Option<String>, BlobError> {
        match &self.backend {
            Backend::Object(o) => o.presign_get(key, expires_in, overrides).await,
            Backend::Local(_) => Ok(None),
        }
    }

    /// Whether clients send bytes straight to the store ([`Self::presign_put`] gives URLs).
    pub fn presigns(&self) -> bool {
        matches!(&self.backend, Backend::Object(o) if o.signer.is_some())
    }

    /// Removes what writers that died left behind (staged files of the local backend no live
    /// writer holds); safe beside running servers. Returns how many were removed.
    pub async fn sweep_abandoned_writes(&self) -> Result<usize, BlobError> {
        match &self.backend {
            Backend::Local(dir) => Ok(dir.sweep_staging().await?),
            // A writer that is dropped aborts its multipart upload; one that dies with its
            // process leaves it to the bucket's lifecycle rule (see the README).
            Backend::Object(_) => Ok(0),
        }
    }

    /// Answers when the storage does.
    pub async fn ping(&self) -> Result<(), BlobError> {
        match &self.backend {
            Backend::Local(dir) => dir.ping().await,
            Backend::Object(o) => o.ping().await,
        }
    }
}

/// A blob being written. Dropping it without [`finish`](Self::finish) discards what was written.
pub struct BlobWriter {
    inner: WriterInner,
}

enum WriterInner {
    Local(Box<local::LocalWriter>),
    Object(Box<object::ObjectWriter>),
}

impl BlobWriter {
    /// Appends a chunk.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        match &mut self.inner {
            WriterInner::Local(w) => w.write(&chunk).await,
            WriterInner::Object(w) => w.write(chunk).await,
        }
    }

    /// Makes the blob durable and visible under its key. Returns only once it is.
    pub async fn finish(self) -> Result<(), BlobError> {
        match self.inner {
            WriterInner::Local(w) => (*w).finish().await,
            WriterInner::Object(w) => (*w).finish().await,
        }
    }

    /// Discards what was written.
    pub async fn abort(self) {
        match self.inner {
            WriterInner::Local(w) => (*w).abort().await,
            WriterInner::Object(mut w) => w.abort_now().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dropped_local_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::from_url(&format!("file://{}", dir.path().display()))
            .await
            .unwrap();
        let mut w = store.writer("b/f/r").await.unwrap();
        w.write(Bytes::from_static(b"partial")).await.unwrap();
        drop(w);
        assert_eq!(store.size("b/f/r").await.unwrap(), None);
        assert_eq!(
            std::fs::read_dir(dir.path().join(local::STAGING_DIR))
                .unwrap()
                .count(),
            0
        );
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused() {
        assert!(BlobStore::from_url("ftp://x").await.is_err());
        assert!(BlobStore::from_url("file://").await.is_err());
    }
}
