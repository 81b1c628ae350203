//! Connecting to PostgreSQL: the pool and its timeouts, the connection's settings, the schema of
//! the search path, and the migrations.

use std::str::FromStr;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

use super::{PgMetaStore, PgSettings, map_err};
use crate::MetaError;

impl PgMetaStore {
    /// Connects to a `postgres://` URL and runs the migrations.
    pub async fn connect(url: &str, settings: &PgSettings) -> Result<Self, MetaError> {
        let store = Self::connect_without_migrating(url, settings).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without touching the schema (for `trove migrate`, which reports what it ran).
    pub async fn connect_without_migrating(
        url: &str,
        settings: &PgSettings,
    ) -> Result<Self, MetaError> {
        let timeout_ms = settings.timeout.as_millis().max(1);
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| MetaError::Backend(format!("not a PostgreSQL URL: {e}")))?
            .application_name("trove")
            // No JIT: Trove's statements are short, and a prepared statement's generic plan
            // (estimated for an unknown LIMIT) costs enough to be JIT-compiled on every run,
            // which took a keyset page from 0.3 ms to 12 ms and more.
            .options([
                ("statement_timeout", format!("{timeout_ms}ms")),
                ("jit", "off".to_owned()),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.pool_size.max(1))
            .min_connections(0)
            .acquire_timeout(settings.timeout)
            // A connection the server dropped (a restart) is found out before a request uses it.
            .test_before_acquire(true)
            .connect_with(options)
            .await
            .map_err(map_err)?;
        Ok(Self { pool })
    }

    /// Runs the migrations not applied yet; returns how many ran. A schema named first in the
    /// connection's `search_path` (`?options[search_path]=trove` in the URL) that does not exist
    /// yet is created first, so several deployments, or tests, can share one database.
    pub async fn migrate(&self) -> Result<usize, MetaError> {
        self.ensure_schema().await?;
        let migrator = sqlx::migrate!("./migrations/postgres");
        let before = applied_migrations(&self.pool).await;
        // Two nodes starting at once: the migrator takes an advisory lock, so one migrates and the
        // other finds the schema in place.
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| MetaError::Backend(e.to_string()))?;
        let after = applied_migrations(&self.pool).await;
        Ok(after.saturating_sub(before))
    }

    async fn ensure_schema(&self) -> Result<(), MetaError> {
        let current: Option<String> = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        if current.is_some() {
            return Ok(());
        }
        let path: String = sqlx::query_scalar("SHOW search_path")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        let first = path
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        if first.is_empty()
            || first.starts_with('$')
            || !first.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(MetaError::Backend(format!(
                "no schema of the search path ({path}) exists"
            )));
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS \"{first}\""
        )))
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(map_err)
    }

    /// The pool, for tools that copy between stores and for tests.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// `url` with a fresh schema of its own first in the search path (created on connecting), so
/// that tests sharing one PostgreSQL database never see each other's rows.
pub fn scratch_schema_url(url: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{sep}options[search_path]=t_{}",
        Uuid::new_v4().simple()
    )
}

async fn applied_migrations(pool: &PgPool) -> usize {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .map(|n| n.max(0) as usize)
        .unwrap_or(0)
}
