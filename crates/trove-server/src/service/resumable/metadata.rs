//! The file a tus upload creates, from its `Upload-Metadata`.
//!
//! Keys, as tus clients and Uppy send them: `filename` (or `name`), `filetype` (or
//! `contentType`), `bucketId`, `category`, `visibility`, `access`, `metadata` (a JSON object),
//! `associations` (a JSON array) and `fingerprint`. Other keys (Uppy adds `relativePath`, `type`)
//! are ignored; a key Trove reads with a bad value is `invalid_request` naming it.

use trove_core::tus::parse_metadata;
use trove_core::{Access, EntityRef, Visibility};

use crate::error::{ApiError, ApiResult};
use crate::service::ingest::NewFile;
use crate::service::uploads::{self, MAX_FINGERPRINT};
use crate::state::AppState;

pub struct FromMetadata {
    pub file: NewFile,
    pub fingerprint: Option<String>,
}

pub async fn new_file(state: &AppState, header: Option<&str>) -> ApiResult<FromMetadata> {
    let pairs = parse_metadata(header.unwrap_or(""))?;
    let get = |keys: &[&str]| -> Option<String> {
        keys.iter().find_map(|k| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .and_then(|(_, v)| v.clone())
        })
    };
    let (bucket, category) = uploads::target(
        state,
        get(&["bucketId"]).as_deref(),
        get(&["category"]).as_deref(),
    )
    .await?;
    let visibility = get(&["visibility"])
        .map(|v| Visibility::parse(&v))
        .transpose()?;
    let access = get(&["access"]).map(|v| Access::parse(&v)).transpose()?;
    let metadata = match get(&["metadata"]) {
        Some(json) => serde_json::from_str(&json)
            .map_err(|_| ApiError::invalid("Upload-Metadata: 'metadata' must be a JSON object"))?,
        None => serde_json::json!({}),
    };
    let associations: Vec<EntityRef> = match get(&["associations"]) {
        Some(json) => serde_json::from_str(&json).map_err(|_| {
            ApiError::invalid(
                "Upload-Metadata: 'associations' must be a JSON array of {entityName, entityReference}",
            )
        })?,
        None => Vec::new(),
    };
    let fingerprint = get(&["fingerprint"]);
    if fingerprint
        .as_ref()
        .is_some_and(|f| f.len() > MAX_FINGERPRINT)
    {
        return Err(ApiError::invalid(format!(
            "Upload-Metadata: 'fingerprint' is longer than {MAX_FINGERPRINT} bytes"
        )));
    }
    Ok(FromMetadata {
        file: NewFile {
            id: None,
            bucket,
            category,
            name: get(&["filename", "name"]).unwrap_or_else(|| "upload".to_owned()),
            declared_type: get(&["filetype", "contentType"])
                .map(|t| trove_core::mime::normalize(&t))
                .filter(|t| !t.is_empty()),
            visibility,
            access,
            metadata,
            associations,
        },
        fingerprint,
    })
}
