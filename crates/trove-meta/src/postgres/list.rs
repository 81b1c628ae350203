//! Listings on PostgreSQL: the query's scope, filters, order and keyset cursor as SQL. Each branch
//! of a user's scope is its own ordered, limited subquery along its own index (an OR of the
//! branches in one condition makes the planner sort every match); their union is cut to the page
//! in the same statement, and [`crate::paging`] orders the page's rows.

use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder};
use trove_core::listing::{
    CursorValue, FileFilter, ListScope, MimeFilter, Order, OrderBy, ScopeBranch,
};
use trove_core::time::from_millis;
use trove_core::{FileQuery, FileStatus};

use super::PgMetaStore;
use super::rows::{FILE_SELECT, big, files_from, map_err, ms};
use crate::{FilePage, MetaError};

type Sql = QueryBuilder<Postgres>;

/// Appends the condition of one branch (without a leading `AND`).
fn push_branch(qb: &mut Sql, branch: &ScopeBranch) {
    match branch {
        ScopeBranch::Own { user_id, tenant_id } => {
            qb.push("(f.uploaded_by_user_id = ")
                .push_bind(user_id.0.clone());
            // Spelled out rather than `IS NOT DISTINCT FROM`, which no index serves.
            match tenant_id {
                Some(t) => qb.push(" AND f.tenant_id = ").push_bind(t.0.clone()),
                None => qb.push(" AND f.tenant_id IS NULL"),
            };
            qb.push(")");
        }
        ScopeBranch::Tenant {
            tenant_id,
            shared_only,
        } => {
            qb.push("(f.tenant_id = ").push_bind(tenant_id.0.clone());
            if *shared_only {
                // The predicate of the partial index files_tenant_shared.
                qb.push(" AND (f.access = 'tenant' OR f.visibility = 'public')");
            }
            qb.push(")");
        }
    }
}

/// Appends ` AND (branch OR branch …)` for a scope; nothing for [`ListScope::All`]: the one SQL
/// twin of `ListScope::admits` for counts and bulk reads.
pub(super) fn push_scope(qb: &mut Sql, scope: &ListScope) {
    if let ListScope::Branches(branches) = scope {
        qb.push(" AND (");
        if branches.is_empty() {
            qb.push("false");
        }
        for (i, b) in branches.iter().enumerate() {
            if i > 0 {
                qb.push(" OR ");
            }
            push_branch(qb, b);
        }
        qb.push(")");
    }
}

fn column(o: OrderBy) -> &'static str {
    match o {
        OrderBy::CreatedAt => "f.created_at",
        OrderBy::UpdatedAt => "f.updated_at",
        OrderBy::Name => "f.name",
        OrderBy::Size => "f.size",
    }
}

/// The smallest text above every text that starts with `prefix` (which ends with `/`), so a
/// prefix is a range of the index whatever plan a prepared statement gets.
fn prefix_end(prefix: &str) -> String {
    let mut end = prefix.trim_end_matches('/').to_owned();
    end.push('0'); // the character after '/'
    end
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
        qb.push(" AND f.visibility = ").push_bind(v.as_str());
    }
    if let Some(a) = f.access {
        qb.push(" AND f.access = ").push_bind(a.as_str());
    }
    match f.status {
        Some(s) => qb.push(" AND f.status = ").push_bind(s.as_str()),
        None => qb
            .push(" AND f.status <> ")
            .push_bind(FileStatus::UploadPending.as_str()),
    };
    match &f.mime_type {
        Some(MimeFilter::Exact(m)) => {
            qb.push(" AND f.mime_type = ").push_bind(m.clone());
        }
        Some(MimeFilter::Prefix(p)) => {
            qb.push(" AND f.mime_type >= ")
                .push_bind(p.clone())
                .push(" AND f.mime_type < ")
                .push_bind(prefix_end(p));
        }
        None => {}
    }
    if let Some(q) = &f.q {
        qb.push(" AND strpos(lower(f.name), lower(")
            .push_bind(q.clone())
            .push(")) > 0");
    }
    if let Some(t) = f.created_after {
        qb.push(" AND f.created_at >= ").push_bind(ms(t));
    }
    if let Some(t) = f.created_before {
        qb.push(" AND f.created_at <= ").push_bind(ms(t));
    }
    if let Some(n) = f.min_size {
        qb.push(" AND f.size >= ").push_bind(big(n));
    }
    if let Some(n) = f.max_size {
        qb.push(" AND f.size <= ").push_bind(big(n));
    }
    for (key, value) in &f.metadata {
        // The value matches as a JSON string, and as a number, boolean or null when it reads as
        // one; containment (`@>`) is what the GIN index answers.
        let literal = serde_json::from_str::<serde_json::Value>(value)
            .ok()
            .filter(|v| !v.is_object() && !v.is_array() && !v.is_string());
        let object = |v: serde_json::Value| Json(serde_json::json!({ key.as_str(): v }));
        qb.push(" AND (f.metadata @> ")
            .push_bind(object(serde_json::Value::String(value.clone())));
        if let Some(lit) = literal {
            qb.push(" OR f.metadata @> ").push_bind(object(lit));
        }
        qb.push(")");
    }
}

/// Appends the keyset condition as a row comparison, which the planner turns into an index range.
fn push_cursor(qb: &mut Sql, q: &FileQuery) {
    if let Some(c) = &q.cursor {
        let cmp = if q.order == Order::Desc { "<" } else { ">" };
        qb.push(format!(" AND ({}, f.id) {cmp} (", column(q.order_by)));
        match (&c.value, q.order_by) {
            (CursorValue::Int(i), OrderBy::CreatedAt | OrderBy::UpdatedAt) => {
                qb.push_bind(from_millis(*i))
            }
            (CursorValue::Int(i), _) => qb.push_bind(*i),
            (CursorValue::Text(t), _) => qb.push_bind(t.clone()),
        };
        qb.push(", ").push_bind(c.id.0).push(")");
    }
}

fn finish_page(qb: &mut Sql, q: &FileQuery, rows: i64) {
    push_filters(qb, &q.filter);
    push_cursor(qb, q);
    let dir = if q.order == Order::Desc {
        "DESC"
    } else {
        "ASC"
    };
    qb.push(format!(
        " ORDER BY {} {dir}, f.id {dir} LIMIT ",
        column(q.order_by)
    ))
    .push_bind(rows);
}

/// The statement of a page; it begins with `prefix` (`EXPLAIN ` to see its plan). A user's scope
/// is a union of branches, each an ordered, limited scan of ids along its own index; only the
/// page's rows, found through the primary key, are read in full with their associations.
fn page_query(prefix: &str, q: &FileQuery, rows: i64) -> Sql {
    let mut qb = Sql::new(format!("{prefix}{FILE_SELECT}"));
    match &q.scope {
        ListScope::All => {
            qb.push(" WHERE true");
            finish_page(&mut qb, q, rows);
        }
        ListScope::Branches(branches) if branches.is_empty() => {
            qb.push(" WHERE false");
        }
        ListScope::Branches(branches) => {
            let order = column(q.order_by);
            qb.push(" WHERE f.id IN (SELECT id FROM (");
            for (i, branch) in branches.iter().enumerate() {
                if i > 0 {
                    // Not UNION ALL: a file in two branches must count once against the limit.
                    qb.push(" UNION ");
                }
                qb.push(format!("(SELECT f.id, {order} AS k FROM files f WHERE "));
                push_branch(&mut qb, branch);
                finish_page(&mut qb, q, rows);
                qb.push(")");
            }
            let dir = if q.order == Order::Desc {
                "DESC"
            } else {
                "ASC"
            };
            qb.push(format!(") u ORDER BY k {dir}, id {dir} LIMIT "))
                .push_bind(rows)
                .push(")");
        }
    }
    qb
}

impl PgMetaStore {
    pub(super) async fn list(&self, q: &FileQuery) -> Result<FilePage, MetaError> {
        let rows = page_query("", q, crate::paging::rows_to_read(q))
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        // The rows arrive in no particular order: the merge orders and cuts them.
        let (files, next_cursor) = crate::paging::merge(q, [files_from(&rows)?]);
        let total_count = if q.count {
            let mut qb = Sql::new("SELECT COUNT(*) FROM files f WHERE true");
            push_scope(&mut qb, &q.scope);
            push_filters(&mut qb, &q.filter);
            let n: i64 = qb
                .build_query_scalar()
                .fetch_one(&self.pool)
                .await
                .map_err(map_err)?;
            Some(n.max(0) as u64)
        } else {
            None
        };
        Ok(FilePage {
            files,
            next_cursor,
            total_count,
        })
    }

    /// The plans PostgreSQL picks for the statements of a listing's page (`EXPLAIN`), one text
    /// each: for the test that every filter and order of the query API has an index to use, and
    /// for operators checking theirs.
    pub async fn explain_listing(&self, q: &FileQuery) -> Result<Vec<String>, MetaError> {
        let lines: Vec<String> = page_query("EXPLAIN ", q, crate::paging::rows_to_read(q))
            .build_query_scalar()
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        let plans = vec![lines.join("\n")];
        Ok(plans)
    }
}
