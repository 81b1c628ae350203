//! Associations on SQLite.

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite};
use trove_core::time::{from_millis, to_millis};
use trove_core::{Association, EntityRef, FileId, FileRecord, ListScope};
use uuid::Uuid;

use super::list::files_of;
use super::rows::map_err;
use super::scope::push_scope;
use super::sql::Sql;
use super::{FILE_SELECT, SqliteMetaStore};
use crate::MetaError;

impl SqliteMetaStore {
    pub(super) async fn associate(
        &self,
        file: FileId,
        e: &EntityRef,
        now: DateTime<Utc>,
    ) -> Result<(Association, bool), MetaError> {
        let id = Uuid::now_v7();
        let inserted = sqlx::query(
            "INSERT INTO file_associations (id, file_id, entity_name, entity_reference, created_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (file_id, entity_name, entity_reference) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(file.to_string())
        .bind(e.entity_name.as_str())
        .bind(e.entity_reference.as_str())
        .bind(to_millis(now))
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected()
            == 1;
        let row = sqlx::query(
            "SELECT id, created_at FROM file_associations WHERE file_id = ? AND entity_name = ? \
             AND entity_reference = ?",
        )
        .bind(file.to_string())
        .bind(e.entity_name.as_str())
        .bind(e.entity_reference.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        let id: String = row.try_get("id").map_err(map_err)?;
        Ok((
            Association {
                id: Uuid::parse_str(&id)
                    .map_err(|_| MetaError::Backend("bad association id".into()))?,
                file_id: file,
                entity_name: e.entity_name.clone(),
                entity_reference: e.entity_reference.clone(),
                created_at: from_millis(row.try_get("created_at").map_err(map_err)?),
            },
            inserted,
        ))
    }

    pub(super) async fn dissociate(&self, file: FileId, id: Uuid) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM file_associations WHERE id = ? AND file_id = ?")
            .bind(id.to_string())
            .bind(file.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn entity_files(
        &self,
        e: &EntityRef,
        scope: &ListScope,
        after: Option<FileId>,
        limit: u32,
    ) -> Result<Vec<FileRecord>, MetaError> {
        // Walk the object's links in file order (CROSS JOIN fixes the loop order in SQLite) and keep
        // those in scope: the cost is the object's links, never the size of the caller's scope.
        let columns = FILE_SELECT
            .strip_suffix(" FROM files f")
            .ok_or_else(|| MetaError::Backend("FILE_SELECT changed shape".into()))?;
        let mut qb = Sql::new(format!(
            "{columns} FROM file_associations a CROSS JOIN files f ON f.id = a.file_id"
        ));
        qb.push(" WHERE a.entity_name = ")
            .push_bind(e.entity_name.clone())
            .push(" AND a.entity_reference = ")
            .push_bind(e.entity_reference.clone())
            .push(" AND a.file_id > ")
            .push_bind(after.map(|a| a.to_string()).unwrap_or_default());
        push_scope(&mut qb, scope);
        qb.push(" ORDER BY a.file_id LIMIT ")
            .push_bind(i64::from(limit));
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || readers.read(|conn| files_of(conn, &qb)))
            .await
            .map_err(|e| MetaError::Backend(format!("listing task failed: {e}")))?
    }

    pub(super) async fn unlink(&self, e: &EntityRef, files: &[FileId]) -> Result<u64, MetaError> {
        let mut removed = 0;
        for chunk in files.chunks(500) {
            let mut qb =
                QueryBuilder::<Sqlite>::new("DELETE FROM file_associations WHERE entity_name = ");
            qb.push_bind(e.entity_name.clone())
                .push(" AND entity_reference = ")
                .push_bind(e.entity_reference.clone())
                .push(" AND file_id IN (");
            let mut sep = qb.separated(", ");
            for f in chunk {
                sep.push_bind(f.to_string());
            }
            qb.push(")");
            removed += qb
                .build()
                .execute(&self.pool)
                .await
                .map_err(map_err)?
                .rows_affected();
        }
        Ok(removed)
    }
}
