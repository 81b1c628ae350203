//! Group commit: concurrent file writes share one transaction and so one WAL fsync.
//!
//! SQLite has one writer at a time and, with `synchronous = FULL`, every commit waits for an fsync.
//! Uploads arriving together would queue behind each other's fsyncs; instead, the writes that are
//! waiting when a transaction starts go into that transaction, each in its own savepoint so that one
//! failing write does not undo the others, and each caller is answered only after the commit, that
//! is, once its write is durable.
//!
//! The committer is one thread with its own rusqlite connection: a batch of a hundred writes runs
//! without a thread switch per statement (sqlx would pay two per statement), and the callers'
//! runtime threads only hand over the write and wait for the answer.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};
use trove_core::time::to_millis;
use trove_core::{FileId, FileRecord};

use super::rows::map_rusqlite_err;
use crate::{MetaError, StoredContent};

/// Most writes in one transaction.
const MAX_BATCH: usize = 128;

/// A write that goes through the group committer.
#[derive(Debug)]
pub(super) enum WriteOp {
    /// A new file row, its associations, and its content when kept inline.
    InsertFile(Box<FileRecord>),
    /// A pending file's content is durable: make it ready.
    Complete {
        id: FileId,
        content: StoredContent,
        now: DateTime<Utc>,
    },
}

type Reply = oneshot::Sender<Result<(), MetaError>>;

/// The handle callers submit writes to.
#[derive(Debug, Clone)]
pub(super) struct Committer {
    tx: mpsc::Sender<(WriteOp, Reply)>,
}

fn open(path: &Path) -> Result<Connection, MetaError> {
    let conn = Connection::open(path).map_err(map_rusqlite_err)?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(map_rusqlite_err)?;
    // Per connection: every commit of this one is fsynced before it is acknowledged.
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(map_rusqlite_err)?;
    Ok(conn)
}

impl Committer {
    /// Starts the committer thread on the database at `path` (already migrated, in WAL mode).
    pub(super) fn start(path: &Path) -> Result<Self, MetaError> {
        let conn = open(path)?;
        let (tx, mut rx) = mpsc::channel::<(WriteOp, Reply)>(1024);
        std::thread::Builder::new()
            .name("trove-committer".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(MAX_BATCH);
                while let Some(first) = rx.blocking_recv() {
                    batch.push(first);
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(op) => batch.push(op),
                            Err(_) => break,
                        }
                    }
                    commit_batch(&conn, &mut batch);
                }
            })
            .map_err(|e| MetaError::Backend(format!("starting the committer: {e}")))?;
        Ok(Self { tx })
    }

    /// Runs the write; returns once it is committed (or failed).
    pub(super) async fn submit(&self, op: WriteOp) -> Result<(), MetaError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((op, reply))
            .await
            .map_err(|_| MetaError::Backend("the committer has stopped".into()))?;
        answer
            .await
            .map_err(|_| MetaError::Backend("the committer dropped a write".into()))?
    }
}

fn commit_batch(conn: &Connection, batch: &mut Vec<(WriteOp, Reply)>) {
    let fail_all = |batch: &mut Vec<(WriteOp, Reply)>, e: &MetaError| {
        for (_, reply) in batch.drain(..) {
            let _ = reply.send(Err(clone_error(e)));
        }
    };
    // BEGIN IMMEDIATE: the write lock from the start, waiting (busy timeout) for other writers.
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        fail_all(batch, &map_rusqlite_err(e));
        return;
    }
    let results: Vec<_> = batch
        .iter()
        .map(|(op, _)| apply_isolated(conn, op))
        .collect();
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            for ((_, reply), result) in batch.drain(..).zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            fail_all(batch, &map_rusqlite_err(e));
        }
    }
}

/// The same failure for every write of a batch (a busy database stays "unavailable" for each).
fn clone_error(e: &MetaError) -> MetaError {
    match e {
        MetaError::Unavailable(m) => MetaError::Unavailable(m.clone()),
        other => MetaError::Backend(other.to_string()),
    }
}

/// Applies one write inside a savepoint, rolling back just that write when it fails.
fn apply_isolated(conn: &Connection, op: &WriteOp) -> Result<(), MetaError> {
    conn.execute_batch("SAVEPOINT write_op")
        .map_err(map_rusqlite_err)?;
    let result = apply(conn, op);
    if result.is_err() {
        conn.execute_batch("ROLLBACK TO write_op")
            .map_err(map_rusqlite_err)?;
    }
    conn.execute_batch("RELEASE write_op")
        .map_err(map_rusqlite_err)?;
    result
}

fn put_inline(
    conn: &Connection,
    id: FileId,
    revision: trove_core::RevisionId,
    data: &[u8],
) -> Result<(), MetaError> {
    conn.prepare_cached(super::inline::PUT)
        .and_then(|mut s| {
            s.execute(rusqlite::params![
                id.to_string(),
                revision.to_string(),
                data
            ])
        })
        .map(|_| ())
        .map_err(map_rusqlite_err)
}

fn apply(conn: &Connection, op: &WriteOp) -> Result<(), MetaError> {
    match op {
        WriteOp::InsertFile(f) => {
            conn.prepare_cached(super::files::INSERT_FILE)
                .and_then(|mut s| {
                    s.execute(rusqlite::params_from_iter(super::files::file_values(f)))
                })
                .map_err(map_rusqlite_err)?;
            for a in &f.associations {
                conn.prepare_cached(super::files::INSERT_ASSOCIATION)
                    .and_then(|mut s| {
                        s.execute(rusqlite::params![
                            a.id.to_string(),
                            f.id.to_string(),
                            a.entity_name,
                            a.entity_reference,
                            to_millis(a.created_at),
                        ])
                    })
                    .map_err(map_rusqlite_err)?;
            }
            if let (Some(data), Some(revision)) = (&f.inline_content, f.revision) {
                put_inline(conn, f.id, revision, data)?;
            }
            Ok(())
        }
        WriteOp::Complete {
            id,
            content: c,
            now,
        } => {
            let done = conn
                .prepare_cached(
                    "UPDATE files SET status = 'ready', size = ?, mime_type = ?, checksum_sha256 = ?, \
                     etag = ?, updated_at = ? WHERE id = ? AND status = 'upload_pending' AND revision = ?",
                )
                .and_then(|mut s| {
                    s.execute(rusqlite::params![
                        c.size as i64,
                        c.mime_type,
                        c.checksum_sha256,
                        c.etag,
                        to_millis(*now),
                        id.to_string(),
                        c.revision.to_string(),
                    ])
                })
                .map_err(map_rusqlite_err)?;
            if done != 1 {
                return Err(MetaError::Stale(format!("file {id} is no longer pending")));
            }
            if let Some(data) = &c.inline {
                put_inline(conn, *id, c.revision, data)?;
            }
            conn.prepare_cached("DELETE FROM tus_uploads WHERE file_id = ? AND kind <> 'final'")
                .and_then(|mut s| s.execute([id.to_string()]))
                .map_err(map_rusqlite_err)?;
            Ok(())
        }
    }
}
