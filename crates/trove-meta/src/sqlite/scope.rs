//! The one SQL rendering of [`ListScope`]: pages, counts and bulk operations all build their scope
//! condition here, so the rule of who sees what has one SQL twin of `ListScope::admits`.

use trove_core::listing::{ListScope, ScopeBranch};

use super::sql::Sql;

/// Appends the condition of one branch (without a leading `AND`).
pub(super) fn push_branch(qb: &mut Sql, branch: &ScopeBranch) {
    match branch {
        ScopeBranch::Own { user_id, tenant_id } => {
            // `IS` matches NULL to NULL: a user without a tenant owns their files without one.
            qb.push("(f.uploaded_by_user_id = ")
                .push_bind(user_id.0.clone())
                .push(" AND f.tenant_id IS ")
                .push_bind(tenant_id.as_ref().map(|t| t.0.clone()))
                .push(")");
        }
        ScopeBranch::Tenant {
            tenant_id,
            shared_only,
        } => {
            qb.push("(f.tenant_id = ").push_bind(tenant_id.0.clone());
            if *shared_only {
                // Written as in the partial index files_tenant_shared, so SQLite uses it.
                qb.push(" AND (access = 'tenant' OR visibility = 'public')");
            }
            qb.push(")");
        }
    }
}

/// Appends ` AND (branch OR branch …)` for a scope; nothing for [`ListScope::All`].
pub(super) fn push_scope(qb: &mut Sql, scope: &ListScope) {
    if let ListScope::Branches(branches) = scope {
        qb.push(" AND (");
        if branches.is_empty() {
            qb.push("0");
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
