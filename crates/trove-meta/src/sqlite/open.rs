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
        // Statistics for the planner, so that a filter matching few rows of a large candidate set
        // picks the narrow index; cheap when nothing changed since the last run.
        sqlx::query("PRAGMA optimize=0x10002")
            .execute(&pool)
            .await
            .map_err(map_err)?;
        Ok(Self {
            committer: committer::Committer::start(&path)?,
            pool,
            readers: Arc::new(Readers::new(path)),
            cache: Arc::new(super::cache::ReadCache::new()),
            _scratch: scratch,
        })
    }

    /// A fresh database that lives as long as the store, for tests: a file in a temporary
    /// directory, so that it runs exactly as a real one does (WAL, readers beside the writer).
    pub async fn in_memory() -> Result<Self, MetaError> {
        let dir = tempfile::tempdir().map_err(|e| MetaError::Backend(e.to_string()))?;
        let url = format!("sqlite://{}", dir.path().join("trove.db").display());
        Self::open(&url, Some(Arc::new(dir))).await
    }
}
