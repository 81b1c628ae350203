//! Answering a download that asks for a rendition: its validators before any pixel is touched,
//! then the stored rendition, or one computed now.

use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use trove_core::precondition::Outcome;
use trove_core::transform::{FormatChoice, ImageFormat, Transform, rendition_name};
use trove_core::{Bucket, FileRecord};

use super::not_an_image;
use crate::content::{self, Representation, ServeOptions, Source};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Stored renditions up to this size are read whole (and kept in memory); larger ones stream.
const MEMORY_READ_MAX: u64 = 1 << 20;

/// A stored rendition of `size` bytes, read whole.
async fn read_small(state: &AppState, key: &str, size: u64) -> ApiResult<Bytes> {
    use futures_util::TryStreamExt;
    let chunks: Vec<Bytes> = state
        .blobs
        .read(key, Some(0..size))
        .await?
        .try_collect()
        .await
        .map_err(ApiError::internal)?;
    let mut all = bytes::BytesMut::with_capacity(size as usize);
    for c in chunks {
        all.extend_from_slice(&c);
    }
    Ok(all.freeze())
}

/// A route's own query parameters, as (name, value).
pub type OwnParameters = Vec<(String, String)>;

/// A route's query: the values of its own parameters `own` (each at most once) and the
/// transformation the rest asks for. Anything else is 400 `invalid_request` naming it.
pub fn parse_query(
    raw: Option<&str>,
    own: &[&str],
) -> ApiResult<(OwnParameters, Option<Transform>)> {
    // Borrowed from the query unless percent-decoding changed them.
    let pairs: Vec<_> = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()).collect();
    let mut mine: OwnParameters = Vec::new();
    for (k, v) in &pairs {
        if own.contains(&k.as_ref()) {
            if mine.iter().any(|(seen, _)| seen == k) {
                return Err(ApiError::invalid(format!(
                    "query parameter `{k}` is given more than once"
                )));
            }
            mine.push((k.to_string(), v.to_string()));
        }
    }
    let t = Transform::from_query(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())), own)?;
    Ok((mine, t))
}

/// The content of `file`, or the rendition `t` names: the answer of a download route once it has
/// found the file and checked who may read it.
pub async fn serve_either(
    state: &AppState,
    file: &FileRecord,
    bucket: &Bucket,
    t: Option<Transform>,
    method: &Method,
    headers: &HeaderMap,
    opts: ServeOptions,
) -> ApiResult<Response> {
    match t {
        Some(t) => serve_transformed(state, file, bucket, t, method, headers, opts).await,
        None => content::serve(state, file, bucket, method, headers, opts).await,
    }
}

/// Answers a GET or HEAD for the rendition `t` of `file`, which the caller may read.
pub async fn serve_transformed(
    state: &AppState,
    file: &FileRecord,
    bucket: &Bucket,
    t: Transform,
    method: &Method,
    headers: &HeaderMap,
    opts: ServeOptions,
) -> ApiResult<Response> {
    let blob_key = content::require_ready(file)?;
    let source = ImageFormat::from_mime(&file.mime_type).ok_or_else(not_an_image)?;
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let output = t.output(source, accept);
    let normalized = t.normalized(output);
    let mut hasher = Sha256::new();
    hasher.update(file.etag.as_bytes());
    hasher.update(b"\n");
    hasher.update(normalized.as_bytes());
    let digest = hex::encode(&hasher.finalize()[..16]);
    let mut rep = Representation {
        etag: format!("\"{digest}\"").into(),
        mime_type: output.mime().into(),
        name: rendition_name(&file.name, output).into(),
        size: 0,
        source: Source::Bytes(Bytes::new()),
        vary_accept: t.format == FormatChoice::Auto,
    };
    // A revalidation or a failed precondition needs no pixels.
    if !matches!(
        content::preconditions(headers, &rep.etag, file),
        Outcome::Proceed { .. }
    ) {
        return content::respond(state, file, bucket, &rep, method, headers, opts).await;
    }
    // Contents kept with their row are small and leave the database with it: their renditions
    // are computed every time rather than left behind in the blob store.
    let store = state.images.caches() && file.inline_content.is_none();
    let key = format!(
        "{}{digest}.{}",
        super::renditions_of(&blob_key),
        output.extension()
    );
    let bytes = if let Some(bytes) = state.images.recent(&key) {
        bytes
    } else if store && let Some(info) = state.blobs.head(&key).await? {
        if info.size > MEMORY_READ_MAX {
            rep.size = info.size;
            rep.source = Source::Blob(key);
            return content::respond(state, file, bucket, &rep, method, headers, opts).await;
        }
        let bytes = read_small(state, &key, info.size).await?;
        state.images.remember(&key, &bytes);
        bytes
    } else {
        let bytes = state
            .images
            .rendition(state, file, t, output, key.clone(), store)
            .await?;
        state.images.remember(&key, &bytes);
        bytes
    };
    rep.size = bytes.len() as u64;
    rep.source = Source::Bytes(bytes);
    content::respond(state, file, bucket, &rep, method, headers, opts).await
}
