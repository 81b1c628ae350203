//! The read path: synchronous rusqlite connections to the same database file.
//!
//! sqlx runs every SQLite statement on a worker thread per connection, so each read costs two thread
//! switches; on a small machine under load those switches, not SQLite, were most of a request's
//! cost (docs/benchmarks.md). A point read here runs on the calling thread: an index lookup takes
//! microseconds, less than the switches it replaces. Reads that may scan (listings) run on tokio's
//! blocking pool instead, one hop per listing, so a slow filter never holds up a runtime thread.
//!
//! WAL mode lets these readers run beside the writer without blocking it or being blocked; each
//! statement sees the last committed transaction. The connections are `query_only`.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::rows::map_rusqlite_err;
use crate::MetaError;

/// Idle connections kept for reuse; more are opened while more readers run at once.
const MAX_IDLE: usize = 8;

#[derive(Debug)]
pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub(super) fn open(&self) -> Result<Connection, MetaError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(map_rusqlite_err)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(map_rusqlite_err)?;
        conn.pragma_update(None, "query_only", true)
            .map_err(map_rusqlite_err)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    /// Runs `f` on this thread if SQLite finishes it within `budget`; `None` when it was cut off
    /// (the caller runs it again where a long run harms nobody).
    pub(super) fn read_within<T>(
        &self,
        budget: Duration,
        f: impl FnOnce(&Connection) -> Result<T, MetaError>,
    ) -> Option<Result<T, MetaError>> {
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let out = self.read(|conn| {
            let deadline = std::time::Instant::now() + budget;
            let flag = cut.clone();
            let _ = conn.progress_handler(
                1000,
                Some(move || {
                    let over = std::time::Instant::now() > deadline;
                    if over {
                        flag.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    over
                }),
            );
            let out = f(conn);
            let _ = conn.progress_handler(0, None::<fn() -> bool>);
            out
        });
        match cut.load(std::sync::atomic::Ordering::Relaxed) {
            true => None,
            false => Some(out),
        }
    }

    /// Runs `f` on an idle connection (or a new one), on this thread.
    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, MetaError>,
    ) -> Result<T, MetaError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => self.open()?,
        };
        let out = f(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
        out
    }
}
