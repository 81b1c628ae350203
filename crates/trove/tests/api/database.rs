//! The server's database reached behind its back, for tests that age rows, plant many of them or
//! look at a queue, on whichever backend the run uses: SQLite by default, PostgreSQL under
//! `TROVE_TEST_DATABASE_URL`. The two schemas differ in their types (milliseconds against
//! `timestamptz`, text against `uuid`), so a statement that depends on them is given for each.

use crate::common::TestApp;

pub enum Database {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Database {
    /// The database `app` keeps its metadata in (its own schema, on PostgreSQL).
    pub async fn of(app: &TestApp) -> Self {
        let url = app.database_url();
        if url.starts_with("postgres") {
            Self::Postgres(sqlx::PgPool::connect(url).await.unwrap())
        } else {
            Self::Sqlite(sqlx::SqlitePool::connect(url).await.unwrap())
        }
    }

    /// Runs `sqlite` on SQLite, `postgres` on PostgreSQL.
    pub async fn execute(&self, sqlite: &'static str, postgres: &'static str) {
        match self {
            Self::Sqlite(pool) => sqlx::raw_sql(sqlite).execute(pool).await.map(|_| ()),
            Self::Postgres(pool) => sqlx::raw_sql(postgres).execute(pool).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("behind the server's back: {e}"));
    }

    /// The first column of every row of a query both backends understand, as text.
    pub async fn texts(&self, sql: &'static str) -> Vec<String> {
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
            Self::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// A `COUNT(*)` query both backends understand.
    pub async fn count(&self, sql: &'static str) -> i64 {
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            Self::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}
