//! `trove migrate-db`: copies a SQLite database (the embedded default) into PostgreSQL, table by
//! table, a page at a time, converting each column to its native PostgreSQL type. Rows already in
//! the destination are left as they are (`ON CONFLICT DO NOTHING`), so an interrupted copy is simply
//! run again. Afterwards every table is verified: the same number of rows, and the same SHA-256
//! over every row's canonical rendering, read back from PostgreSQL. Nothing is switched: the
//! operator points `TROVE_DATABASE_URL` at PostgreSQL once a run reports every table verified.
//!
//! The source should not be written meanwhile (stop the server, or copy a backup of the file):
//! rows written during the copy may be missed, which the verification then reports.

mod tables;

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgRow;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteRow};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, QueryBuilder, Row, SqlitePool};
use tables::{Kind, TABLES, Table};
use trove_core::time::{from_millis, to_millis};
use uuid::Uuid;

use crate::MetaError;
use crate::postgres::{PgMetaStore, PgSettings};
use crate::sqlite::SqliteMetaStore;

/// Rows read and written per statement.
const PAGE: i64 = 500;

/// What a run found for one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    pub table: &'static str,
    /// Rows in the source.
    pub rows: u64,
    /// Rows this run inserted (the others were in place from an earlier run).
    pub inserted: u64,
    /// Rows in the destination after the copy.
    pub destination_rows: u64,
    /// Whether the destination holds exactly the source's rows, by count and checksum.
    pub verified: bool,
}

/// One column's value, decoded from either side.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Text(Option<String>),
    Uuid(Option<Uuid>),
    Time(Option<DateTime<Utc>>),
    Int(Option<i64>),
    Bool(Option<bool>),
    Json(Option<serde_json::Value>),
    Bytes(Option<Vec<u8>>),
}

fn backend(e: impl std::fmt::Display) -> MetaError {
    MetaError::Backend(e.to_string())
}

fn from_sqlite(r: &SqliteRow, i: usize, kind: Kind) -> Result<Cell, MetaError> {
    let text = || r.try_get::<Option<String>, _>(i).map_err(backend);
    let int = || r.try_get::<Option<i64>, _>(i).map_err(backend);
    Ok(match kind {
        Kind::Text => Cell::Text(text()?),
        Kind::Uuid => Cell::Uuid(
            text()?
                .map(|s| Uuid::parse_str(&s).map_err(|_| backend(format!("not a UUID: {s}"))))
                .transpose()?,
        ),
        Kind::Time => Cell::Time(int()?.map(from_millis)),
        Kind::Int | Kind::Int4 => Cell::Int(int()?),
        Kind::Bool => Cell::Bool(int()?.map(|b| b != 0)),
        Kind::Json => Cell::Json(
            text()?
                .map(|s| serde_json::from_str(&s).map_err(backend))
                .transpose()?,
        ),
        Kind::Bytes => Cell::Bytes(r.try_get::<Option<Vec<u8>>, _>(i).map_err(backend)?),
    })
}

fn from_postgres(r: &PgRow, i: usize, kind: Kind) -> Result<Cell, MetaError> {
    Ok(match kind {
        Kind::Text => Cell::Text(r.try_get(i).map_err(backend)?),
        Kind::Uuid => Cell::Uuid(r.try_get(i).map_err(backend)?),
        Kind::Time => Cell::Time(r.try_get(i).map_err(backend)?),
        Kind::Int => Cell::Int(r.try_get(i).map_err(backend)?),
        Kind::Int4 => Cell::Int(
            r.try_get::<Option<i32>, _>(i)
                .map_err(backend)?
                .map(i64::from),
        ),
        Kind::Bool => Cell::Bool(r.try_get(i).map_err(backend)?),
        Kind::Json => Cell::Json(
            r.try_get::<Option<Json<serde_json::Value>>, _>(i)
                .map_err(backend)?
                .map(|j| j.0),
        ),
        Kind::Bytes => Cell::Bytes(r.try_get(i).map_err(backend)?),
    })
}

fn bind_cell(b: &mut sqlx::query_builder::Separated<'_, Postgres, &'static str>, cell: Cell) {
    match cell {
        Cell::Text(v) => b.push_bind(v),
        Cell::Uuid(v) => b.push_bind(v),
        Cell::Time(v) => b.push_bind(v),
        Cell::Int(v) => b.push_bind(v),
        Cell::Bool(v) => b.push_bind(v),
        Cell::Json(v) => b.push_bind(v.map(Json)),
        Cell::Bytes(v) => b.push_bind(v),
    };
}

/// JSON with every object's keys in order: PostgreSQL's `jsonb` keeps its own key order.
fn sorted(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            serde_json::Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Feeds one row's canonical rendering to the table's checksum: each cell tagged and
/// length-prefixed, so no two different rows render alike.
fn hash_row(hasher: &mut Sha256, cells: &[Cell]) {
    for cell in cells {
        let text = match cell {
            Cell::Text(v) => v.clone(),
            Cell::Uuid(v) => v.map(|u| u.to_string()),
            Cell::Time(v) => v.map(|t| to_millis(t).to_string()),
            Cell::Int(v) => v.map(|n| n.to_string()),
            Cell::Bool(v) => v.map(|b| b.to_string()),
            Cell::Json(v) => v.as_ref().map(|j| sorted(j).to_string()),
            Cell::Bytes(v) => v.as_ref().map(hex::encode),
        };
        match text {
            None => hasher.update(b"N;"),
            Some(t) => {
                hasher.update(format!("S{}:", t.len()).as_bytes());
                hasher.update(t.as_bytes());
            }
        }
    }
    hasher.update(b"\n");
}

async fn open_source(url: &str) -> Result<SqlitePool, MetaError> {
    // The source's schema is brought up to date first, as `serve` would, so every column exists.
    SqliteMetaStore::migrate(url).await?;
    let options = SqliteConnectOptions::from_str(url)
        .map_err(backend)?
        .read_only(true);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(backend)
}

/// How many rows the source holds in all, for a progress bar.
pub async fn count_source_rows(from: &str) -> Result<u64, MetaError> {
    let source = open_source(from).await?;
    let mut total = 0u64;
    for t in TABLES {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {}",
            t.name
        )))
        .fetch_one(&source)
        .await
        .map_err(backend)?;
        total += n.max(0) as u64;
    }
    Ok(total)
}

/// A page of rows after `after` (by the table's key), from either side.
fn page_sql(t: &Table, placeholder: &str, after: bool) -> String {
    let filter = match after {
        true => format!(" WHERE {} > {placeholder}", t.key()),
        false => String::new(),
    };
    format!(
        "SELECT {} FROM {}{filter} ORDER BY {} LIMIT {PAGE}",
        t.column_list(),
        t.name,
        t.key()
    )
}

/// Copies one table; returns its row count, the rows inserted and the source's checksum.
async fn copy_table(
    t: &Table,
    source: &SqlitePool,
    dest: &PgPool,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<(u64, u64, [u8; 32]), MetaError> {
    let mut hasher = Sha256::new();
    let (mut rows, mut inserted) = (0u64, 0u64);
    let mut after: Option<String> = None;
    loop {
        let sql = page_sql(t, "?", after.is_some());
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(a) = &after {
            q = q.bind(a.clone());
        }
        let page = q.fetch_all(source).await.map_err(backend)?;
        if page.is_empty() {
            break;
        }
        let mut decoded = Vec::with_capacity(page.len());
        for r in &page {
            let cells = t
                .columns
                .iter()
                .enumerate()
                .map(|(i, (_, kind))| from_sqlite(r, i, *kind))
                .collect::<Result<Vec<_>, _>>()?;
            hash_row(&mut hasher, &cells);
            decoded.push(cells);
        }
        after = Some(
            page.last()
                .unwrap()
                .try_get::<String, _>(0)
                .map_err(backend)?,
        );
        let mut qb =
            QueryBuilder::<Postgres>::new(format!("INSERT INTO {} ({}) ", t.name, t.column_list()));
        qb.push_values(decoded, |mut b, cells| {
            for cell in cells {
                bind_cell(&mut b, cell);
            }
        });
        qb.push(" ON CONFLICT DO NOTHING");
        inserted += qb
            .build()
            .execute(dest)
            .await
            .map_err(crate::postgres::map_err)?
            .rows_affected();
        rows += page.len() as u64;
        progress(page.len() as u64);
    }
    Ok((rows, inserted, hasher.finalize().into()))
}

/// Reads the destination's copy of a table back; returns its row count and checksum.
async fn checksum_destination(t: &Table, dest: &PgPool) -> Result<(u64, [u8; 32]), MetaError> {
    let mut hasher = Sha256::new();
    let mut rows = 0u64;
    let mut after: Option<Cell> = None;
    loop {
        let sql = page_sql(t, "$1", after.is_some());
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        match &after {
            Some(Cell::Uuid(u)) => q = q.bind(*u),
            Some(Cell::Text(s)) => q = q.bind(s.clone()),
            _ => {}
        }
        let page = q.fetch_all(dest).await.map_err(backend)?;
        if page.is_empty() {
            break;
        }
        for r in &page {
            let cells = t
                .columns
                .iter()
                .enumerate()
                .map(|(i, (_, kind))| from_postgres(r, i, *kind))
                .collect::<Result<Vec<_>, _>>()?;
            hash_row(&mut hasher, &cells);
            after = cells.first().cloned();
        }
        rows += page.len() as u64;
    }
    Ok((rows, hasher.finalize().into()))
}

/// Copies every table of the SQLite database `from` into the PostgreSQL database `to` (migrating
/// its schema first), then verifies each. `progress` is told of every page of rows copied.
pub async fn sqlite_to_postgres(
    from: &str,
    to: &str,
    settings: &PgSettings,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Vec<TableReport>, MetaError> {
    let source = open_source(from).await?;
    let dest = PgMetaStore::connect(to, settings).await?;
    let mut reports = Vec::new();
    for t in TABLES {
        let (rows, inserted, source_sum) = copy_table(t, &source, dest.pool(), progress).await?;
        let (destination_rows, dest_sum) = checksum_destination(t, dest.pool()).await?;
        reports.push(TableReport {
            table: t.name,
            rows,
            inserted,
            destination_rows,
            verified: rows == destination_rows && source_sum == dest_sum,
        });
    }
    source.close().await;
    Ok(reports)
}
