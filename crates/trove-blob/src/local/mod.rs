//! The local-folder backend: every blob is a file under the root, written durably.
//!
//! A write goes to `{root}/.staging/{uuid}`, is fsynced, renamed to `{root}/{key}`, and every
//! directory whose entries changed on the way (a new bucket folder's parent too) is fsynced, all
//! before `finish` returns. (Bucket ids cannot contain a dot, so no key collides with `.staging`.)
//!
//! A staged file is held under an exclusive `flock` by its writer for as long as it is being
//! written (`create_locked` closes the gap between creating and locking). The lock dies with the
//! process, so a staged file that someone else can lock is provably abandoned: [`LocalDir::sweep_staging`] removes only those, and can therefore run at any
//! time beside live servers sharing the folder (at start-up, every minute, from `trove gc`).

use std::collections::HashSet;
use std::io::SeekFrom;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use tokio::fs;
use tokio::io::BufWriter;

use futures_util::stream::BoxStream;

use crate::{BlobError, BlobInfo, BlobStream};

mod staging;

pub(crate) use staging::{LocalWriter, move_into_place, sync_dir};
use staging::{create_locked, sweep_abandoned};

/// The folder under the root that holds blobs being written.
pub const STAGING_DIR: &str = ".staging";
/// The folder under the root that holds unfinished resumable uploads.
pub const UPLOADS_DIR: &str = ".uploads";
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
    /// Unfinished resumable uploads, one appendable file each (see `crate::resumable`).
    uploads: PathBuf,
    /// Shared folders (a bucket's, a fan-out prefix's) whose entry in their parent this process
    /// has made durable.
    durable_buckets: Arc<Mutex<HashSet<PathBuf>>>,
}

impl LocalDir {
    /// Creates the folder (durably) if needed. Staged files are left alone: another server may be
    /// writing them; [`Self::sweep_staging`] removes the abandoned ones.
    pub async fn open(root: PathBuf) -> std::io::Result<Self> {
        let staging = root.join(STAGING_DIR);
        let uploads = root.join(UPLOADS_DIR);
        let (r, st, up) = (root.clone(), staging.clone(), uploads.clone());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::create_dir_all(&st)?;
            std::fs::create_dir_all(&up)?;
            sync_dir(&r)?;
            if let Some(parent) = r.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(Self {
            root,
            staging,
            uploads,
            durable_buckets: Arc::default(),
        })
    }

    /// Removes staged files that no live writer holds (their writer crashed or was killed);
    /// returns how many went.
    pub async fn sweep_staging(&self) -> std::io::Result<usize> {
        let staging = self.staging.clone();
        tokio::task::spawn_blocking(move || sweep_abandoned(&staging))
            .await
            .map_err(std::io::Error::other)?
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, BlobError> {
        let rel = Path::new(key);
        let safe = !key.is_empty()
            && rel
                .components()
                .all(|c| matches!(c, Component::Normal(s) if s != STAGING_DIR && s != UPLOADS_DIR));
        if safe {
            Ok(self.root.join(rel))
        } else {
            Err(BlobError::Io(format!("invalid blob key '{key}'")))
        }
    }

    pub(crate) async fn writer(&self, key: &str) -> Result<LocalWriter, BlobError> {
        let dest = self.path_of(key)?;
        let staging = self.staging.clone();
        let (file, tmp) = tokio::task::spawn_blocking(move || create_locked(&staging))
            .await
            .map_err(|e| BlobError::Io(e.to_string()))??;
        Ok(LocalWriter {
            file: Some(BufWriter::with_capacity(
                WRITE_BUFFER,
                fs::File::from_std(file),
            )),
            tmp,
            dest,
            root: self.root.clone(),
            durable_buckets: self.durable_buckets.clone(),
        })
    }

    pub(crate) async fn read(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<BlobStream, BlobError> {
        read_file(self.path_of(key)?, range).await
    }

    pub(crate) async fn head(&self, key: &str) -> Result<BlobInfo, BlobError> {
        let meta = fs::metadata(self.path_of(key)?).await?;
        Ok(BlobInfo {
            key: key.to_owned(),
            size: meta.len(),
            last_modified: meta.modified()?.into(),
        })
    }

    /// Every blob under the folder `under` (`""` for all), found by a walk on a blocking thread
    /// that hands entries over a small queue, so a listing of millions holds few in memory.
    pub(crate) fn list(&self, under: &str) -> BoxStream<'static, Result<BlobInfo, BlobError>> {
        let root = self.root.clone();
        let start = match under.trim_end_matches('/') {
            "" => Ok(root.clone()),
            folder => self.path_of(folder),
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<BlobInfo, BlobError>>(256);
        tokio::task::spawn_blocking(move || {
            let start = match start {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            let mut folders = vec![start];
            while let Some(folder) = folders.pop() {
                let entries = match std::fs::read_dir(&folder) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e.into()));
                        return;
                    }
                };
                for entry in entries {
                    let found = entry.and_then(|e| Ok((e.path(), e.metadata()?)));
                    let (path, meta) = match found {
                        Ok(f) => f,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => {
                            let _ = tx.blocking_send(Err(e.into()));
                            return;
                        }
                    };
                    if meta.is_dir() {
                        if folder != root
                            || !matches!(
                                path.file_name().and_then(|n| n.to_str()),
                                Some(STAGING_DIR | UPLOADS_DIR)
                            )
                        {
                            folders.push(path);
                        }
                        continue;
                    }
                    let Some(key) = path
                        .strip_prefix(&root)
                        .ok()
                        .and_then(|k| k.to_str())
                        .map(str::to_owned)
                    else {
                        continue;
                    };
                    let info = BlobInfo {
                        key,
                        size: meta.len(),
                        last_modified: meta
                            .modified()
                            .map(Into::into)
                            .unwrap_or_else(|_| chrono::Utc::now()),
                    };
                    if tx.blocking_send(Ok(info)).is_err() {
                        return;
                    }
                }
            }
        });
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
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

    pub(crate) fn uploads_dir(&self) -> &Path {
        &self.uploads
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn durable_buckets(&self) -> Arc<Mutex<HashSet<PathBuf>>> {
        self.durable_buckets.clone()
    }

    /// The path of a blob key, refusing keys that would leave the root or enter its own folders.
    pub(crate) fn blob_path(&self, key: &str) -> Result<PathBuf, BlobError> {
        self.path_of(key)
    }

    pub(crate) async fn ping(&self) -> Result<(), BlobError> {
        fs::metadata(&self.staging).await?;
        Ok(())
    }
}

/// Streams `range` of the file at `path` (all of it without a range).
pub(crate) async fn read_file(
    path: PathBuf,
    range: Option<Range<u64>>,
) -> Result<BlobStream, BlobError> {
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
