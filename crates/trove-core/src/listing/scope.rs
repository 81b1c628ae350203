//! Which files a caller's listings may contain.

use crate::access::Principal;
use crate::error::{ErrorCode, TroveError};
use crate::ids::{TenantId, UserId};
use crate::model::{Access, FileRecord, Visibility};

/// One part of a scope: a set of files that an index can walk in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeBranch {
    /// Files uploaded by this user in this tenant (a user is the pair tenant and `sub`; `None` is
    /// "no tenant", matched as such).
    Own {
        user_id: UserId,
        tenant_id: Option<TenantId>,
    },
    /// Files of a tenant: every one, or only those shared with it (`access: tenant`) or public.
    Tenant {
        tenant_id: TenantId,
        shared_only: bool,
    },
}

impl ScopeBranch {
    /// The reference definition of the branch; each backend's SQL must agree with it.
    pub fn admits(&self, f: &FileRecord) -> bool {
        match self {
            Self::Own { user_id, tenant_id } => {
                f.uploaded_by_user_id.as_ref() == Some(user_id) && f.tenant_id == *tenant_id
            }
            Self::Tenant {
                tenant_id,
                shared_only,
            } => {
                f.tenant_id.as_ref() == Some(tenant_id)
                    && (!shared_only
                        || f.access == Access::Tenant
                        || f.visibility == Visibility::Public)
            }
        }
    }
}

/// Which files a caller's listings (or bulk changes) may touch: never another tenant's, and only
/// files the caller may read (or, for [`Principal::change_scope`], change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListScope {
    /// The admin key: everything.
    All,
    /// The union of some branches.
    Branches(Vec<ScopeBranch>),
}

impl ListScope {
    /// A user's reading scope: their own files, and in their tenant the files shared with the
    /// tenant, public ones, or (for a tenant admin) all of them.
    pub fn user(user_id: UserId, tenant_id: Option<TenantId>, tenant_admin: bool) -> Self {
        let mut branches = vec![ScopeBranch::Own {
            user_id,
            tenant_id: tenant_id.clone(),
        }];
        if let Some(t) = tenant_id {
            branches.push(ScopeBranch::Tenant {
                tenant_id: t,
                shared_only: !tenant_admin,
            });
        }
        Self::Branches(branches)
    }

    /// The reference definition of the scope; the SQL of each metadata backend must agree with it.
    pub fn admits(&self, f: &FileRecord) -> bool {
        match self {
            Self::All => true,
            Self::Branches(branches) => branches.iter().any(|b| b.admits(f)),
        }
    }
}

impl Principal {
    /// Listing needs credentials.
    pub fn list_scope(&self) -> Result<ListScope, TroveError> {
        match self {
            Self::Admin => Ok(ListScope::All),
            Self::User(u) => Ok(ListScope::user(
                u.user_id.clone(),
                u.tenant_id.clone(),
                u.is_tenant_admin(),
            )),
            Self::Anonymous => Err(unauthorized()),
        }
    }

    /// The files this principal may change: everything for the admin key; a user's own files, and
    /// for a tenant admin every file of the tenant.
    pub fn change_scope(&self) -> Result<ListScope, TroveError> {
        match self {
            Self::Admin => Ok(ListScope::All),
            Self::User(u) => {
                let mut branches = vec![ScopeBranch::Own {
                    user_id: u.user_id.clone(),
                    tenant_id: u.tenant_id.clone(),
                }];
                if let (true, Some(t)) = (u.is_tenant_admin(), &u.tenant_id) {
                    branches.push(ScopeBranch::Tenant {
                        tenant_id: t.clone(),
                        shared_only: false,
                    });
                }
                Ok(ListScope::Branches(branches))
            }
            Self::Anonymous => Err(unauthorized()),
        }
    }
}

fn unauthorized() -> TroveError {
    TroveError::new(ErrorCode::Unauthorized, "credentials are required")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{FilePermission, UserContext};
    use crate::ids::{BucketId, FileId};
    use crate::model::FileStatus;
    use proptest::prelude::*;

    fn file(owner: u8, tenant: u8, public: bool, tenant_access: bool) -> FileRecord {
        let t = crate::time::now();
        FileRecord {
            id: FileId::new(),
            bucket_id: BucketId::default_bucket(),
            name: "f".into(),
            mime_type: "text/plain".into(),
            size: 1,
            etag: String::new(),
            is_uploaded: true,
            status: FileStatus::Ready,
            metadata: serde_json::json!({}),
            visibility: if public {
                Visibility::Public
            } else {
                Visibility::Private
            },
            access: if tenant_access {
                Access::Tenant
            } else {
                Access::Owner
            },
            tenant_id: (tenant > 0).then(|| TenantId(format!("t{tenant}"))),
            uploaded_by_user_id: (owner > 0).then(|| UserId(format!("u{owner}"))),
            checksum_sha256: None,
            created_at: t,
            updated_at: t,
            revision: None,
            status_reason: None,
            inline_content: None,
            category: None,
            associations: Vec::new(),
        }
    }

    proptest! {
        /// A listing never contains a file the caller could not read, nor another tenant's file.
        #[test]
        fn scope_is_within_read_access(owner in 0u8..3, tenant in 0u8..3, public: bool, tenant_access: bool,
                                        user in 1u8..3, user_tenant in 0u8..3, admin: bool) {
            let f = file(owner, tenant, public, tenant_access);
            let u = UserContext {
                user_id: UserId(format!("u{user}")),
                tenant_id: (user_tenant > 0).then(|| TenantId(format!("t{user_tenant}"))),
                roles: if admin { vec!["admin".into()] } else { vec![] },
            };
            let p = Principal::User(u.clone());
            let scope = p.list_scope().unwrap();
            if scope.admits(&f) {
                prop_assert!(p.file_permission(&f) != FilePermission::None);
                prop_assert!(f.tenant_id == u.tenant_id, "never another tenant's file");
            }
            // The change scope holds exactly the files the caller may change.
            let change = p.change_scope().unwrap();
            prop_assert_eq!(change.admits(&f), p.file_permission(&f) == FilePermission::Change);
        }
    }
}
