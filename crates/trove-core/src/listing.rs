//! File queries: filters, ordering, keyset cursors, and which files a caller's listings may contain.
//! REST query strings and GraphQL `where` inputs both become a [`FileQuery`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::access::{Principal, UserContext};
use crate::error::{ErrorCode, TroveError};
use crate::ids::{BucketId, FileId, TenantId, UserId};
use crate::model::{Access, FileRecord, FileStatus, Visibility};

/// The default page size and the largest allowed.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 1000;

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

/// The field a listing is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderBy {
    #[serde(rename = "createdAt")]
    CreatedAt,
    #[serde(rename = "updatedAt")]
    UpdatedAt,
    #[serde(rename = "name")]
    Name,
    #[serde(rename = "size")]
    Size,
}

impl OrderBy {
    pub fn parse(s: &str) -> Result<Self, TroveError> {
        match s {
            "createdAt" => Ok(Self::CreatedAt),
            "updatedAt" => Ok(Self::UpdatedAt),
            "name" => Ok(Self::Name),
            "size" => Ok(Self::Size),
            _ => Err(param(
                "orderBy",
                "must be one of createdAt, updatedAt, name, size",
            )),
        }
    }

    /// This field's value in `f`, as a cursor stores it.
    pub fn key_of(self, f: &FileRecord) -> CursorValue {
        match self {
            Self::CreatedAt => CursorValue::Int(f.created_at.timestamp_millis()),
            Self::UpdatedAt => CursorValue::Int(f.updated_at.timestamp_millis()),
            Self::Name => CursorValue::Text(f.name.clone()),
            Self::Size => CursorValue::Int(f.size as i64),
        }
    }
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// A MIME filter: exact, or every subtype of a type (`image/*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MimeFilter {
    Exact(String),
    /// The type with its slash, e.g. `image/`.
    Prefix(String),
}

/// Filters; all combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileFilter {
    pub bucket_id: Option<BucketId>,
    pub category: Option<String>,
    pub entity_name: Option<String>,
    pub entity_reference: Option<String>,
    pub uploaded_by_user_id: Option<UserId>,
    pub visibility: Option<Visibility>,
    pub access: Option<Access>,
    /// `None` lists every status but `upload_pending`.
    pub status: Option<FileStatus>,
    pub mime_type: Option<MimeFilter>,
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub min_size: Option<u64>,
    pub max_size: Option<u64>,
    /// Equality on top-level metadata keys.
    pub metadata: Vec<(String, String)>,
}

/// The value of the ordering field at a cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CursorValue {
    Int(i64),
    Text(String),
}

/// A position in a listing: the last row's ordering value and id. Opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "o")]
    pub order_by: OrderBy,
    #[serde(rename = "d")]
    pub descending: bool,
    #[serde(rename = "v")]
    pub value: CursorValue,
    #[serde(rename = "i")]
    pub id: FileId,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(s: &str) -> Result<Self, TroveError> {
        URL_SAFE_NO_PAD
            .decode(s)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| param("cursor", "is not a cursor from this listing"))
    }
}

/// A complete listing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileQuery {
    pub scope: ListScope,
    pub filter: FileFilter,
    pub order_by: OrderBy,
    pub order: Order,
    pub limit: u32,
    pub cursor: Option<Cursor>,
    pub offset: Option<u64>,
    pub count: bool,
}

fn param(name: &str, problem: &str) -> TroveError {
    TroveError::invalid(format!("{name} {problem}"))
}

fn parse_time(name: &str, v: &str) -> Result<DateTime<Utc>, TroveError> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| param(name, "must be an RFC 3339 timestamp"))
}

fn parse_u64(name: &str, v: &str) -> Result<u64, TroveError> {
    v.parse()
        .map_err(|_| param(name, "must be a non-negative integer"))
}

impl FileQuery {
    /// Builds a query from `name=value` pairs (a REST query string, or GraphQL arguments turned
    /// into the same names). Unknown names are refused so that a typo never silently widens a listing.
    pub fn from_params(scope: ListScope, params: &[(String, String)]) -> Result<Self, TroveError> {
        let mut q = Self {
            scope,
            filter: FileFilter::default(),
            order_by: OrderBy::CreatedAt,
            order: Order::Desc,
            limit: DEFAULT_LIMIT,
            cursor: None,
            offset: None,
            count: false,
        };
        let mut cursor = None;
        for (name, value) in params {
            let v = value.as_str();
            let f = &mut q.filter;
            match name.as_str() {
                "bucketId" => {
                    f.bucket_id = Some(
                        BucketId::parse(v).map_err(|_| param("bucketId", "is not a bucket id"))?,
                    )
                }
                "category" => f.category = Some(v.to_owned()),
                "entityName" => f.entity_name = Some(non_empty("entityName", v)?),
                "entityReference" => f.entity_reference = Some(non_empty("entityReference", v)?),
                "uploadedByUserId" => {
                    f.uploaded_by_user_id = Some(UserId(non_empty("uploadedByUserId", v)?))
                }
                "visibility" => {
                    f.visibility = Some(
                        Visibility::parse(v)
                            .map_err(|_| param("visibility", "must be public or private"))?,
                    )
                }
                "access" => {
                    f.access = Some(
                        Access::parse(v).map_err(|_| param("access", "must be owner or tenant"))?,
                    )
                }
                "status" => {
                    f.status = Some(FileStatus::parse(v).ok_or_else(|| {
                        param(
                            "status",
                            "must be upload_pending, ready, error or cancelled",
                        )
                    })?)
                }
                "mimeType" => {
                    let m = v.to_ascii_lowercase();
                    crate::validate::mime_pattern(&m).map_err(|_| {
                        param("mimeType", "must be a type like image/png or image/*")
                    })?;
                    f.mime_type = Some(match m.strip_suffix('*') {
                        Some(prefix) if prefix.ends_with('/') => {
                            MimeFilter::Prefix(prefix.to_owned())
                        }
                        _ => MimeFilter::Exact(m),
                    });
                }
                "q" => f.q = Some(v.to_owned()),
                "createdAfter" => f.created_after = Some(parse_time("createdAfter", v)?),
                "createdBefore" => f.created_before = Some(parse_time("createdBefore", v)?),
                "minSize" => f.min_size = Some(parse_u64("minSize", v)?),
                "maxSize" => f.max_size = Some(parse_u64("maxSize", v)?),
                "orderBy" => q.order_by = OrderBy::parse(v)?,
                "order" => {
                    q.order = match v {
                        "asc" => Order::Asc,
                        "desc" => Order::Desc,
                        _ => return Err(param("order", "must be asc or desc")),
                    }
                }
                "limit" => {
                    let n: u32 = v
                        .parse()
                        .map_err(|_| param("limit", "must be an integer from 1 to 1000"))?;
                    if !(1..=MAX_LIMIT).contains(&n) {
                        return Err(param("limit", "must be an integer from 1 to 1000"));
                    }
                    q.limit = n;
                }
                "offset" => {
                    let n: i64 = v
                        .parse()
                        .map_err(|_| param("offset", "must be a non-negative integer"))?;
                    if n < 0 {
                        return Err(param("offset", "must be a non-negative integer"));
                    }
                    q.offset = Some(n as u64);
                }
                "cursor" => cursor = Some(Cursor::decode(v)?),
                "count" => {
                    q.count = match v {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(param("count", "must be true or false")),
                    }
                }
                other => match other.strip_prefix("metadata.") {
                    Some(key)
                        if !key.is_empty()
                            && key.len() <= 255
                            && !key.chars().any(char::is_control) =>
                    {
                        f.metadata.push((key.to_owned(), v.to_owned()));
                    }
                    _ => return Err(param(other, "is not a known parameter")),
                },
            }
        }
        if q.filter.entity_reference.is_some() && q.filter.entity_name.is_none() {
            return Err(param("entityReference", "needs entityName"));
        }
        if let (Some(a), Some(b)) = (q.filter.min_size, q.filter.max_size)
            && a > b
        {
            return Err(param("minSize", "must not exceed maxSize"));
        }
        if let Some(c) = &cursor
            && (c.order_by != q.order_by || c.descending != (q.order == Order::Desc))
        {
            return Err(param("cursor", "belongs to a listing with another order"));
        }
        if cursor.is_some() && q.offset.is_some() {
            return Err(param("offset", "cannot be combined with cursor"));
        }
        q.cursor = cursor;
        Ok(q)
    }

    /// The cursor that continues after `last`.
    pub fn cursor_after(&self, last: &FileRecord) -> Cursor {
        Cursor {
            order_by: self.order_by,
            descending: self.order == Order::Desc,
            value: self.order_by.key_of(last),
            id: last.id,
        }
    }
}

fn non_empty(name: &str, v: &str) -> Result<String, TroveError> {
    if v.is_empty() || v.len() > 255 {
        Err(param(name, "must be 1-255 bytes"))
    } else {
        Ok(v.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::FilePermission;
    use crate::ids::FileId;
    use proptest::prelude::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_and_parsing() {
        let q = FileQuery::from_params(ListScope::All, &[]).unwrap();
        assert_eq!(
            (q.order_by, q.order, q.limit),
            (OrderBy::CreatedAt, Order::Desc, 50)
        );
        let q = FileQuery::from_params(
            ListScope::All,
            &params(&[
                ("mimeType", "image/*"),
                ("metadata.project", "x"),
                ("orderBy", "name"),
                ("order", "asc"),
                ("limit", "1000"),
            ]),
        )
        .unwrap();
        assert_eq!(
            q.filter.mime_type,
            Some(MimeFilter::Prefix("image/".into()))
        );
        assert_eq!(q.filter.metadata, vec![("project".into(), "x".into())]);
        assert_eq!(q.limit, 1000);
    }

    #[test]
    fn bad_values_name_the_parameter() {
        for (k, v) in [
            ("limit", "1001"),
            ("limit", "0"),
            ("offset", "-1"),
            ("orderBy", "id"),
            ("order", "up"),
            ("createdAfter", "yesterday"),
            ("minSize", "-5"),
            ("visibility", "world"),
            ("status", "gone"),
            ("cursor", "garbage"),
            ("mimeType", "image"),
            ("bogus", "1"),
            ("count", "maybe"),
        ] {
            let e = FileQuery::from_params(ListScope::All, &params(&[(k, v)])).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert!(e.message.starts_with(k), "{k}: {}", e.message);
        }
    }

    #[test]
    fn cursors_round_trip_and_stay_with_their_order() {
        let c = Cursor {
            order_by: OrderBy::Name,
            descending: false,
            value: CursorValue::Text("a b".into()),
            id: FileId::new(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        let e = FileQuery::from_params(ListScope::All, &params(&[("cursor", &c.encode())]))
            .unwrap_err();
        assert!(e.message.starts_with("cursor"));
        assert!(
            FileQuery::from_params(
                ListScope::All,
                &params(&[
                    ("cursor", &c.encode()),
                    ("orderBy", "name"),
                    ("order", "asc")
                ])
            )
            .is_ok()
        );
    }

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
