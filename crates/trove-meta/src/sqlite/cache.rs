//! A cache of recently read files with their bucket (and inline content): what a download or a
//! metadata read needs, without a SQLite statement.
//!
//! Correctness rests on one rule: an entry is used only while nothing has been committed since it
//! was read. Every write of this store bumps a generation after it returns (so after its commit),
//! and a reader tags what it caches with the generation it saw before its own read; an entry
//! whose tag differs is ignored. Commits by other processes (`trove gc`, a tool) are noticed through
//! `PRAGMA data_version`, checked at most every [`VERSION_CHECK`]: their changes show within that
//! time. A write clears the whole cache, so the cache helps read-mostly traffic and costs a map
//! lookup otherwise.
//!
//! Bounded: at most [`MAX_ENTRIES`] files and [`MAX_INLINE_BYTES`] of inline content; a full cache
//! is emptied rather than evicted entry by entry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use trove_core::{Bucket, FileId, FileRecord};

use super::reader::Readers;
use super::rows::map_rusqlite_err;
use crate::MetaError;

const MAX_ENTRIES: usize = 4096;
const MAX_INLINE_BYTES: usize = 4 << 20;
/// How late a commit by another process may be noticed.
pub(super) const VERSION_CHECK: Duration = Duration::from_millis(20);

#[derive(Debug)]
struct Entry {
    generation: u64,
    file: FileRecord,
    bucket: Bucket,
}

#[derive(Debug, Default)]
struct Map {
    entries: HashMap<FileId, Entry>,
    inline_bytes: usize,
}

#[derive(Debug)]
pub(super) struct ReadCache {
    generation: AtomicU64,
    map: RwLock<Map>,
    version: Mutex<VersionCheck>,
}

/// `data_version` is per connection (it counts the commits of the others), so it is read on a
/// connection of its own.
#[derive(Debug)]
struct VersionCheck {
    at: Instant,
    seen: Option<i64>,
    conn: Option<rusqlite::Connection>,
}

impl ReadCache {
    pub(super) fn new() -> Self {
        Self {
            generation: AtomicU64::new(0),
            map: RwLock::new(Map::default()),
            version: Mutex::new(VersionCheck {
                at: Instant::now(),
                seen: None,
                conn: None,
            }),
        }
    }

    /// Something was (or may have been) committed: nothing cached before now is used again.
    pub(super) fn wrote(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The generation to tag a read with; call before reading the database.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Notices commits by other processes: at most every [`VERSION_CHECK`], one `PRAGMA
    /// data_version` (it changes whenever another connection committed).
    pub(super) fn check_version(&self, readers: &Readers) -> Result<(), MetaError> {
        let Ok(mut version) = self.version.try_lock() else {
            return Ok(()); // another thread is checking right now
        };
        if version.seen.is_some() && version.at.elapsed() < VERSION_CHECK {
            return Ok(());
        }
        if version.conn.is_none() {
            version.conn = Some(readers.open()?);
        }
        let now = match &version.conn {
            Some(conn) => conn
                .query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))
                .map_err(map_rusqlite_err)?,
            None => return Ok(()),
        };
        if version.seen != Some(now) {
            self.wrote();
        }
        version.at = Instant::now();
        version.seen = Some(now);
        Ok(())
    }

    /// The cached file and bucket, if nothing was committed since they were read.
    pub(super) fn get(&self, id: FileId) -> Option<(FileRecord, Bucket)> {
        let generation = self.generation();
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.entries
            .get(&id)
            .filter(|e| e.generation == generation)
            .map(|e| (e.file.clone(), e.bucket.clone()))
    }

    /// Keeps what a read that began at `generation` found.
    pub(super) fn put(&self, generation: u64, file: &FileRecord, bucket: &Bucket) {
        if generation != self.generation() {
            return;
        }
        let size = file.inline_content.as_ref().map_or(0, |b| b.len());
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.entries.len() >= MAX_ENTRIES || map.inline_bytes + size > MAX_INLINE_BYTES {
            *map = Map::default();
        }
        map.inline_bytes += size;
        let old = map.entries.insert(
            file.id,
            Entry {
                generation,
                file: file.clone(),
                bucket: bucket.clone(),
            },
        );
        if let Some(old) = old {
            map.inline_bytes -= old.file.inline_content.map_or(0, |b| b.len());
        }
    }
}
