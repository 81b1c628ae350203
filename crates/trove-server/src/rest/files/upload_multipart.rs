//! Multipart uploads: common fields, then `file` parts, each optionally preceded by `fileMetadata`.

use std::collections::HashMap;

use axum::extract::Multipart;
use axum::extract::multipart::Field;
use serde::Deserialize;
use serde_json::{Value, json};
use trove_core::{
    Access, Bucket, Category, EntityRef, ErrorCode, FileRecord, Principal, Visibility, validate,
};

use crate::error::{ApiError, ApiResult};
use crate::rest::view::FileList;
use crate::service::ingest::{self, NewFile};
use crate::service::uploads;
use crate::state::AppState;

/// Largest text field accepted (metadata is at most 64 KiB; this leaves room for escaping).
const MAX_TEXT_FIELD: usize = 256 * 1024;

/// `fileMetadata`: applies to the next `file` part only.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMetadata {
    name: Option<String>,
    metadata: Option<Value>,
    visibility: Option<Visibility>,
    access: Option<Access>,
}

/// Fields that apply to every file of the request.
#[derive(Debug, Default)]
struct Common {
    bucket_id: Option<String>,
    category: Option<String>,
    associations: Vec<EntityRef>,
    visibility: Option<Visibility>,
    access: Option<Access>,
    metadata: Option<Value>,
}

pub(crate) fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::invalid(format!("malformed multipart body: {}", e.body_text()))
}

pub(crate) async fn text(mut field: Field<'_>) -> ApiResult<String> {
    let name = field.name().unwrap_or("").to_owned();
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if buf.len() + chunk.len() > MAX_TEXT_FIELD {
            return Err(ApiError::invalid(format!("field '{name}' is too large")));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf).map_err(|_| ApiError::invalid(format!("field '{name}' is not UTF-8")))
}

fn json_object(field: &str, text: &str) -> ApiResult<Value> {
    let value: Value = serde_json::from_str(text)
        .map_err(|_| ApiError::invalid(format!("{field} must be a JSON object")))?;
    validate::metadata(&value)?;
    Ok(value)
}

/// The bucket and category named by the common fields.
type Target = (Option<String>, Option<String>);

/// Stores the files of a multipart request in order. On the first failure the error is returned
/// with the files stored so far in `data.files`; they stay stored.
pub async fn receive(
    state: &AppState,
    p: &Principal,
    mut multipart: Multipart,
) -> ApiResult<Vec<FileRecord>> {
    let mut stored: Vec<FileRecord> = Vec::new();
    let result = receive_into(state, p, &mut multipart, &mut stored).await;
    match result {
        Ok(()) if stored.is_empty() => Err(ApiError::invalid("the request has no 'file' part")),
        Ok(()) => Ok(stored),
        Err(e) => Err(e.with_data(
            serde_json::to_value(FileList::new(state, p, stored)).unwrap_or_else(|_| json!({})),
        )),
    }
}

async fn receive_into(
    state: &AppState,
    p: &Principal,
    multipart: &mut Multipart,
    stored: &mut Vec<FileRecord>,
) -> ApiResult<()> {
    let mut common = Common::default();
    let mut next_meta: Option<FileMetadata> = None;
    let mut targets: HashMap<Target, (Bucket, Option<Category>)> = HashMap::new();
    let max_files = state.config.max_files_per_request;
    // Room for a `fileMetadata` per file and every common field, and no more.
    let max_parts = max_files.saturating_mul(2).saturating_add(16);
    let (mut files, mut parts) = (0usize, 0usize);
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let field_name = field.name().unwrap_or("").to_owned();
        parts += 1;
        if field_name == "file" {
            files += 1;
        }
        if files > max_files || parts > max_parts {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "a multipart upload may carry at most {max_files} files ({max_parts} parts); \
                     send the rest in another request"
                ),
            ));
        }
        match field_name.as_str() {
            "bucketId" => common.bucket_id = Some(text(field).await?.trim().to_owned()),
            "category" => common.category = Some(text(field).await?.trim().to_owned()),
            "associations" => {
                common.associations = serde_json::from_str(&text(field).await?).map_err(|_| {
                    ApiError::invalid(
                        "associations must be a JSON array of {entityName, entityReference}",
                    )
                })?;
            }
            "visibility" => common.visibility = Some(Visibility::parse(text(field).await?.trim())?),
            "access" => common.access = Some(Access::parse(text(field).await?.trim())?),
            "metadata" => common.metadata = Some(json_object("metadata", &text(field).await?)?),
            "fileMetadata" => {
                let raw = text(field).await?;
                let meta: FileMetadata = serde_json::from_str(&raw).map_err(|e| {
                    ApiError::invalid(format!("fileMetadata must be a JSON object: {e}"))
                })?;
                if let Some(m) = &meta.metadata {
                    validate::metadata(m)?;
                }
                next_meta = Some(meta);
            }
            "file" => {
                let meta = next_meta.take().unwrap_or_default();
                let name = meta
                    .name
                    .clone()
                    .or_else(|| field.file_name().map(str::to_owned))
                    .ok_or_else(|| {
                        ApiError::new(ErrorCode::InvalidName, "a file part needs a filename")
                    })?;
                let key = (common.bucket_id.clone(), common.category.clone());
                let (bucket, category) = match targets.get(&key) {
                    Some(t) => t.clone(),
                    None => {
                        let t = uploads::target(state, key.0.as_deref(), key.1.as_deref()).await?;
                        targets.insert(key, t.clone());
                        t
                    }
                };
                let new = NewFile {
                    id: None,
                    bucket,
                    category,
                    associations: common.associations.clone(),
                    name,
                    declared_type: field.content_type().map(trove_core::mime::normalize),
                    visibility: meta.visibility.or(common.visibility),
                    access: meta.access.or(common.access),
                    metadata: merge(common.metadata.as_ref(), meta.metadata),
                };
                let file = ingest::create(
                    state,
                    p,
                    crate::metrics::UploadKind::Multipart,
                    new,
                    None,
                    field,
                )
                .await?;
                stored.push(file);
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "unexpected multipart field '{other}'"
                )));
            }
        }
    }
    Ok(())
}

/// The per-file metadata's keys over the common ones.
fn merge(common: Option<&Value>, own: Option<Value>) -> Value {
    let mut merged = common.cloned().unwrap_or_else(|| json!({}));
    if let (Some(target), Some(Value::Object(own))) = (merged.as_object_mut(), own) {
        for (k, v) in own {
            target.insert(k, v);
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_file_metadata_wins() {
        let merged = merge(
            Some(&json!({"a": 1, "b": 2})),
            Some(json!({"b": 3, "c": 4})),
        );
        assert_eq!(merged, json!({"a": 1, "b": 3, "c": 4}));
        assert_eq!(merge(None, None), json!({}));
    }
}
