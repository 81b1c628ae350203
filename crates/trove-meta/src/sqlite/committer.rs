//! Group commit: concurrent file writes share one transaction and so one WAL fsync.
//!
//! SQLite has one writer at a time and, with `synchronous = FULL`, every commit waits for an fsync.
//! Uploads arriving together would queue behind each other's fsyncs; instead, the writes that are
//! waiting when a transaction starts go into that transaction, each in its own savepoint so that one
//! failing write does not undo the others, and each caller is answered only after the commit, that
//! is, once its write is durable.

use chrono::{DateTime, Utc};
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};
use trove_core::time::to_millis;
use trove_core::{FileId, FileRecord};

use super::rows::map_err;
use crate::{MetaError, StoredContent};

/// Most writes in one transaction.
const MAX_BATCH: usize = 128;

/// A write that goes through the group committer.
#[derive(Debug)]
pub(super) enum WriteOp {
    /// A new file row and its associations.
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

impl Committer {
    pub(super) fn start(pool: SqlitePool) -> Self {
        let (tx, mut rx) = mpsc::channel::<(WriteOp, Reply)>(1024);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(op) => batch.push(op),
                        Err(_) => break,
                    }
                }
                commit_batch(&pool, &mut batch).await;
            }
        });
        Self { tx }
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

async fn commit_batch(pool: &SqlitePool, batch: &mut Vec<(WriteOp, Reply)>) {
    let mut tx = match super::begin_immediate(pool).await {
        Ok(tx) => tx,
        Err(e) => {
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(clone_error(&e)));
            }
            return;
        }
    };
    let mut results = Vec::with_capacity(batch.len());
    for (op, _) in batch.iter() {
        results.push(apply_isolated(&mut tx, op).await);
    }
    match tx.commit().await.map_err(map_err) {
        Ok(()) => {
            for ((_, reply), result) in batch.drain(..).zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(clone_error(&e)));
            }
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
async fn apply_isolated(conn: &mut SqliteConnection, op: &WriteOp) -> Result<(), MetaError> {
    sqlx::query("SAVEPOINT write_op")
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    let result = apply(conn, op).await;
    if result.is_err() {
        sqlx::query("ROLLBACK TO write_op")
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
    }
    sqlx::query("RELEASE write_op")
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    result
}

async fn apply(conn: &mut SqliteConnection, op: &WriteOp) -> Result<(), MetaError> {
    match op {
        WriteOp::InsertFile(f) => super::files::insert_on(conn, f).await,
        WriteOp::Complete {
            id,
            content: c,
            now,
        } => {
            let done = sqlx::query(
                "UPDATE files SET status = 'ready', size = ?, mime_type = ?, checksum_sha256 = ?, etag = ?, \
                 updated_at = ? WHERE id = ? AND status = 'upload_pending' AND revision = ?",
            )
            .bind(c.size as i64)
            .bind(c.mime_type.as_str())
            .bind(c.checksum_sha256.as_str())
            .bind(c.etag.as_str())
            .bind(to_millis(*now))
            .bind(id.to_string())
            .bind(c.revision.to_string())
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
            if done.rows_affected() == 1 {
                if let Some(data) = &c.inline {
                    super::inline::put_on(conn, *id, c.revision, data).await?;
                }
                sqlx::query("DELETE FROM tus_uploads WHERE file_id = ? AND kind <> 'final'")
                    .bind(id.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(map_err)?;
                Ok(())
            } else {
                Err(MetaError::Stale(format!("file {id} is no longer pending")))
            }
        }
    }
}
