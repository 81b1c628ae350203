//! Opening the SQLite database: WAL with `synchronous = FULL`, a bounded pool, migrations, the
//! readers, and the planner's statistics.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::rows::map_err;
use super::{SqliteMetaStore, committer, reader::Readers};
use crate::MetaError;

impl SqliteMetaStore {
    /// Opens (creating if needed) the database at a `sqlite://` URL and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self, MetaError> {
        Self::open(url, None).await
    }

    async fn open(url: &str, scratch: Option<Arc<tempfile::TempDir>>) -> Result<Self, MetaError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(map_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let path = options.get_filename().to_path_buf();
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            // A request that cannot get a connection in this time gets 503, not a hung socket.
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(map_err)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| MetaError::Backend(e.to_string()))?;
        refresh_planner_statistics(&pool).await?;
        Ok(Self {
            committer: committer::Committer::start(&path)?,
            pool,
            readers: Arc::new(Readers::new(path)),
            cache: Arc::new(super::cache::ReadCache::new()),
            _scratch: scratch,
        })
    }

    /// Opens the database at a `sqlite://` URL and runs the migrations not applied yet, for
    /// `trove migrate`; returns how many ran.
    pub async fn migrate(url: &str) -> Result<usize, MetaError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(map_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(map_err)?;
        let count = |pool: &sqlx::SqlitePool| {
            let pool = pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                    .fetch_one(&pool)
                    .await
                    .map(|n| n.max(0) as usize)
                    .unwrap_or(0)
            }
        };
        let before = count(&pool).await;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| MetaError::Backend(e.to_string()))?;
        let ran = count(&pool).await.saturating_sub(before);
        pool.close().await;
        Ok(ran)
    }

    /// A fresh database that lives as long as the store, for tests: a file in a temporary
    /// directory, so that it runs exactly as a real one does (WAL, readers beside the writer).
    pub async fn in_memory() -> Result<Self, MetaError> {
        let dir = tempfile::tempdir().map_err(|e| MetaError::Backend(e.to_string()))?;
        let url = format!("sqlite://{}", dir.path().join("trove.db").display());
        Self::open(&url, Some(Arc::new(dir))).await
    }
}

/// Refreshes the planner's statistics; run at start-up (and by tools after bulk loads).
///
/// `PRAGMA optimize` analyses the tables whose contents changed enough since the last run, so that a
/// filter matching few rows of a large candidate set (a user with few files in a huge bucket)
/// picks the narrow index; it is cheap when nothing changed. The samples of `sqlite_stat4` are then
/// dropped, keeping `sqlite_stat1`'s per-index selectivity: with samples, SQLite (built with
/// `SQLITE_ENABLE_STAT4`) plans a statement again every time a bound value changes, and for keyset
/// pages, whose plan never depends on the cursor's values, that cost a fifth of their throughput
/// (docs/benchmarks.md).
pub async fn refresh_planner_statistics(pool: &sqlx::SqlitePool) -> Result<(), MetaError> {
    sqlx::query("PRAGMA optimize=0x10002")
        .execute(pool)
        .await
        .map_err(map_err)?;
    let sampled: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat4')",
    )
    .fetch_one(pool)
    .await
    .map_err(map_err)?;
    if sampled {
        sqlx::query("DELETE FROM sqlite_stat4")
            .execute(pool)
            .await
            .map_err(map_err)?;
    }
    Ok(())
}
