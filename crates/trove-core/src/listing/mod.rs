//! File queries: filters, ordering, keyset cursors, and which files a caller's listings may contain.
//! REST query strings and GraphQL `where` inputs both become a [`FileQuery`].

mod order;
mod scope;

use chrono::{DateTime, Utc};

use crate::error::TroveError;
use crate::ids::{BucketId, UserId};
use crate::model::{Access, FileRecord, FileStatus, Visibility};
pub use order::{Cursor, CursorValue, Order, OrderBy};
pub use scope::{ListScope, ScopeBranch};

/// The default page size and the largest allowed.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 1000;
/// The largest `offset`: every page reads `offset + limit` rows, so deep pages use `cursor`.
pub const MAX_OFFSET: u64 = 10_000;

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
                    let n: u64 = v.parse().ok().filter(|n| *n <= MAX_OFFSET).ok_or_else(|| {
                        param(
                            "offset",
                            "must be an integer from 0 to 10000; page further with cursor (nextCursor)",
                        )
                    })?;
                    q.offset = Some(n);
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
    use crate::error::ErrorCode;
    use crate::ids::FileId;

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
            ("offset", "10001"),
            ("offset", "9223372036854775807"),
            ("offset", "99999999999999999999999"),
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
}
