//! Listings on SQLite: the query's scope, filters, order and keyset cursor as one SQL statement.

use trove_core::listing::{CursorValue, FileFilter, ListScope, MimeFilter, Order, OrderBy};
use trove_core::{FileQuery, FileRecord, FileStatus};

use super::rows::{file_from_row, map_rusqlite_err};
use super::scope::{push_branch, push_scope};
use super::sql::Sql;
use super::{FILE_SELECT, SqliteMetaStore};
use crate::{FilePage, MetaError};

fn column(o: OrderBy) -> &'static str {
    match o {
        OrderBy::CreatedAt => "f.created_at",
        OrderBy::UpdatedAt => "f.updated_at",
        OrderBy::Name => "f.name",
        OrderBy::Size => "f.size",
    }
}

fn push_filters(qb: &mut Sql, f: &FileFilter) {
    if let Some(b) = &f.bucket_id {
        qb.push(" AND f.bucket_id = ").push_bind(b.0.clone());
    }
    if let Some(c) = &f.category {
        qb.push(" AND f.category = ").push_bind(c.clone());
    }
    if let Some(name) = &f.entity_name {
        qb.push(" AND EXISTS (SELECT 1 FROM file_associations a WHERE a.file_id = f.id AND a.entity_name = ")
            .push_bind(name.clone());
        if let Some(r) = &f.entity_reference {
            qb.push(" AND a.entity_reference = ").push_bind(r.clone());
        }
        qb.push(")");
    }
    if let Some(u) = &f.uploaded_by_user_id {
        qb.push(" AND f.uploaded_by_user_id = ")
            .push_bind(u.0.clone());
    }
    if let Some(v) = f.visibility {
        qb.push(" AND f.visibility = ")
            .push_bind(v.as_str().to_owned());
    }
    if let Some(a) = f.access {
        qb.push(" AND f.access = ").push_bind(a.as_str().to_owned());
    }
    match f.status {
        Some(s) => qb.push(" AND f.status = ").push_bind(s.as_str().to_owned()),
        None => qb
            .push(" AND f.status <> ")
            .push_bind(FileStatus::UploadPending.as_str().to_owned()),
    };
    match &f.mime_type {
        Some(MimeFilter::Exact(m)) => {
            qb.push(" AND f.mime_type = ").push_bind(m.clone());
        }
        Some(MimeFilter::Prefix(p)) => {
            qb.push(" AND substr(f.mime_type, 1, ")
                .push_bind(p.len() as i64)
                .push(") = ")
                .push_bind(p.clone());
        }
        None => {}
    }
    if let Some(q) = &f.q {
        qb.push(" AND instr(lower(f.name), lower(")
            .push_bind(q.clone())
            .push(")) > 0");
    }
    if let Some(t) = f.created_after {
        qb.push(" AND f.created_at >= ")
            .push_bind(t.timestamp_millis());
    }
    if let Some(t) = f.created_before {
        qb.push(" AND f.created_at <= ")
            .push_bind(t.timestamp_millis());
    }
    if let Some(n) = f.min_size {
        qb.push(" AND f.size >= ").push_bind(n as i64);
    }
    if let Some(n) = f.max_size {
        qb.push(" AND f.size <= ").push_bind(n as i64);
    }
    for (key, value) in &f.metadata {
        // `->` yields the value as JSON text; the query's value matches it as a JSON string, and as
        // a number, boolean or null when it reads as one.
        let path = format!("$.\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""));
        let as_string = serde_json::Value::String(value.clone()).to_string();
        let as_literal = serde_json::from_str::<serde_json::Value>(value)
            .ok()
            .filter(|v| !v.is_object() && !v.is_array() && !v.is_string())
            .map(|v| v.to_string())
            .unwrap_or_else(|| as_string.clone());
        qb.push(" AND (f.metadata -> ")
            .push_bind(path)
            .push(") IN (")
            .push_bind(as_string)
            .push(", ")
            .push_bind(as_literal)
            .push(")");
    }
}

/// Appends the keyset condition as a row value, which SQLite turns into an index range.
fn push_cursor(qb: &mut Sql, q: &FileQuery) {
    if let Some(c) = &q.cursor {
        let cmp = if q.order == Order::Desc { "<" } else { ">" };
        qb.push(format!(" AND ({}, f.id) {cmp} (", column(q.order_by)));
        match &c.value {
            CursorValue::Int(i) => qb.push_bind(*i),
            CursorValue::Text(t) => qb.push_bind(t.clone()),
        };
        qb.push(", ").push_bind(c.id.to_string()).push(")");
    }
}

fn order_clause(q: &FileQuery) -> String {
    let dir = if q.order == Order::Desc {
        "DESC"
    } else {
        "ASC"
    };
    format!(" ORDER BY {} {dir}, f.id {dir}", column(q.order_by))
}

/// One statement of a page: the filters, the cursor, the order and a limit, after a `WHERE`
/// condition the caller has pushed (the scope, or one side of it).
fn finish_page(qb: &mut Sql, q: &FileQuery, rows: i64) {
    push_filters(qb, &q.filter);
    push_cursor(qb, q);
    qb.push(order_clause(q)).push(" LIMIT ").push_bind(rows);
}

/// The statements of a page. A user's scope is a union of branches ("own files", "shared in my
/// tenant"); each has its own index ordered by creation time, so each is its own ordered, limited
/// query and the short lists are merged here (an OR in one statement makes SQLite sort every match).
fn page_queries(q: &FileQuery, rows: i64) -> Vec<Sql> {
    match &q.scope {
        ListScope::All => {
            let mut qb = Sql::new(FILE_SELECT);
            qb.push(" WHERE 1 = 1");
            finish_page(&mut qb, q, rows);
            vec![qb]
        }
        ListScope::Branches(branches) => branches
            .iter()
            .map(|branch| {
                let mut qb = Sql::new(FILE_SELECT);
                qb.push(" WHERE ");
                push_branch(&mut qb, branch);
                finish_page(&mut qb, q, rows);
                qb
            })
            .collect(),
    }
}

/// How long a listing may run on a runtime thread before it moves to the blocking pool.
const INLINE_LISTING_BUDGET: std::time::Duration = std::time::Duration::from_millis(2);

impl SqliteMetaStore {
    /// A page of a listing. A keyset page is a short walk along an index, so it runs here, on the
    /// calling thread, if SQLite finishes it within [`INLINE_LISTING_BUDGET`]; a filter that makes
    /// SQLite walk further is cut off and the page is read again on the blocking pool, where it
    /// holds up no other request.
    pub(super) async fn list(&self, q: &FileQuery) -> Result<FilePage, MetaError> {
        if let Some(page) = self
            .readers
            .read_within(INLINE_LISTING_BUDGET, |conn| list_on(conn, q))
        {
            return page;
        }
        let readers = self.readers.clone();
        let q = q.clone();
        tokio::task::spawn_blocking(move || readers.read(|conn| list_on(conn, &q)))
            .await
            .map_err(|e| MetaError::Backend(format!("listing task failed: {e}")))?
    }
}

/// Runs `sql` and decodes every row as a file.
pub(super) fn files_of(
    conn: &rusqlite::Connection,
    sql: &Sql,
) -> Result<Vec<FileRecord>, MetaError> {
    let mut stmt = conn.prepare_cached(sql.text()).map_err(map_rusqlite_err)?;
    let mut rows = stmt.query(sql.params()).map_err(map_rusqlite_err)?;
    let mut files = Vec::new();
    while let Some(row) = rows.next().map_err(map_rusqlite_err)? {
        files.push(file_from_row(row)?);
    }
    Ok(files)
}

fn list_on(conn: &rusqlite::Connection, q: &FileQuery) -> Result<FilePage, MetaError> {
    let rows = crate::paging::rows_to_read(q);
    let branches = page_queries(q, rows)
        .iter()
        .map(|qb| files_of(conn, qb))
        .collect::<Result<Vec<_>, _>>()?;
    let (files, next_cursor) = crate::paging::merge(q, branches);
    let total_count = if q.count {
        let mut qb = Sql::new("SELECT COUNT(*) FROM files f WHERE 1 = 1");
        push_scope(&mut qb, &q.scope);
        push_filters(&mut qb, &q.filter);
        let n: i64 = conn
            .prepare_cached(qb.text())
            .and_then(|mut s| s.query_row(qb.params(), |r| r.get(0)))
            .map_err(map_rusqlite_err)?;
        Some(n as u64)
    } else {
        None
    };
    Ok(FilePage {
        files,
        next_cursor,
        total_count,
    })
}
