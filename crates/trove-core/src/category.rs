//! Categories: admin-managed kinds of files with their own rules, applied on top of the bucket's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, TroveError};
use crate::ids::BucketId;
use crate::model::{Access, Bucket, Visibility};
use crate::time::rfc3339;
use crate::validate;

/// A category of files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Category {
    pub key: String,
    pub name: String,
    pub bucket_id: Option<BucketId>,
    pub max_size: Option<u64>,
    pub allowed_mime_types: Vec<String>,
    pub default_visibility: Option<Visibility>,
    pub default_access: Option<Access>,
    #[serde(with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// The body of `POST /v1/categories`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewCategory {
    pub key: String,
    pub name: Option<String>,
    pub bucket_id: Option<String>,
    pub max_size: Option<u64>,
    pub allowed_mime_types: Option<Vec<String>>,
    pub default_visibility: Option<Visibility>,
    pub default_access: Option<Access>,
}

/// The body of `PATCH /v1/categories/{key}`; a field set to `null` is cleared.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CategoryPatch {
    pub name: Option<String>,
    #[serde(default, with = "double_option")]
    pub bucket_id: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    pub max_size: Option<Option<u64>>,
    pub allowed_mime_types: Option<Vec<String>>,
    #[serde(default, with = "double_option")]
    pub default_visibility: Option<Option<Visibility>>,
    #[serde(default, with = "double_option")]
    pub default_access: Option<Option<Access>>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// Validates a category key: a slug like a bucket id.
pub fn parse_key(key: &str) -> Result<String, TroveError> {
    BucketId::parse(key).map(|b| b.0).map_err(|_| {
        TroveError::invalid("category key must be 1-63 characters of a-z, 0-9, '-' and '_'")
    })
}

impl Category {
    pub fn create(req: NewCategory, now: DateTime<Utc>) -> Result<Self, TroveError> {
        let key = parse_key(&req.key)?;
        let c = Self {
            name: req.name.unwrap_or_else(|| key.clone()),
            key,
            bucket_id: req.bucket_id.as_deref().map(BucketId::parse).transpose()?,
            max_size: req.max_size,
            allowed_mime_types: req.allowed_mime_types.unwrap_or_default(),
            default_visibility: req.default_visibility,
            default_access: req.default_access,
            created_at: now,
            updated_at: now,
        };
        c.validate()?;
        Ok(c)
    }

    pub fn patched(&self, p: CategoryPatch, now: DateTime<Utc>) -> Result<Self, TroveError> {
        let mut c = self.clone();
        if let Some(v) = p.name {
            c.name = v;
        }
        if let Some(v) = p.bucket_id {
            c.bucket_id = v.as_deref().map(BucketId::parse).transpose()?;
        }
        if let Some(v) = p.max_size {
            c.max_size = v;
        }
        if let Some(v) = p.allowed_mime_types {
            c.allowed_mime_types = v;
        }
        if let Some(v) = p.default_visibility {
            c.default_visibility = v;
        }
        if let Some(v) = p.default_access {
            c.default_access = v;
        }
        c.updated_at = now;
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), TroveError> {
        if self.name.trim().is_empty()
            || self.name.len() > 255
            || self.name.chars().any(char::is_control)
        {
            return Err(TroveError::invalid(
                "category name must be 1-255 bytes without control characters",
            ));
        }
        if self.max_size.is_some_and(|m| m > i64::MAX as u64) {
            return Err(TroveError::invalid("maxSize is too large"));
        }
        for p in &self.allowed_mime_types {
            validate::mime_pattern(p)?;
        }
        Ok(())
    }
}

/// The rules an upload or a stored file must satisfy: the bucket's, tightened by the category's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentRules {
    pub min_size: u64,
    pub max_size: u64,
    /// Every list must allow the type (an empty list allows everything).
    pub mime_lists: Vec<Vec<String>>,
}

impl ContentRules {
    pub fn new(bucket: &Bucket, category: Option<&Category>) -> Self {
        let mut max_size = bucket.max_upload_file_size;
        let mut mime_lists = vec![bucket.allowed_mime_types.clone()];
        if let Some(c) = category {
            if let Some(m) = c.max_size {
                max_size = max_size.min(m);
            }
            mime_lists.push(c.allowed_mime_types.clone());
        }
        Self {
            min_size: bucket.min_upload_file_size,
            max_size,
            mime_lists,
        }
    }

    /// Checks only the maximum: for a part of a file, or bytes still arriving.
    pub fn check_size_max(&self, size: u64) -> Result<(), TroveError> {
        if size > self.max_size {
            self.check_size(size)
        } else {
            Ok(())
        }
    }

    pub fn check_size(&self, size: u64) -> Result<(), TroveError> {
        if size > self.max_size {
            Err(TroveError::new(
                ErrorCode::FileTooLarge,
                format!(
                    "the file exceeds the maximum size of {} bytes",
                    self.max_size
                ),
            ))
        } else if size < self.min_size {
            Err(TroveError::new(
                ErrorCode::FileTooSmall,
                format!(
                    "the file is smaller than the minimum size of {} bytes",
                    self.min_size
                ),
            ))
        } else {
            Ok(())
        }
    }

    pub fn check_mime(&self, mime: &str) -> Result<(), TroveError> {
        if self
            .mime_lists
            .iter()
            .all(|l| validate::mime_allowed(mime, l))
        {
            Ok(())
        } else {
            Err(TroveError::new(
                ErrorCode::MimeTypeNotAllowed,
                format!("files of type {mime} are not allowed here"),
            ))
        }
    }
}

/// Resolves the bucket an upload goes to from what it names and its category: the category's bucket
/// is used when none is named; naming a different one is an error.
pub fn upload_bucket(
    named: Option<&BucketId>,
    category: Option<&Category>,
) -> Result<BucketId, TroveError> {
    match (named, category.and_then(|c| c.bucket_id.as_ref())) {
        (Some(n), Some(c)) if n != c => Err(TroveError::invalid(format!(
            "category requires bucket '{c}', not '{n}'"
        ))),
        (Some(n), _) => Ok(n.clone()),
        (None, Some(c)) => Ok(c.clone()),
        (None, None) => Ok(BucketId::default_bucket()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::now;

    fn bucket(max: u64, mimes: &[&str]) -> Bucket {
        let mut b = Bucket::default_bucket(now());
        b.max_upload_file_size = max;
        b.allowed_mime_types = mimes.iter().map(|m| (*m).to_owned()).collect();
        b
    }

    fn category(max: Option<u64>, mimes: &[&str], bucket_id: Option<&str>) -> Category {
        Category::create(
            NewCategory {
                key: "c".into(),
                max_size: max,
                allowed_mime_types: Some(mimes.iter().map(|m| (*m).to_owned()).collect()),
                bucket_id: bucket_id.map(Into::into),
                ..NewCategory::default()
            },
            now(),
        )
        .unwrap()
    }

    #[test]
    fn the_stricter_rule_wins() {
        let b = bucket(100, &["image/*"]);
        let c = category(Some(10), &["image/png"], None);
        let rules = ContentRules::new(&b, Some(&c));
        assert_eq!(rules.max_size, 10);
        assert_eq!(
            rules.check_size(11).unwrap_err().code,
            ErrorCode::FileTooLarge
        );
        assert!(rules.check_mime("image/png").is_ok());
        assert_eq!(
            rules.check_mime("image/jpeg").unwrap_err().code,
            ErrorCode::MimeTypeNotAllowed
        );
        let loose = category(Some(1000), &[], None);
        let rules = ContentRules::new(&b, Some(&loose));
        assert_eq!(rules.max_size, 100, "a category cannot loosen the bucket");
        assert!(rules.check_mime("text/plain").is_err());
    }

    #[test]
    fn bucket_resolution() {
        let c = category(None, &[], Some("docs"));
        let docs = BucketId("docs".into());
        assert_eq!(upload_bucket(None, Some(&c)).unwrap(), docs);
        assert_eq!(upload_bucket(Some(&docs), Some(&c)).unwrap(), docs);
        assert!(upload_bucket(Some(&BucketId("other".into())), Some(&c)).is_err());
        assert_eq!(
            upload_bucket(None, None).unwrap(),
            BucketId::default_bucket()
        );
    }

    #[test]
    fn patch_clears_with_null() {
        let c = category(Some(5), &[], Some("docs"));
        let p: CategoryPatch =
            serde_json::from_str(r#"{"maxSize": null, "name": "Docs"}"#).unwrap();
        let patched = c.patched(p, now()).unwrap();
        assert_eq!(patched.max_size, None);
        assert_eq!(patched.bucket_id, Some(BucketId("docs".into())));
        assert_eq!(patched.name, "Docs");
    }
}
