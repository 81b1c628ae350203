//! `POST /nhost/v1/files` (new files) and `PUT /nhost/v1/files/{id}` (new content), multipart as
//! `@nhost/nhost-js` sends them. The bytes stream to storage part by part, as on `/v1`; only the
//! small JSON parts are read whole, and they come before the files they describe.

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use trove_core::{ErrorCode, FileId, FileRecord, Principal, validate};

use super::{FileMetadata, NhostCaller, NhostError, NhostResult, refuse_unread};
use crate::error::{ApiError, ApiResult};
use crate::rest::files::upload_multipart::{multipart_error, text};
use crate::service::files::{self, FilePatch};
use crate::service::ingest::{self, NewFile, Replacement};
use crate::service::uploads;
use crate::state::AppState;

/// A `metadata[]` part: what to record for the file at the same position.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadMetadata {
    id: Option<String>,
    name: Option<String>,
    metadata: Option<Value>,
}

/// The `metadata` part of a replacement.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplaceMetadata {
    name: Option<String>,
    metadata: Option<Value>,
}

fn parse_json<T: for<'de> Deserialize<'de>>(part: &str, raw: &str) -> ApiResult<T> {
    serde_json::from_str(raw)
        .map_err(|e| ApiError::invalid(format!("{part} must be a JSON object: {e}")))
}

async fn multipart(state: &AppState, req: Request) -> ApiResult<Multipart> {
    Multipart::from_request(req, state)
        .await
        .map_err(|e| ApiError::invalid(e.body_text()))
}

/// → 201 `{"processedFiles":[…]}`. On a failure the files stored before it stay, and are listed
/// beside the error.
pub async fn create(
    State(state): State<AppState>,
    NhostCaller(p): NhostCaller,
    req: Request,
) -> NhostResult<Response> {
    if let Err(e) = p.require_upload() {
        return Err(refuse_unread(req.into_body(), e.into()).await);
    }
    let mut form = multipart(&state, req).await?;
    let mut stored = Vec::new();
    match receive(&state, &p, &mut form, &mut stored).await {
        Ok(()) => {
            let processed: Vec<_> = stored
                .into_iter()
                .map(|f| FileMetadata::new(&p, f))
                .collect();
            Ok((
                StatusCode::CREATED,
                axum::Json(json!({"processedFiles": processed})),
            )
                .into_response())
        }
        Err(e) => Err(NhostError::with_processed(
            e,
            stored
                .into_iter()
                .map(|f| FileMetadata::new(&p, f))
                .collect(),
        )),
    }
}

async fn receive(
    state: &AppState,
    p: &Principal,
    form: &mut Multipart,
    stored: &mut Vec<FileRecord>,
) -> ApiResult<()> {
    let max_files = state.config.max_files_per_request;
    let max_parts = max_files.saturating_mul(2).saturating_add(4);
    let mut bucket_id: Option<String> = None;
    let mut target = None;
    let mut metas: Vec<UploadMetadata> = Vec::new();
    let mut parts = 0usize;
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        parts += 1;
        if parts > max_parts || stored.len() >= max_files && field.name() == Some("file[]") {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "an upload may carry at most {max_files} files; send the rest in another request"
                ),
            ));
        }
        match field.name().unwrap_or("") {
            "bucket-id" => {
                if target.is_some() {
                    return Err(ApiError::invalid("bucket-id must come before the files"));
                }
                bucket_id = Some(text(field).await?.trim().to_owned());
            }
            "metadata[]" => {
                if target.is_some() {
                    return Err(ApiError::invalid(
                        "metadata[] parts must come before the files",
                    ));
                }
                let meta: UploadMetadata = parse_json("metadata[]", &text(field).await?)?;
                if let Some(m) = &meta.metadata {
                    validate::metadata(m)?;
                }
                metas.push(meta);
            }
            "file[]" => {
                let (bucket, category) = match &target {
                    Some(t) => Clone::clone(t),
                    None => {
                        let t = uploads::target(state, bucket_id.as_deref(), None).await?;
                        target = Some(t.clone());
                        t
                    }
                };
                let index = stored.len();
                let meta = if metas.is_empty() {
                    UploadMetadata::default()
                } else {
                    metas.get_mut(index).map(std::mem::take).ok_or_else(|| {
                        ApiError::invalid("give one metadata[] part per file, or none")
                    })?
                };
                let id = match &meta.id {
                    None => None,
                    Some(raw) => Some(FileId::parse(raw).ok_or_else(|| {
                        ApiError::invalid(format!("metadata[].id '{raw}' is not a UUID"))
                    })?),
                };
                let name = meta
                    .name
                    .filter(|n| !n.is_empty())
                    .or_else(|| {
                        field
                            .file_name()
                            .filter(|n| !n.is_empty())
                            .map(str::to_owned)
                    })
                    .ok_or_else(|| {
                        ApiError::new(ErrorCode::InvalidName, "a file part needs a filename")
                    })?;
                let new = NewFile {
                    id,
                    bucket,
                    category,
                    associations: Vec::new(),
                    name,
                    declared_type: field.content_type().map(trove_core::mime::normalize),
                    visibility: None,
                    access: None,
                    metadata: meta.metadata.unwrap_or_else(|| json!({})),
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
                    "unexpected multipart part '{other}'"
                )));
            }
        }
    }
    if stored.is_empty() {
        return Err(ApiError::invalid("the request has no file[] part"));
    }
    if !metas.is_empty() && metas.len() != stored.len() {
        return Err(ApiError::invalid(format!(
            "{} metadata[] parts for {} files: give one per file, or none",
            metas.len(),
            stored.len()
        )));
    }
    Ok(())
}

/// → 200 with the file's metadata: its content replaced by the `file` part; `name` and
/// `metadata` from the `metadata` part when given (a missing `name` keeps the old one).
pub async fn replace(
    State(state): State<AppState>,
    NhostCaller(p): NhostCaller,
    Path(id): Path<String>,
    req: Request,
) -> NhostResult<axum::Json<FileMetadata>> {
    let file = match files::changeable(&state, &p, &id).await {
        Ok(file) => file,
        Err(e) => return Err(refuse_unread(req.into_body(), e).await),
    };
    let mut form = multipart(&state, req).await?;
    let mut patch: Option<ReplaceMetadata> = None;
    let mut replaced = None;
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        match field.name().unwrap_or("") {
            "metadata" if replaced.is_none() && patch.is_none() => {
                let meta: ReplaceMetadata = parse_json("metadata", &text(field).await?)?;
                if let Some(m) = &meta.metadata {
                    validate::metadata(m)?;
                }
                if let Some(n) = &meta.name {
                    validate::file_name(n)?;
                }
                patch = Some(meta);
            }
            "file" if replaced.is_none() => {
                let rules = files::content_rules(&state, &file).await?;
                let with = Replacement {
                    declared_type: field.content_type().map(trove_core::mime::normalize),
                    content_length: None,
                    if_match: None,
                    kind: crate::metrics::UploadKind::Multipart,
                };
                replaced = Some(ingest::replace(&state, file.clone(), &rules, with, field).await?);
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "unexpected multipart part '{other}' (one metadata, then one file)"
                ))
                .into());
            }
        }
    }
    let Some(mut updated) = replaced else {
        return Err(ApiError::invalid("the request has no file part").into());
    };
    if let Some(meta) = patch
        && (meta.name.is_some() || meta.metadata.is_some())
    {
        let change = FilePatch {
            name: meta.name,
            metadata: meta.metadata,
            ..FilePatch::default()
        };
        updated = files::update(&state, &p, &id, change, None).await?;
    }
    Ok(axum::Json(FileMetadata::new(&p, updated)))
}
