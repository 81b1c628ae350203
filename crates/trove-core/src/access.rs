//! Who may do what. These functions are the only implementation of the access rules; every entry point
//! (REST, GraphQL, tus) asks them.
//!
//! | caller | read F | change/delete F | upload | buckets |
//! |---|---|---|---|---|
//! | admin key | all | all | yes | all |
//! | user, F public | yes | as below | | read |
//! | user = F's uploader | yes | yes | yes | read |
//! | user, same tenant, F.access = tenant | yes | no | | read |
//! | user with role admin, same tenant | yes | yes | | read |
//! | other user | no | no | | read |
//! | anonymous | public only | no | no | no |

use crate::error::{ErrorCode, TroveError};
use crate::ids::{TenantId, UserId};
use crate::model::{Access, FileRecord, Visibility};

/// The role that makes a user an administrator of their tenant.
pub const TENANT_ADMIN_ROLE: &str = "admin";

/// A user as established by a verified token or by the admin acting for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserContext {
    pub user_id: UserId,
    pub tenant_id: Option<TenantId>,
    pub roles: Vec<String>,
}

impl UserContext {
    pub fn is_tenant_admin(&self) -> bool {
        self.tenant_id.is_some() && self.roles.iter().any(|r| r == TENANT_ADMIN_ROLE)
    }

    /// Same tenant as the file; a user or file without a tenant shares nothing by tenant.
    fn shares_tenant_with(&self, file: &FileRecord) -> bool {
        matches!((&self.tenant_id, &file.tenant_id), (Some(a), Some(b)) if a == b)
    }

    /// A user is identified by the pair (tenant, `sub`): the same `sub` acting in another tenant
    /// (or in none) is another user and owns nothing here.
    pub fn owns(&self, file: &FileRecord) -> bool {
        file.uploaded_by_user_id.as_ref() == Some(&self.user_id) && file.tenant_id == self.tenant_id
    }
}

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Authenticated with the admin key and not acting for a user.
    Admin,
    /// A user, from a JWT or from the admin key with `X-Trove-User-Id`.
    User(UserContext),
    /// No credentials.
    Anonymous,
}

/// What a principal may do with one file, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FilePermission {
    /// May not learn that the file exists.
    None,
    /// May read its metadata and content.
    Read,
    /// May also change and delete it.
    Change,
}

impl Principal {
    /// What this principal may do with `file`.
    pub fn file_permission(&self, file: &FileRecord) -> FilePermission {
        match self {
            Self::Admin => FilePermission::Change,
            Self::User(u) => {
                if u.owns(file) || (u.is_tenant_admin() && u.shares_tenant_with(file)) {
                    FilePermission::Change
                } else if file.visibility == Visibility::Public
                    || (file.access == Access::Tenant && u.shares_tenant_with(file))
                {
                    FilePermission::Read
                } else {
                    FilePermission::None
                }
            }
            Self::Anonymous if file.visibility == Visibility::Public => FilePermission::Read,
            Self::Anonymous => FilePermission::None,
        }
    }

    /// Ok when the principal may read `file`; otherwise `not_found`, so a private file's existence
    /// never leaks.
    pub fn require_read(&self, file: &FileRecord) -> Result<(), TroveError> {
        match self.file_permission(file) {
            FilePermission::None => Err(TroveError::not_found("file")),
            _ => Ok(()),
        }
    }

    /// Ok when the principal may change `file`; `not_found` when it may not even read it, `forbidden`
    /// when it may read but not change it.
    pub fn require_change(&self, file: &FileRecord) -> Result<(), TroveError> {
        match self.file_permission(file) {
            FilePermission::None => Err(TroveError::not_found("file")),
            FilePermission::Read => Err(TroveError::forbidden("you may not change this file")),
            FilePermission::Change => Ok(()),
        }
    }

    /// Uploading needs credentials: the admin key or a user.
    pub fn require_upload(&self) -> Result<(), TroveError> {
        self.require_authenticated()
    }

    /// Reading buckets needs credentials.
    pub fn require_authenticated(&self) -> Result<(), TroveError> {
        match self {
            Self::Anonymous => Err(TroveError::new(
                ErrorCode::Unauthorized,
                "credentials are required",
            )),
            _ => Ok(()),
        }
    }

    /// Creating, changing and deleting buckets is for the admin key only.
    pub fn require_admin(&self) -> Result<(), TroveError> {
        match self {
            Self::Admin => Ok(()),
            Self::User(_) => Err(TroveError::forbidden("this needs the admin key")),
            Self::Anonymous => Err(TroveError::new(
                ErrorCode::Unauthorized,
                "credentials are required",
            )),
        }
    }

    /// Whether this principal may see who uploaded a file and in which tenant. User ids are often
    /// e-mail addresses: anonymous readers of a public file see neither.
    pub fn sees_identities(&self) -> bool {
        !matches!(self, Self::Anonymous)
    }

    /// Whether this principal may see and continue an unfinished upload created by `owner` in
    /// `tenant`: only its creator (the same user in the same tenant) and the admin key. Nobody else
    /// learns that it exists.
    pub fn owns_upload(&self, owner: Option<&UserId>, tenant: Option<&TenantId>) -> bool {
        match self {
            Self::Admin => true,
            Self::User(u) => owner == Some(&u.user_id) && tenant == u.tenant_id.as_ref(),
            Self::Anonymous => false,
        }
    }

    /// The owner and tenant recorded on a file this principal uploads.
    pub fn upload_identity(&self) -> (Option<UserId>, Option<TenantId>) {
        match self {
            Self::User(u) => (Some(u.user_id.clone()), u.tenant_id.clone()),
            _ => (None, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unfinished_upload_belongs_to_its_creator_alone() {
        let user = |u: &str, t: Option<&str>| {
            Principal::User(UserContext {
                user_id: UserId(u.into()),
                tenant_id: t.map(|t| TenantId(t.into())),
                roles: vec![TENANT_ADMIN_ROLE.into()],
            })
        };
        let (owner, tenant) = (UserId("a".into()), TenantId("t".into()));
        assert!(user("a", Some("t")).owns_upload(Some(&owner), Some(&tenant)));
        assert!(Principal::Admin.owns_upload(Some(&owner), Some(&tenant)));
        assert!(
            !user("b", Some("t")).owns_upload(Some(&owner), Some(&tenant)),
            "even a tenant admin"
        );
        assert!(
            !user("a", None).owns_upload(Some(&owner), Some(&tenant)),
            "same sub, other tenant"
        );
        assert!(
            !user("a", Some("t")).owns_upload(None, None),
            "the admin key's own uploads"
        );
        assert!(!Principal::Anonymous.owns_upload(None, None));
    }
    use crate::ids::{BucketId, FileId};
    use crate::model::FileStatus;

    fn file(
        owner: Option<&str>,
        tenant: Option<&str>,
        vis: Visibility,
        access: Access,
    ) -> FileRecord {
        FileRecord {
            id: FileId::new(),
            bucket_id: BucketId::default_bucket(),
            name: "f".into(),
            mime_type: "text/plain".into(),
            size: 1,
            etag: "\"x\"".into(),
            is_uploaded: true,
            status: FileStatus::Ready,
            metadata: serde_json::json!({}),
            visibility: vis,
            access,
            tenant_id: tenant.map(|t| TenantId(t.into())),
            uploaded_by_user_id: owner.map(|u| UserId(u.into())),
            checksum_sha256: None,
            category: None,
            associations: Vec::new(),
            created_at: crate::time::now(),
            updated_at: crate::time::now(),
            revision: None,
            status_reason: None,
            inline_content: None,
        }
    }

    fn user(id: &str, tenant: Option<&str>, roles: &[&str]) -> Principal {
        Principal::User(UserContext {
            user_id: UserId(id.into()),
            tenant_id: tenant.map(|t| TenantId(t.into())),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        })
    }

    use FilePermission::{Change, None as NoAccess, Read};

    #[test]
    fn admin_key_does_everything() {
        let f = file(Some("u"), Some("t"), Visibility::Private, Access::Owner);
        assert_eq!(Principal::Admin.file_permission(&f), Change);
        assert!(Principal::Admin.require_admin().is_ok());
    }

    #[test]
    fn public_files_are_readable_by_all_but_changeable_only_by_right() {
        let f = file(Some("u"), Some("t"), Visibility::Public, Access::Owner);
        assert_eq!(Principal::Anonymous.file_permission(&f), Read);
        assert_eq!(user("other", Some("x"), &[]).file_permission(&f), Read);
        assert_eq!(user("u", Some("t"), &[]).file_permission(&f), Change);
    }

    #[test]
    fn owner_reads_and_changes() {
        let f = file(Some("u"), Some("t"), Visibility::Private, Access::Owner);
        assert_eq!(user("u", Some("t"), &[]).file_permission(&f), Change);
        let g = file(Some("u"), None, Visibility::Private, Access::Owner);
        assert_eq!(user("u", None, &[]).file_permission(&g), Change);
    }

    #[test]
    fn the_same_sub_in_another_tenant_is_another_user() {
        let f = file(Some("u"), Some("t"), Visibility::Private, Access::Tenant);
        assert_eq!(user("u", Some("x"), &[]).file_permission(&f), NoAccess);
        assert_eq!(user("u", None, &[]).file_permission(&f), NoAccess);
        let g = file(Some("u"), None, Visibility::Private, Access::Owner);
        assert_eq!(user("u", Some("t"), &[]).file_permission(&g), NoAccess);
    }

    #[test]
    fn anonymous_callers_see_no_identities() {
        assert!(!Principal::Anonymous.sees_identities());
        assert!(Principal::Admin.sees_identities());
        assert!(user("u", None, &[]).sees_identities());
    }

    #[test]
    fn tenant_access_lets_the_tenant_read_only() {
        let f = file(Some("u"), Some("t"), Visibility::Private, Access::Tenant);
        let mate = user("v", Some("t"), &[]);
        assert_eq!(mate.file_permission(&f), Read);
        assert_eq!(
            mate.require_change(&f).unwrap_err().code,
            ErrorCode::Forbidden
        );
        assert_eq!(user("v", Some("other"), &[]).file_permission(&f), NoAccess);
        let owner_only = file(Some("u"), Some("t"), Visibility::Private, Access::Owner);
        assert_eq!(mate.file_permission(&owner_only), NoAccess);
        assert_eq!(
            mate.require_read(&owner_only).unwrap_err().code,
            ErrorCode::NotFound
        );
    }

    #[test]
    fn tenant_admin_reads_and_changes_within_the_tenant_only() {
        let admin = user("boss", Some("t"), &["admin"]);
        let f = file(Some("u"), Some("t"), Visibility::Private, Access::Owner);
        assert_eq!(admin.file_permission(&f), Change);
        let other = file(Some("u"), Some("x"), Visibility::Private, Access::Tenant);
        assert_eq!(admin.file_permission(&other), NoAccess);
        assert_eq!(
            admin.require_admin().unwrap_err().code,
            ErrorCode::Forbidden
        );
    }

    #[test]
    fn no_tenant_shares_nothing() {
        let f = file(Some("u"), None, Visibility::Private, Access::Tenant);
        assert_eq!(user("v", None, &[]).file_permission(&f), NoAccess);
        assert_eq!(user("v", None, &["admin"]).file_permission(&f), NoAccess);
        let g = file(Some("u"), Some("t"), Visibility::Private, Access::Tenant);
        assert_eq!(user("v", None, &[]).file_permission(&g), NoAccess);
    }

    #[test]
    fn anonymous_reads_public_only_and_uploads_nothing() {
        let f = file(Some("u"), Some("t"), Visibility::Private, Access::Tenant);
        assert_eq!(Principal::Anonymous.file_permission(&f), NoAccess);
        assert_eq!(
            Principal::Anonymous.require_upload().unwrap_err().code,
            ErrorCode::Unauthorized
        );
        assert_eq!(
            Principal::Anonymous.require_admin().unwrap_err().code,
            ErrorCode::Unauthorized
        );
        assert!(user("u", None, &[]).require_upload().is_ok());
    }
}
