//! Associations: a file related to an object of the application (`entityName`, `entityReference`),
//! which Trove knows nothing else about.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::TroveError;
use crate::ids::FileId;
use crate::time::rfc3339;

/// One file–object relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Association {
    pub id: Uuid,
    pub file_id: FileId,
    pub entity_name: String,
    pub entity_reference: String,
    #[serde(with = "rfc3339")]
    pub created_at: DateTime<Utc>,
}

/// An object of the application, as named in requests.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntityRef {
    pub entity_name: String,
    pub entity_reference: String,
}

impl EntityRef {
    /// Both strings must be 1–255 bytes without control characters.
    pub fn validate(&self) -> Result<(), TroveError> {
        for (field, v) in [
            ("entityName", &self.entity_name),
            ("entityReference", &self.entity_reference),
        ] {
            if v.is_empty() || v.len() > 255 || v.chars().any(char::is_control) {
                return Err(TroveError::invalid(format!(
                    "{field} must be 1-255 bytes without control characters"
                )));
            }
        }
        Ok(())
    }
}

/// Most associations accepted in one upload.
pub const MAX_ASSOCIATIONS_PER_REQUEST: usize = 100;

/// Validates a list of associations given with an upload, dropping duplicates.
pub fn validate_list(list: Vec<EntityRef>) -> Result<Vec<EntityRef>, TroveError> {
    if list.len() > MAX_ASSOCIATIONS_PER_REQUEST {
        return Err(TroveError::invalid("at most 100 associations per request"));
    }
    let mut out: Vec<EntityRef> = Vec::with_capacity(list.len());
    for e in list {
        e.validate()?;
        if !out.contains(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(n: &str, r: &str) -> EntityRef {
        EntityRef {
            entity_name: n.into(),
            entity_reference: r.into(),
        }
    }

    #[test]
    fn validation() {
        assert!(e("contract", "42").validate().is_ok());
        assert!(e("", "42").validate().is_err());
        assert!(e("contract", &"x".repeat(256)).validate().is_err());
        assert!(e("a\nb", "1").validate().is_err());
        assert_eq!(
            validate_list(vec![e("a", "1"), e("a", "1"), e("a", "2")])
                .unwrap()
                .len(),
            2
        );
    }
}
