//! The bytes of unfinished resumable uploads.
//!
//! On the local backend an upload is one appendable file, `{root}/.uploads/{id}`. A request that
//! appends holds an exclusive `flock` on it for as long as it writes, so two requests never
//! interleave bytes, in one process or in several sharing the folder; the second is refused with
//! [`BlobError::Locked`]. The metadata store holds the durable offset: bytes beyond it (written by
//! a request that died before it synced and recorded them) are cut off when the file is next
//! opened, so what a client was told is exactly what is kept. When the last byte has arrived the
//! file is renamed to its blob key, durably, without copying.
//!
//! Object storage maps each request to parts of a multipart upload instead (`object_upload`).

use std::io::SeekFrom;
use std::ops::Range;
use std::path::PathBuf;

use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

use crate::local::{self, LocalDir};
use crate::object_upload::{self, ObjectUpload, data_key};
use crate::{Backend, BlobError, BlobStore, BlobStream};

const WRITE_BUFFER: usize = 1024 * 1024;
/// Bytes written after which their writeback to the disk starts in the background, so the sync
/// that acknowledges a request waits only for the tail instead of the whole request's bytes.
const WRITEBACK_EVERY: u64 = 2 * 1024 * 1024;

impl BlobStore {
    /// Opens an upload's bytes for appending at `committed`, the durable offset the metadata
    /// store holds, creating them at offset 0. [`BlobError::Locked`] when another request holds
    /// them; [`BlobError::NotFound`] when fewer than `committed` bytes exist (they were moved to
    /// their blob key meanwhile).
    pub async fn open_upload(
        &self,
        id: &str,
        committed: u64,
        target: Option<&str>,
    ) -> Result<UploadFile, BlobError> {
        let dir = match &self.backend {
            Backend::Local(dir) => dir,
            Backend::Object(o) => {
                upload_id_ok(id)?;
                let target = target.map_or_else(|| data_key(id), str::to_owned);
                return ObjectUpload::open(o.clone(), o.held.clone(), id, committed, &target)
                    .await
                    .map(UploadFile::Object);
            }
        };
        let path = upload_path(dir, id)?;
        let uploads = dir.uploads_dir().to_path_buf();
        let p = path.clone();
        let file = tokio::task::spawn_blocking(move || -> Result<std::fs::File, BlobError> {
            let (file, created) = match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&p)
            {
                Ok(f) => (f, true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => (
                    std::fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open(&p)?,
                    false,
                ),
                Err(e) => return Err(e.into()),
            };
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Err(BlobError::Locked),
                Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
            }
            if created {
                // The new name must survive a crash before any offset in it is acknowledged.
                local::sync_dir(&uploads)?;
            }
            let len = file.metadata()?.len();
            if len < committed {
                if created {
                    let _ = std::fs::remove_file(&p);
                }
                return Err(BlobError::NotFound);
            }
            if len > committed {
                // Bytes no response acknowledged: the client sends them again.
                file.set_len(committed)?;
            }
            Ok(file)
        })
        .await
        .map_err(|e| BlobError::Io(e.to_string()))??;
        let shared = std::sync::Arc::new(file.try_clone()?);
        let mut file = tokio::fs::File::from_std(file);
        file.seek(SeekFrom::Start(committed)).await?;
        Ok(UploadFile::Local(LocalUpload {
            file: BufWriter::with_capacity(WRITE_BUFFER, file),
            shared,
            writeback: None,
            kicked: committed,
            path,
            len: committed,
            synced: committed,
            root: dir.root().to_path_buf(),
            durable_buckets: dir.durable_buckets(),
        }))
    }

    /// Reads an upload's bytes (for hashing or concatenation).
    pub async fn read_upload(
        &self,
        id: &str,
        range: Option<Range<u64>>,
    ) -> Result<BlobStream, BlobError> {
        match &self.backend {
            Backend::Local(dir) => local::read_file(upload_path(dir, id)?, range).await,
            Backend::Object(o) => {
                upload_id_ok(id)?;
                o.read(&data_key(id), range).await
            }
        }
    }

    /// Deletes an upload's bytes; deleting ones that are gone succeeds.
    pub async fn delete_upload(&self, id: &str) -> Result<(), BlobError> {
        let dir = match &self.backend {
            Backend::Local(dir) => dir,
            Backend::Object(o) => {
                upload_id_ok(id)?;
                object_upload::remove_staged(o, id, true).await;
                return Ok(());
            }
        };
        match tokio::fs::remove_file(upload_path(dir, id)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// The ids of the uploads whose bytes are stored (none on backends without resumable uploads).
    pub async fn upload_ids(&self) -> Result<Vec<String>, BlobError> {
        let dir = match &self.backend {
            Backend::Local(dir) => dir,
            Backend::Object(o) => return object_upload::staged_ids(o).await,
        };
        let path = dir.uploads_dir().to_path_buf();
        tokio::task::spawn_blocking(move || -> Result<Vec<String>, BlobError> {
            let mut ids = Vec::new();
            for entry in std::fs::read_dir(path)? {
                if let Some(name) = entry?.file_name().to_str() {
                    ids.push(name.to_owned());
                }
            }
            Ok(ids)
        })
        .await
        .map_err(|e| BlobError::Io(e.to_string()))?
    }

    /// Whether this backend keeps resumable uploads (every backend does).
    pub fn supports_resumable(&self) -> bool {
        true
    }

    fn local_uploads(&self) -> Result<&LocalDir, BlobError> {
        match &self.backend {
            Backend::Local(dir) => Ok(dir),
            Backend::Object(_) => Err(BlobError::Unsupported(
                "resumable uploads need the local storage backend",
            )),
        }
    }
}

fn upload_id_ok(id: &str) -> Result<(), BlobError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(BlobError::Io(format!("invalid upload id '{id}'")))
    }
}

fn upload_path(dir: &LocalDir, id: &str) -> Result<PathBuf, BlobError> {
    upload_id_ok(id)?;
    Ok(dir.uploads_dir().join(id))
}

/// An upload's bytes, open for appending by one request until dropped.
pub enum UploadFile {
    Local(LocalUpload),
    Object(ObjectUpload),
}

impl UploadFile {
    /// Bytes written so far, durable or not.
    pub fn len(&self) -> u64 {
        match self {
            Self::Local(u) => u.len(),
            Self::Object(u) => u.len(),
        }
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a chunk (not yet durable: see [`Self::sync`]).
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        match self {
            Self::Local(u) => u.write(chunk).await,
            Self::Object(u) => u.write(chunk).await,
        }
    }

    /// Makes every byte written so far durable; returns the durable length.
    pub async fn sync(&mut self) -> Result<u64, BlobError> {
        match self {
            Self::Local(u) => u.sync().await,
            Self::Object(u) => u.sync().await,
        }
    }

    /// Cuts the bytes back to `len` (a chunk whose checksum did not match).
    pub async fn truncate(&mut self, len: u64) -> Result<(), BlobError> {
        match self {
            Self::Local(u) => u.truncate(len).await,
            Self::Object(u) => u.truncate(len).await,
        }
    }

    /// Makes every byte readable: on object storage the multipart upload is completed into its
    /// target (a partial upload's own data object, or the blob a single upload was opened for);
    /// the local file is readable as it is. No byte may be written afterwards.
    pub async fn seal(&mut self) -> Result<(), BlobError> {
        match self {
            Self::Local(_) => Ok(()),
            Self::Object(u) => u.seal().await,
        }
    }

    /// Whether the bytes, once sealed, are in the blob `key` already (no read of the upload's
    /// own bytes is needed).
    pub fn sealed_into(&self, key: &str) -> bool {
        matches!(self, Self::Object(u) if u.target() == key)
    }

    /// Makes the bytes the blob `key`, durably, and ends the upload.
    pub async fn promote(self, store: &BlobStore, key: &str) -> Result<(), BlobError> {
        match self {
            Self::Local(u) => u.promote(store, key).await,
            Self::Object(mut u) => {
                if u.target() != key {
                    return Err(BlobError::Io(format!(
                        "the upload was opened for {}, not {key}",
                        u.target()
                    )));
                }
                u.seal().await
            }
        }
    }
}

/// An upload's bytes in the local folder, open for appending under an exclusive lock held until
/// this is dropped.
pub struct LocalUpload {
    file: BufWriter<tokio::fs::File>,
    /// A second handle on the same open file, for writeback on a blocking thread.
    shared: std::sync::Arc<std::fs::File>,
    writeback: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// The length when writeback was last started.
    kicked: u64,
    path: PathBuf,
    len: u64,
    synced: u64,
    root: PathBuf,
    durable_buckets: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<PathBuf>>>,
}

impl LocalUpload {
    /// Bytes written so far, durable or not.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a chunk (not yet durable: see [`Self::sync`]).
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        self.file.write_all(chunk).await?;
        self.len += chunk.len() as u64;
        let idle = self.writeback.as_ref().is_none_or(|w| w.is_finished());
        if self.len - self.kicked >= WRITEBACK_EVERY && idle {
            // Hand the bytes to the page cache, then let a blocking thread write them back while
            // more arrive; `sync` still makes everything durable before an acknowledgement.
            self.file.flush().await?;
            self.kicked = self.len;
            let file = self.shared.clone();
            self.writeback = Some(tokio::task::spawn_blocking(move || file.sync_data()));
        }
        Ok(())
    }

    /// Makes every byte written so far durable; returns the durable length.
    pub async fn sync(&mut self) -> Result<u64, BlobError> {
        if let Some(w) = self.writeback.take() {
            // Its outcome does not matter: the sync below covers the same bytes and more.
            let _ = w.await;
        }
        if self.synced != self.len {
            self.file.flush().await?;
            self.file.get_ref().sync_data().await?;
            self.synced = self.len;
        }
        Ok(self.synced)
    }

    /// Cuts the bytes back to `len` (a chunk whose checksum did not match).
    pub async fn truncate(&mut self, len: u64) -> Result<(), BlobError> {
        self.file.flush().await?;
        let file = self.file.get_mut();
        file.set_len(len).await?;
        file.seek(SeekFrom::Start(len)).await?;
        file.sync_data().await?;
        self.len = len;
        self.synced = len;
        Ok(())
    }

    /// Makes the bytes the blob `key`, durably, and ends the upload's file.
    pub async fn promote(mut self, store: &BlobStore, key: &str) -> Result<(), BlobError> {
        self.sync().await?;
        self.file.get_ref().sync_all().await?;
        let dest = store.local_uploads()?.blob_path(key)?;
        local::move_into_place(
            self.path.clone(),
            dest,
            self.root.clone(),
            self.durable_buckets.clone(),
        )
        .await
        // Dropping the file releases the lock; the bytes have their final name by now.
    }
}

#[cfg(test)]
mod tests {
    use futures_util::TryStreamExt;

    use super::*;

    async fn store() -> (tempfile::TempDir, BlobStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::from_url(&format!("file://{}", dir.path().display()))
            .await
            .unwrap();
        (dir, store)
    }

    async fn read_all(stream: BlobStream) -> Vec<u8> {
        let chunks: Vec<bytes::Bytes> = stream.try_collect().await.unwrap();
        chunks.concat()
    }

    #[tokio::test]
    async fn unacknowledged_bytes_are_cut_off_when_reopened() {
        let (_dir, store) = store().await;
        let mut up = store.open_upload("u1", 0, None).await.unwrap();
        up.write(b"hello ").await.unwrap();
        assert_eq!(up.sync().await.unwrap(), 6);
        up.write(b"unacknowledged").await.unwrap();
        up.sync().await.unwrap();
        drop(up);
        // The metadata store recorded only 6 bytes.
        let mut up = store.open_upload("u1", 6, None).await.unwrap();
        up.write(b"world").await.unwrap();
        up.sync().await.unwrap();
        drop(up);
        assert_eq!(
            read_all(store.read_upload("u1", None).await.unwrap()).await,
            b"hello world"
        );
        assert!(matches!(
            store.open_upload("u1", 12, None).await,
            Err(BlobError::NotFound)
        ));
    }

    #[tokio::test]
    async fn one_writer_at_a_time() {
        let (_dir, store) = store().await;
        let held = store.open_upload("u2", 0, None).await.unwrap();
        assert!(matches!(
            store.open_upload("u2", 0, None).await,
            Err(BlobError::Locked)
        ));
        drop(held);
        store.open_upload("u2", 0, None).await.unwrap();
    }

    #[tokio::test]
    async fn truncate_and_promote() {
        let (dir, store) = store().await;
        let mut up = store.open_upload("u3", 0, None).await.unwrap();
        up.write(b"keep").await.unwrap();
        up.sync().await.unwrap();
        up.write(b"bad chunk").await.unwrap();
        up.truncate(4).await.unwrap();
        assert_eq!(up.len(), 4);
        up.write(b"!").await.unwrap();
        up.promote(&store, "b/f/r").await.unwrap();
        assert_eq!(
            read_all(store.read("b/f/r", None).await.unwrap()).await,
            b"keep!"
        );
        assert!(!dir.path().join(local::UPLOADS_DIR).join("u3").exists());
        store.delete_upload("u3").await.unwrap();
        assert!(
            store.open_upload("../x", 0, None).await.is_err(),
            "ids are plain names"
        );
    }

    #[tokio::test]
    async fn object_backends_keep_uploads_in_parts_and_a_staged_tail() {
        let store = BlobStore::in_memory();
        let mut up = store.open_upload("u", 0, None).await.unwrap();
        assert!(matches!(
            store.open_upload("u", 0, None).await,
            Err(BlobError::Locked)
        ));
        let part = vec![b'p'; crate::PART_SIZE];
        up.write(&part).await.unwrap();
        up.write(b"tail").await.unwrap();
        let durable = up.sync().await.unwrap();
        assert_eq!(durable, crate::PART_SIZE as u64 + 4);
        up.write(b"unrecorded").await.unwrap();
        drop(up);
        // Another request (another node) resumes from the recorded offset.
        let mut up = store.open_upload("u", durable, None).await.unwrap();
        assert_eq!(up.len(), durable);
        up.write(b"!").await.unwrap();
        up.seal().await.unwrap();
        drop(up);
        let all = read_all(store.read_upload("u", None).await.unwrap()).await;
        assert_eq!(all.len(), crate::PART_SIZE + 5);
        assert!(all.ends_with(b"ptail!"));
        store.delete_upload("u").await.unwrap();
        assert!(store.upload_ids().await.unwrap().is_empty());
    }
}
