//! Opening the SQLite database: WAL with `synchronous = FULL`, a bounded pool, migrations.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::rows::map_err;
use super::{SqliteMetaStore, committer};
use crate::MetaError;

impl SqliteMetaStore {
    /// Opens (creating if needed) the database at a `sqlite://` URL and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self, MetaError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(map_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
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
        Ok(Self {
            committer: committer::Committer::start(pool.clone()),
            pool,
        })
    }

    /// A fresh in-memory database, for tests.
    pub async fn in_memory() -> Result<Self, MetaError> {
        // One connection: each in-memory connection would otherwise be its own database.
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(map_err)?
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(map_err)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| MetaError::Backend(e.to_string()))?;
        Ok(Self {
            committer: committer::Committer::start(pool.clone()),
            pool,
        })
    }
}
