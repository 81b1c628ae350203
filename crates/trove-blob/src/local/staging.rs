//! Writing blobs durably into the local folder: staged files under their writer's lock, the
//! sweep of abandoned ones, and the rename into place with every changed folder fsynced.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::fs;
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::BlobError;

/// Most shared folders remembered as durable (a bucket's 65,536 fan-out folders and then some);
/// past it, folders are synced again, which is only slower.
const MAX_KNOWN_DURABLE: usize = 1 << 18;

/// Creates a new staged file and takes its lock, held until the file is renamed or dropped. A
/// sweeper may remove the file between its creation and the lock; the writer notices (the name no
/// longer leads to the locked file) and starts over with another name.
pub(super) fn create_locked(staging: &Path) -> std::io::Result<(std::fs::File, PathBuf)> {
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
pub(super) fn sweep_abandoned(staging: &Path) -> std::io::Result<usize> {
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
    pub(super) file: Option<BufWriter<fs::File>>,
    pub(super) tmp: PathBuf,
    pub(super) dest: PathBuf,
    pub(super) root: PathBuf,
    pub(super) durable_buckets: Arc<Mutex<HashSet<PathBuf>>>,
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
