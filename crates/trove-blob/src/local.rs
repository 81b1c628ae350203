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
use tokio::io::{AsyncWriteExt, BufWriter};

use futures_util::stream::BoxStream;

use crate::{BlobError, BlobInfo, BlobStream};

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
/// Most shared folders remembered as durable (a bucket's 65,536 fan-out folders and then some);
/// past it, folders are synced again, which is only slower.
const MAX_KNOWN_DURABLE: usize = 1 << 18;

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

/// Creates a new staged file and takes its lock, held until the file is renamed or dropped. A
/// sweeper may remove the file between its creation and the lock; the writer notices (the name no
/// longer leads to the locked file) and starts over with another name.
fn create_locked(staging: &Path) -> std::io::Result<(std::fs::File, PathBuf)> {
    use std::os::unix::fs::MetadataExt;
    loop {
        let path = staging.join(uuid::Uuid::new_v4().simple().to_string());
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        file.lock()?;
        let ours = file.metadata()?;
        match std::fs::metadata(&path) {
            Ok(m) if m.ino() == ours.ino() && m.dev() == ours.dev() => return Ok((file, path)),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
}

/// Removes the files of `staging` that can be locked: no live writer holds them.
fn sweep_abandoned(staging: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(staging)? {
        let path = entry?.path();
        let Ok(file) = std::fs::File::open(&path) else {
            continue; // Renamed or removed meanwhile.
        };
        if file.try_lock().is_ok() {
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Creates the folders between `root` and `dir` that are missing and returns every folder whose
/// entries must be fsynced for `dir` and a new entry in it to survive a crash: `dir` itself, the
/// parent of each folder created, and the parent of each shared folder (a bucket's, a fan-out
/// prefix's) this process has not yet made durable: another upload may have created it and not
/// yet synced its parent.
fn prepare_dirs(
    root: &Path,
    dir: &Path,
    durable_buckets: &Mutex<HashSet<PathBuf>>,
) -> std::io::Result<Vec<PathBuf>> {
    let rel = dir
        .strip_prefix(root)
        .map_err(|_| std::io::Error::other("blob folder outside the root"))?;
    let mut to_sync = Vec::new();
    let mut current = root.to_path_buf();
    let depth_of_file_folder = rel.components().count().saturating_sub(1);
    for (depth, part) in rel.components().enumerate() {
        let next = current.join(part);
        let created = match std::fs::create_dir(&next) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(e),
        };
        let shared = depth < depth_of_file_folder;
        let known = shared
            && durable_buckets
                .lock()
                .is_ok_and(|known| known.contains(&next));
        if created || (shared && !known) {
            to_sync.push(current.clone());
        }
        current = next;
    }
    to_sync.push(dir.to_path_buf());
    Ok(to_sync)
}

/// Renames a synced file to `dest` under `root` and makes the rename durable: every folder holding
/// a new entry is fsynced before this returns.
pub(crate) async fn move_into_place(
    from: PathBuf,
    dest: PathBuf,
    root: PathBuf,
    durable: Arc<Mutex<HashSet<PathBuf>>>,
) -> Result<(), BlobError> {
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let parent = dest
            .parent()
            .ok_or_else(|| std::io::Error::other("blob without a folder"))?;
        // A concurrent delete of the file's last other revision removes its (then empty)
        // folder; the folder is made again and the rename retried.
        let mut attempts = 0;
        let to_sync = loop {
            let to_sync = prepare_dirs(&root, parent, &durable)?;
            match std::fs::rename(&from, &dest) {
                Ok(()) => break to_sync,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 5 => {
                    attempts += 1;
                }
                Err(e) => return Err(e),
            }
        };
        for dir in &to_sync {
            sync_dir(dir)?;
        }
        // Every shared folder on the way (all but the file's own) is durable now.
        if let (Ok(mut known), Some(shared)) = (durable.lock(), parent.parent())
            && shared.starts_with(&root)
        {
            let mut dir = shared;
            while dir != root && known.len() < MAX_KNOWN_DURABLE {
                if !known.insert(dir.to_path_buf()) {
                    break;
                }
                match dir.parent() {
                    Some(p) => dir = p,
                    None => break,
                }
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| BlobError::Io(e.to_string()))??;
    Ok(())
}

/// A blob being written to the staging folder.
pub(crate) struct LocalWriter {
    file: Option<BufWriter<fs::File>>,
    tmp: PathBuf,
    dest: PathBuf,
    root: PathBuf,
    durable_buckets: Arc<Mutex<HashSet<PathBuf>>>,
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
        move_into_place(
            self.tmp.clone(),
            self.dest.clone(),
            self.root.clone(),
            self.durable_buckets.clone(),
        )
        .await?;
        // Dropping the file releases its lock; it has its final name by now.
        drop(file);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_bucket_folder_makes_the_root_durable_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let known = Mutex::new(HashSet::new());
        let first = prepare_dirs(root, &root.join("b/00/01/f1"), &known).unwrap();
        assert_eq!(
            first,
            vec![
                root.to_path_buf(),
                root.join("b"),
                root.join("b/00"),
                root.join("b/00/01"),
                root.join("b/00/01/f1")
            ],
            "each folder holds a new entry"
        );
        // Created by someone else and not yet known durable: their parents are synced again.
        let again = prepare_dirs(root, &root.join("b/00/01/f2"), &known).unwrap();
        assert_eq!(again[0], root.to_path_buf());
        assert_eq!(again.len(), 5);
        for shared in ["b", "b/00", "b/00/01"] {
            known.lock().unwrap().insert(root.join(shared));
        }
        let later = prepare_dirs(root, &root.join("b/00/01/f3"), &known).unwrap();
        assert_eq!(later, vec![root.join("b/00/01"), root.join("b/00/01/f3")]);
    }

    #[test]
    fn only_unlocked_old_staged_files_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let held = dir.path().join("held");
        let abandoned = dir.path().join("abandoned");
        let writer = std::fs::File::create(&held).unwrap();
        writer.lock().unwrap();
        std::fs::File::create(&abandoned).unwrap();
        assert_eq!(sweep_abandoned(dir.path()).unwrap(), 1);
        assert!(held.exists(), "a file its writer holds stays");
        assert!(!abandoned.exists());
    }
}
