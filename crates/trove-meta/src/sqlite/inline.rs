//! Contents kept in the database beside their row (`inline_contents`), written in the same
//! transaction as the row change that makes them current.

use sqlx::{Row, SqliteConnection};
use trove_core::{FileId, RevisionId};

use super::rows::map_err;
use crate::MetaError;

/// Makes `?3` the bytes of file `?1`'s revision `?2`, replacing any earlier revision's.
pub(super) const PUT: &str =
    "INSERT OR REPLACE INTO inline_contents (file_id, revision, data) VALUES (?, ?, ?)";

/// Makes `data` the stored bytes of `file`'s `revision`, replacing any earlier revision's.
pub(super) async fn put_on(
    conn: &mut SqliteConnection,
    file: FileId,
    revision: RevisionId,
    data: &[u8],
) -> Result<(), MetaError> {
    sqlx::query(PUT)
        .bind(file.to_string())
        .bind(revision.to_string())
        .bind(data)
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(map_err)
}

/// Forgets `file`'s inline bytes (its content now lives in the blob store).
pub(super) async fn drop_on(conn: &mut SqliteConnection, file: FileId) -> Result<(), MetaError> {
    sqlx::query("DELETE FROM inline_contents WHERE file_id = ?")
        .bind(file.to_string())
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(map_err)
}

/// Whether `revision` of `file` is kept inline (so there is no blob to delete for it).
pub(super) async fn holds_on(
    conn: &mut SqliteConnection,
    file: FileId,
    revision: Option<&str>,
) -> Result<bool, MetaError> {
    let Some(revision) = revision else {
        return Ok(false);
    };
    let row = sqlx::query("SELECT revision FROM inline_contents WHERE file_id = ?")
        .bind(file.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err)?;
    Ok(match row {
        Some(r) => r.try_get::<String, _>(0).map_err(map_err)? == revision,
        None => false,
    })
}
