//! Byte storage for file contents, chosen at start-up from `TROVE_STORAGE_URL`.
//!
//! Two families of backends sit behind one [`BlobStore`]:
//! - `file://` — our own local-folder backend ([`local`]). It is not `object_store`'s
//!   `LocalFileSystem` because that one does not fsync: we need "write to a temporary file, fsync,
//!   rename, fsync the directory" before an upload is acknowledged.
//! - everything else goes through the `object_store` crate (`memory://` now; S3 is configuration
//!   once its feature is enabled), whose multipart writer streams without buffering whole files.
//!
//! Every operation streams: writers take chunks, readers return a stream of chunks.
//!
//! Error policy: a missing blob is [`BlobError::NotFound`]; everything else is [`BlobError::Io`],
//! whose text is for logs only.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

pub mod local;
mod resumable;

pub use resumable::UploadFile;

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

impl From<object_store::Error> for BlobError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => Self::NotFound,
            other => Self::Io(other.to_string()),
        }
    }
}

/// A stream of content chunks.
pub type BlobStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// The storage for file contents.
#[derive(Debug, Clone)]
pub struct BlobStore {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Local(Arc<local::LocalDir>),
    Object(Arc<dyn ObjectStore>),
}

impl BlobStore {
    /// Opens the backend named by a storage URL: `file:///abs/path`, `file://rel/path` or `memory://`.
    pub async fn from_url(url: &str) -> Result<Self, String> {
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
        } else {
            Err(format!(
                "unsupported storage URL scheme in '{url}' (expected file:// or memory://)"
            ))
        }
    }

    /// A process-local in-memory store, for tests.
    pub fn in_memory() -> Self {
        Self::from_object_store(Arc::new(InMemory::new()))
    }

    /// Wraps any `object_store` backend.
    pub fn from_object_store(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            backend: Backend::Object(store),
        }
    }

    /// Starts writing a blob; nothing is visible under `key` until [`BlobWriter::finish`] returns.
    pub async fn writer(&self, key: &str) -> Result<BlobWriter, BlobError> {
        let inner = match &self.backend {
            Backend::Local(dir) => WriterInner::Local(Box::new(dir.writer(key).await?)),
            Backend::Object(store) => {
                WriterInner::Object(Box::new(object_store::buffered::BufWriter::with_capacity(
                    store.clone(),
                    ObjectPath::from(key),
                    8 * 1024 * 1024,
                )))
            }
        };
        Ok(BlobWriter { inner })
    }

    /// Reads a blob, or the given byte range of it, as a stream.
    pub async fn read(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<BlobStream, BlobError> {
        match &self.backend {
            Backend::Local(dir) => dir.read(key, range).await,
            Backend::Object(store) => {
                let options = GetOptions {
                    range: range.map(GetRange::Bounded),
                    ..GetOptions::default()
                };
                let result = store.get_opts(&ObjectPath::from(key), options).await?;
                Ok(result.into_stream().map_err(std::io::Error::other).boxed())
            }
        }
    }

    /// The size of a stored blob, or `None` when it does not exist.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        let found = match &self.backend {
            Backend::Local(dir) => dir.size(key).await,
            Backend::Object(store) => store
                .head(&ObjectPath::from(key))
                .await
                .map(|m| m.size)
                .map_err(BlobError::from),
        };
        match found {
            Ok(size) => Ok(Some(size)),
            Err(BlobError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes a blob; deleting one that is already gone succeeds.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let result = match &self.backend {
            Backend::Local(dir) => dir.delete(key).await,
            Backend::Object(store) => store
                .delete(&ObjectPath::from(key))
                .await
                .map_err(BlobError::from),
        };
        match result {
            Err(BlobError::NotFound) => Ok(()),
            other => other,
        }
    }

    /// Removes what writers that died left behind (staged files of the local backend no live
    /// writer holds); safe beside running servers. Returns how many were removed.
    pub async fn sweep_abandoned_writes(&self) -> Result<usize, BlobError> {
        match &self.backend {
            Backend::Local(dir) => Ok(dir.sweep_staging().await?),
            // Multipart uploads abandoned in object storage are left to the store's lifecycle rules.
            Backend::Object(_) => Ok(0),
        }
    }

    /// Answers when the storage does.
    pub async fn ping(&self) -> Result<(), BlobError> {
        match &self.backend {
            Backend::Local(dir) => dir.ping().await,
            Backend::Object(store) => {
                let mut listing = store.list(Some(&ObjectPath::from("__ping__")));
                match listing.next().await {
                    Some(Err(e)) => Err(e.into()),
                    _ => Ok(()),
                }
            }
        }
    }
}

/// A blob being written. Dropping it without [`finish`](Self::finish) discards what was written.
pub struct BlobWriter {
    inner: WriterInner,
}

enum WriterInner {
    Local(Box<local::LocalWriter>),
    Object(Box<object_store::buffered::BufWriter>),
}

impl BlobWriter {
    /// Appends a chunk.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        match &mut self.inner {
            WriterInner::Local(w) => w.write(&chunk).await,
            WriterInner::Object(w) => w.put(chunk).await.map_err(BlobError::from),
        }
    }

    /// Makes the blob durable and visible under its key. Returns only once it is.
    pub async fn finish(self) -> Result<(), BlobError> {
        match self.inner {
            WriterInner::Local(w) => (*w).finish().await,
            WriterInner::Object(mut w) => {
                use tokio::io::AsyncWriteExt;
                w.shutdown().await.map_err(BlobError::from)
            }
        }
    }

    /// Discards what was written.
    pub async fn abort(self) {
        match self.inner {
            WriterInner::Local(w) => (*w).abort().await,
            WriterInner::Object(mut w) => {
                if let Err(e) = w.abort().await {
                    tracing::warn!(error = %e, "aborting an object upload failed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn round_trip(store: BlobStore) {
        let mut w = store.writer("b/f/r1").await.unwrap();
        w.write(Bytes::from_static(b"hello ")).await.unwrap();
        assert_eq!(
            store.size("b/f/r1").await.unwrap(),
            None,
            "invisible before finish"
        );
        w.write(Bytes::from_static(b"world")).await.unwrap();
        w.finish().await.unwrap();
        assert_eq!(store.size("b/f/r1").await.unwrap(), Some(11));
        let all: Vec<Bytes> = store
            .read("b/f/r1", None)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(all.concat(), b"hello world");
        let part: Vec<Bytes> = store
            .read("b/f/r1", Some(6..9))
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(part.concat(), b"wor");
        store.delete("b/f/r1").await.unwrap();
        store.delete("b/f/r1").await.unwrap();
        assert_eq!(store.size("b/f/r1").await.unwrap(), None);
        assert!(matches!(
            store.read("b/f/r1", None).await,
            Err(BlobError::NotFound)
        ));

        let mut aborted = store.writer("b/f/r2").await.unwrap();
        aborted.write(Bytes::from_static(b"x")).await.unwrap();
        aborted.abort().await;
        assert_eq!(store.size("b/f/r2").await.unwrap(), None);
        store.ping().await.unwrap();
    }

    #[tokio::test]
    async fn memory_backend() {
        round_trip(BlobStore::in_memory()).await;
    }

    #[tokio::test]
    async fn local_backend() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().join("blobs").display());
        let store = BlobStore::from_url(&url).await.unwrap();
        round_trip(store).await;
        let staging = dir.path().join("blobs").join(local::STAGING_DIR);
        assert_eq!(
            std::fs::read_dir(staging).unwrap().count(),
            0,
            "no temporary file left"
        );
    }

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
