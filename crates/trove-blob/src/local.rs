//! The local-folder backend: every blob is a file under the root, written durably.
//!
//! A write goes to `{root}/.staging/{uuid}`, is fsynced, renamed to `{root}/{key}`, and the
//! directory is fsynced, all before `finish` returns. `.staging` is emptied at start-up, which
//! removes what a crash interrupted. (Bucket ids cannot contain a dot, so no key collides with it.)

use std::io::SeekFrom;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use futures_util::StreamExt;
use tokio::fs;
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::{BlobError, BlobStream};

/// The folder under the root that holds blobs being written.
pub const STAGING_DIR: &str = ".staging";
const WRITE_BUFFER: usize = 1024 * 1024;
const READ_CHUNK: usize = 512 * 1024;
/// Chunks read ahead of the socket per download.
const READ_AHEAD: usize = 4;
/// Reads up to this size are served from one buffer read in one blocking call.
const SMALL_READ: u64 = 64 * 1024;

/// A local folder holding blobs.
#[derive(Debug)]
pub struct LocalDir {
    root: PathBuf,
    staging: PathBuf,
}

impl LocalDir {
    /// Creates the folder if needed and clears interrupted writes.
    pub async fn open(root: PathBuf) -> std::io::Result<Self> {
        let staging = root.join(STAGING_DIR);
        fs::create_dir_all(&staging).await?;
        let mut entries = fs::read_dir(&staging).await?;
        while let Some(entry) = entries.next_entry().await? {
            fs::remove_file(entry.path()).await?;
        }
        Ok(Self { root, staging })
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, BlobError> {
        let rel = Path::new(key);
        let safe = !key.is_empty()
            && rel
                .components()
                .all(|c| matches!(c, Component::Normal(s) if s != STAGING_DIR));
        if safe {
            Ok(self.root.join(rel))
        } else {
            Err(BlobError::Io(format!("invalid blob key '{key}'")))
        }
    }

    pub(crate) async fn writer(&self, key: &str) -> Result<LocalWriter, BlobError> {
        let dest = self.path_of(key)?;
        let tmp = self.staging.join(uuid::Uuid::new_v4().simple().to_string());
        let file = fs::File::create(&tmp).await?;
        Ok(LocalWriter {
            file: Some(BufWriter::with_capacity(WRITE_BUFFER, file)),
            tmp,
            dest,
        })
    }

    pub(crate) async fn read(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<BlobStream, BlobError> {
        let path = self.path_of(key)?;
        // Small reads are one blocking call (open, seek, read) instead of several thread hops.
        if let Some(r) = &range
            && r.end - r.start <= SMALL_READ
        {
            let r = r.clone();
            let bytes = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
                use std::io::{Read, Seek};
                let mut file = std::fs::File::open(path)?;
                file.seek(SeekFrom::Start(r.start))?;
                let mut buf = vec![0u8; (r.end - r.start) as usize];
                file.read_exact(&mut buf)?;
                Ok(buf)
            })
            .await
            .map_err(|e| BlobError::Io(e.to_string()))??;
            let chunk = bytes::Bytes::from(bytes);
            return Ok(futures_util::stream::once(async move { Ok(chunk) }).boxed());
        }
        // Larger reads run on one blocking thread that reads ahead into a small bounded queue, so
        // disk reads overlap with socket writes and no thread hop is paid per chunk.
        let (file, len) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            let file = std::fs::File::open(&path)?;
            let len = file.metadata()?.len();
            Ok((file, len))
        })
        .await
        .map_err(|e| BlobError::Io(e.to_string()))??;
        let r = range.unwrap_or(0..len);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(READ_AHEAD);
        tokio::task::spawn_blocking(move || read_ahead(file, r, &tx));
        Ok(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed())
    }

    pub(crate) async fn size(&self, key: &str) -> Result<u64, BlobError> {
        Ok(fs::metadata(self.path_of(key)?).await?.len())
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = self.path_of(key)?;
        fs::remove_file(&path).await?;
        // The per-file folder is empty once its last revision is gone; the bucket folder stays.
        if let Some(parent) = path.parent()
            && parent != self.root
            && parent.parent() != Some(self.root.as_path())
        {
            let _ = fs::remove_dir(parent).await;
        }
        Ok(())
    }

    pub(crate) async fn ping(&self) -> Result<(), BlobError> {
        fs::metadata(&self.staging).await?;
        Ok(())
    }
}

/// Reads `range` of `file` in chunks and sends them until done, an error, or the reader hangs up.
fn read_ahead(
    mut file: std::fs::File,
    range: Range<u64>,
    tx: &tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
) {
    use std::io::{Read, Seek};
    if let Err(e) = file.seek(SeekFrom::Start(range.start)) {
        let _ = tx.blocking_send(Err(e));
        return;
    }
    let mut left = range.end - range.start;
    while left > 0 {
        let n = left.min(READ_CHUNK as u64) as usize;
        let mut buf = bytes::BytesMut::zeroed(n);
        if let Err(e) = file.read_exact(&mut buf) {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        left -= n as u64;
        if tx.blocking_send(Ok(buf.freeze())).is_err() {
            return;
        }
    }
}

/// A blob being written to the staging folder.
pub(crate) struct LocalWriter {
    file: Option<BufWriter<fs::File>>,
    tmp: PathBuf,
    dest: PathBuf,
}

impl LocalWriter {
    pub(crate) async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| BlobError::Io("writer closed".into()))?;
        file.write_all(chunk).await?;
        Ok(())
    }

    pub(crate) async fn finish(mut self) -> Result<(), BlobError> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| BlobError::Io("writer closed".into()))?;
        file.flush().await?;
        let file = file.into_inner();
        file.sync_all().await?;
        drop(file);
        let parent = self.dest.parent().map(Path::to_path_buf);
        if let Some(parent) = &parent {
            fs::create_dir_all(parent).await?;
        }
        fs::rename(&self.tmp, &self.dest).await?;
        // The rename is durable once the directories holding the new entries are.
        if let Some(parent) = parent {
            let grandparent = parent.parent().map(Path::to_path_buf);
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                std::fs::File::open(&parent)?.sync_all()?;
                if let Some(gp) = grandparent {
                    std::fs::File::open(gp)?.sync_all()?;
                }
                Ok(())
            })
            .await
            .map_err(|e| BlobError::Io(e.to_string()))??;
        }
        Ok(())
    }

    pub(crate) async fn abort(mut self) {
        self.file.take();
        if let Err(e) = fs::remove_file(&self.tmp).await {
            tracing::warn!(error = %e, path = %self.tmp.display(), "removing a staged blob failed");
        }
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        // Neither finished nor aborted (the request was dropped): remove the staged bytes.
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
