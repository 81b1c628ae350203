//! Categories on SQLite.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use trove_core::time::{from_millis, to_millis};
use trove_core::{Access, BucketId, Category, Visibility};

use super::SqliteMetaStore;
use super::rows::map_err;
use crate::MetaError;

fn category_from_row(r: &SqliteRow) -> Result<Category, MetaError> {
    let corrupt = |w: &str| MetaError::Backend(format!("unreadable category {w}"));
    let mimes: String = r.try_get("allowed_mime_types").map_err(map_err)?;
    let vis: Option<String> = r.try_get("default_visibility").map_err(map_err)?;
    let access: Option<String> = r.try_get("default_access").map_err(map_err)?;
    Ok(Category {
        key: r.try_get("key").map_err(map_err)?,
        name: r.try_get("name").map_err(map_err)?,
        bucket_id: r
            .try_get::<Option<String>, _>("bucket_id")
            .map_err(map_err)?
            .map(BucketId),
        max_size: r
            .try_get::<Option<i64>, _>("max_size")
            .map_err(map_err)?
            .map(|n| n as u64),
        allowed_mime_types: serde_json::from_str(&mimes).map_err(|_| corrupt("mime list"))?,
        default_visibility: vis
            .map(|v| Visibility::parse(&v))
            .transpose()
            .map_err(|_| corrupt("visibility"))?,
        default_access: access
            .map(|a| Access::parse(&a))
            .transpose()
            .map_err(|_| corrupt("access"))?,
        created_at: from_millis(r.try_get("created_at").map_err(map_err)?),
        updated_at: from_millis(r.try_get("updated_at").map_err(map_err)?),
    })
}

impl SqliteMetaStore {
    pub(super) async fn category_insert(&self, c: &Category) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO categories (key, name, bucket_id, max_size, allowed_mime_types, default_visibility, \
             default_access, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(c.key.as_str())
        .bind(c.name.as_str())
        .bind(c.bucket_id.as_ref().map(|b| b.0.clone()))
        .bind(c.max_size.map(|n| n as i64))
        .bind(serde_json::to_string(&c.allowed_mime_types).unwrap_or_else(|_| "[]".into()))
        .bind(c.default_visibility.map(|v| v.as_str()))
        .bind(c.default_access.map(|a| a.as_str()))
        .bind(to_millis(c.created_at))
        .bind(to_millis(c.updated_at))
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(map_err)
    }

    pub(super) async fn category_get(&self, key: &str) -> Result<Option<Category>, MetaError> {
        sqlx::query("SELECT * FROM categories WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(|r| category_from_row(&r))
            .transpose()
    }

    pub(super) async fn category_list(&self) -> Result<Vec<Category>, MetaError> {
        sqlx::query("SELECT * FROM categories ORDER BY key")
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(category_from_row)
            .collect()
    }

    pub(super) async fn category_update(&self, c: &Category) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE categories SET name = ?, bucket_id = ?, max_size = ?, allowed_mime_types = ?, \
             default_visibility = ?, default_access = ?, updated_at = ? WHERE key = ?",
        )
        .bind(c.name.as_str())
        .bind(c.bucket_id.as_ref().map(|b| b.0.clone()))
        .bind(c.max_size.map(|n| n as i64))
        .bind(serde_json::to_string(&c.allowed_mime_types).unwrap_or_else(|_| "[]".into()))
        .bind(c.default_visibility.map(|v| v.as_str()))
        .bind(c.default_access.map(|a| a.as_str()))
        .bind(to_millis(c.updated_at))
        .bind(c.key.as_str())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn category_delete(&self, key: &str, force: bool) -> Result<bool, MetaError> {
        let mut tx = super::begin_immediate(&self.pool).await?;
        if force {
            sqlx::query("UPDATE files SET category = NULL WHERE category = ?")
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        } else {
            let used: bool = sqlx::query("SELECT EXISTS (SELECT 1 FROM files WHERE category = ?)")
                .bind(key)
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?
                .try_get(0)
                .map_err(map_err)?;
            if used {
                return Err(MetaError::Conflict("category in use".into()));
            }
        }
        let done = sqlx::query("DELETE FROM categories WHERE key = ?")
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}
