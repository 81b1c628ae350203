//! Which files a caller's listings may contain.

use crate::access::{Principal, UserContext};
use crate::error::{ErrorCode, TroveError};
use crate::ids::{TenantId, UserId};
use crate::model::{Access, FileRecord, Visibility};

/// Which files a caller's listings may contain: never another tenant's, and only files the caller
/// may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListScope {
    /// The admin key: everything.
    All,
    /// A user: their own files, and in their tenant the files shared with the tenant, public ones,
    /// and (for a tenant admin) all of them.
    User {
        user_id: UserId,
        tenant_id: Option<TenantId>,
        tenant_admin: bool,
    },
}

impl ListScope {
    /// The reference definition of the scope; the SQL of each metadata backend must agree with it.
    pub fn admits(&self, f: &FileRecord) -> bool {
        match self {
            Self::All => true,
            Self::User {
                user_id,
                tenant_id,
                tenant_admin,
            } => {
                let own = f.uploaded_by_user_id.as_ref() == Some(user_id);
                let same_tenant = tenant_id.is_some() && f.tenant_id == *tenant_id;
                own || (same_tenant
                    && (*tenant_admin
                        || f.access == Access::Tenant
                        || f.visibility == Visibility::Public))
            }
        }
    }
}

impl Principal {
    /// Listing needs credentials.
    pub fn list_scope(&self) -> Result<ListScope, TroveError> {
        match self {
            Self::Admin => Ok(ListScope::All),
            Self::User(u) => Ok(user_scope(u)),
            Self::Anonymous => Err(TroveError::new(
                ErrorCode::Unauthorized,
                "credentials are required",
            )),
        }
    }
}

fn user_scope(u: &UserContext) -> ListScope {
    ListScope::User {
        user_id: u.user_id.clone(),
        tenant_id: u.tenant_id.clone(),
        tenant_admin: u.is_tenant_admin(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::FilePermission;
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
                let own = f.uploaded_by_user_id == Some(u.user_id.clone());
                prop_assert!(own || (f.tenant_id.is_some() && f.tenant_id == u.tenant_id));
            }
        }
    }
}
