//! Serving a file's content over HTTP: validators, conditionals, ranges, disposition, caching and
//! the headers that keep uploaded pages from running on the API's origin. Shared by every route that
//! returns content.

use std::borrow::Cow;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures_util::Stream;
use http_body::{Frame, SizeHint};
use trove_blob::BlobStream;
use trove_core::caching::file_cache_control;
use trove_core::disposition::content_disposition;
use trove_core::mime::is_safe_inline;
use trove_core::precondition::{Outcome, Preconditions, Validators};
use trove_core::range::{self, RangeRequest};
use trove_core::{Bucket, ErrorCode, FileRecord, FileStatus, Visibility};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// How the content is to be presented.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// `?download=1`: `Content-Disposition: attachment`.
    pub attachment: bool,
    /// Replaces the bucket's `Cache-Control` (signed URLs cache only while they are valid).
    pub cache_control: Option<String>,
}

/// The `Cache-Control` for a file: the bucket's, made `private` (and stripped of what lets shared
/// caches store it) for private files.
pub fn cache_control(bucket: &Bucket, file: &FileRecord) -> String {
    file_cache_control(&bucket.cache_control, file.visibility == Visibility::Public)
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// What a response carries: the original content or a rendition of it.
#[derive(Debug, Clone)]
pub struct Representation<'a> {
    pub etag: Cow<'a, str>,
    pub mime_type: Cow<'a, str>,
    /// The name given in `Content-Disposition`.
    pub name: Cow<'a, str>,
    pub size: u64,
    pub source: Source,
    /// The representation was chosen by the request's `Accept` (`format=auto`).
    pub vary_accept: bool,
}

/// Where a representation's bytes are.
#[derive(Debug, Clone)]
pub enum Source {
    /// The file's own content: inline with its row or its current blob.
    Original,
    /// A blob of its own (a stored rendition).
    Blob(String),
    /// Bytes just computed.
    Bytes(Bytes),
}

impl<'a> Representation<'a> {
    pub fn original(file: &'a FileRecord) -> Self {
        Self {
            etag: Cow::Borrowed(&file.etag),
            mime_type: Cow::Borrowed(&file.mime_type),
            name: Cow::Borrowed(&file.name),
            size: file.size,
            source: Source::Original,
            vary_accept: false,
        }
    }
}

/// The request's preconditions against a representation of `file` with `etag`.
pub fn preconditions(headers: &HeaderMap, etag: &str, file: &FileRecord) -> Outcome {
    let conditions = Preconditions {
        if_match: header_str(headers, header::IF_MATCH),
        if_none_match: header_str(headers, header::IF_NONE_MATCH),
        if_modified_since: header_str(headers, header::IF_MODIFIED_SINCE),
        if_unmodified_since: header_str(headers, header::IF_UNMODIFIED_SINCE),
        if_range: header_str(headers, header::IF_RANGE),
    };
    conditions.check(
        Validators {
            etag,
            last_modified: file.updated_at.into(),
        },
        true,
    )
}

/// 409 `conflict` unless the file's content has been uploaded.
pub fn ensure_ready(file: &FileRecord) -> ApiResult<()> {
    if file.status == FileStatus::Ready && file.revision.is_some() {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Conflict,
            "the file's content is not uploaded yet",
        ))
    }
}

/// The current blob key of a file whose content has been uploaded; else 409 `conflict`.
pub fn require_ready(file: &FileRecord) -> ApiResult<String> {
    ensure_ready(file)?;
    // `ensure_ready` saw the revision.
    Ok(file.current_blob_key().unwrap_or_default())
}

/// Answers a GET or HEAD for `file`'s content, which the caller has been allowed to read.
pub async fn serve(
    state: &AppState,
    file: &FileRecord,
    bucket: &Bucket,
    method: &Method,
    headers: &HeaderMap,
    opts: ServeOptions,
) -> ApiResult<Response> {
    ensure_ready(file)?;
    let rep = Representation::original(file);
    respond(state, file, bucket, &rep, method, headers, opts).await
}

/// Answers a GET or HEAD with `rep`, a representation of `file`: validators, conditionals,
/// ranges, disposition and caching alike for originals and renditions.
pub async fn respond(
    state: &AppState,
    file: &FileRecord,
    bucket: &Bucket,
    rep: &Representation<'_>,
    method: &Method,
    headers: &HeaderMap,
    opts: ServeOptions,
) -> ApiResult<Response> {
    let last_modified: SystemTime = file.updated_at.into();
    let last_modified_text = httpdate::fmt_http_date(last_modified);
    let outcome = preconditions(headers, &rep.etag, file);
    let active = !is_safe_inline(&rep.mime_type);
    let mut builder = Response::builder()
        .header(header::ETAG, value(&rep.etag))
        .header(header::LAST_MODIFIED, value(&last_modified_text))
        .header(
            header::CACHE_CONTROL,
            value(
                &opts
                    .cache_control
                    .clone()
                    .unwrap_or_else(|| cache_control(bucket, file)),
            ),
        )
        .header(header::ACCEPT_RANGES, "bytes");
    if rep.vary_accept {
        builder = builder.header(header::VARY, "Accept");
    }
    let honor_range = match outcome {
        Outcome::NotModified => {
            return builder
                .status(StatusCode::NOT_MODIFIED)
                .body(Body::empty())
                .map_err(ApiError::internal);
        }
        Outcome::PreconditionFailed => {
            return Err(ApiError::new(
                ErrorCode::PreconditionFailed,
                "a precondition of the request does not hold",
            ));
        }
        Outcome::Proceed { honor_range } => honor_range,
    };
    let range = if honor_range {
        range::parse(header_str(headers, header::RANGE), rep.size)
    } else {
        RangeRequest::Full
    };
    let (status, start, len) = match range {
        RangeRequest::Full => (StatusCode::OK, 0, rep.size),
        RangeRequest::Partial { start, end } => {
            builder = builder.header(
                header::CONTENT_RANGE,
                value(&format!("bytes {start}-{end}/{}", rep.size)),
            );
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        RangeRequest::Unsatisfiable => {
            return Err(ApiError::new(
                ErrorCode::RangeNotSatisfiable,
                "the requested range is outside the file",
            )
            .with_header(
                header::CONTENT_RANGE,
                value(&format!("bytes */{}", rep.size)),
            ));
        }
    };
    builder = builder
        .status(status)
        .header(header::CONTENT_TYPE, value(&rep.mime_type))
        .header(header::CONTENT_LENGTH, len)
        .header(
            header::CONTENT_DISPOSITION,
            value(&content_disposition(&rep.name, opts.attachment || active)),
        );
    if active {
        builder = builder.header(header::CONTENT_SECURITY_POLICY, "sandbox");
    }
    let body = if method == Method::HEAD || len == 0 {
        Body::new(SizedBody::empty(len))
    } else {
        let range = start..start + len;
        match &rep.source {
            Source::Original => original_body(state, file, range).await?,
            Source::Blob(key) => {
                let stream = state.blobs.read(key, Some(range)).await?;
                Body::new(SizedBody::new(stream, len))
            }
            Source::Bytes(bytes) => slice_body(bytes, range, file)?,
        }
    };
    builder.body(body).map_err(ApiError::internal)
}

fn slice_body(bytes: &Bytes, range: std::ops::Range<u64>, file: &FileRecord) -> ApiResult<Body> {
    let range = range.start as usize..range.end as usize;
    match bytes.get(range.clone()) {
        Some(_) => Ok(Body::from(bytes.slice(range))),
        None => Err(ApiError::internal(format!(
            "content of {} is {} bytes, shorter than the range {range:?}",
            file.id,
            bytes.len(),
        ))),
    }
}

/// The file's own content over `range`: from its row when inline, else from its blob.
async fn original_body(
    state: &AppState,
    file: &FileRecord,
    range: std::ops::Range<u64>,
) -> ApiResult<Body> {
    if let Some(bytes) = &file.inline_content {
        // Kept with the row: the bytes came with the read that found the file.
        return slice_body(bytes, range, file);
    }
    let len = range.end - range.start;
    let stream = read_original_blob(state, file, Some(range)).await?;
    Ok(Body::new(SizedBody::new(stream, len)))
}

/// The whole original content as a stream, for those who transform it.
pub async fn original_stream(state: &AppState, file: &FileRecord) -> ApiResult<BlobStream> {
    if let Some(bytes) = &file.inline_content {
        let bytes = bytes.clone();
        return Ok(Box::pin(futures_util::stream::once(
            async move { Ok(bytes) },
        )));
    }
    read_original_blob(state, file, None).await
}

async fn read_original_blob(
    state: &AppState,
    file: &FileRecord,
    range: Option<std::ops::Range<u64>>,
) -> ApiResult<BlobStream> {
    let key = require_ready(file)?;
    match state.blobs.read(&key, range.clone()).await {
        // Stored before the fan-out of blob keys, and not moved yet.
        Err(trove_blob::BlobError::NotFound) => match file.revision {
            Some(r) => {
                let legacy = FileRecord::legacy_blob_key(&file.bucket_id, file.id, r);
                Ok(state.blobs.read(&legacy, range).await?)
            }
            None => Err(trove_blob::BlobError::NotFound.into()),
        },
        other => Ok(other?),
    }
}

/// With `TROVE_S3_PRESIGNED_DOWNLOADS`, a 307 to the object store's own presigned GET for
/// `lifetime` seconds, so the bytes bypass Trove; `None` when Trove serves them itself (the
/// setting is off, the backend presigns nothing, or the content lives in the database). The store
/// is told the type, disposition and caching to answer with; a redirect is never stored by a
/// cache, since the URL it points to expires.
pub async fn redirect_to_store(
    state: &AppState,
    file: &FileRecord,
    bucket: &Bucket,
    opts: &ServeOptions,
    lifetime: i64,
) -> ApiResult<Option<Response>> {
    let key = match (file.status, file.current_blob_key()) {
        (FileStatus::Ready, Some(key)) if file.inline_content.is_none() => key,
        _ => return Ok(None),
    };
    if !state.config.presigned_downloads || !state.blobs.presigns() {
        return Ok(None);
    }
    let active = !is_safe_inline(&file.mime_type);
    let overrides = trove_blob::ResponseOverrides {
        content_type: Some(file.mime_type.clone()),
        // Active content is never shown inline, here as on Trove's own origin.
        content_disposition: Some(content_disposition(&file.name, opts.attachment || active)),
        cache_control: Some(
            opts.cache_control
                .clone()
                .unwrap_or_else(|| cache_control(bucket, file)),
        ),
    };
    let lifetime = std::time::Duration::from_secs(lifetime.max(1) as u64);
    let Some(url) = state.blobs.presign_get(&key, lifetime, &overrides).await? else {
        return Ok(None);
    };
    Response::builder()
        .status(StatusCode::TEMPORARY_REDIRECT)
        .header(header::LOCATION, value(&url))
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::empty())
        .map(Some)
        .map_err(ApiError::internal)
}

/// A streamed body whose exact length is known, so responses carry `Content-Length` and are never
/// chunked.
struct SizedBody {
    stream: Option<BlobStream>,
    remaining: u64,
}

impl SizedBody {
    fn new(stream: BlobStream, len: u64) -> Self {
        Self {
            stream: Some(stream),
            remaining: len,
        }
    }

    /// No bytes follow (HEAD), but the length is still announced.
    fn empty(len: u64) -> Self {
        Self {
            stream: None,
            remaining: len,
        }
    }
}

impl http_body::Body for SizedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let Some(stream) = self.stream.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(stream).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                let len = chunk.len() as u64;
                if len > self.remaining {
                    return Poll::Ready(Some(Err(std::io::Error::other(
                        "blob longer than recorded size",
                    ))));
                }
                self.remaining -= len;
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Poll::Ready(Some(Err(e))) => {
                tracing::error!(error = %e, "reading a blob failed mid-response");
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) if self.remaining > 0 => {
                tracing::error!(missing = self.remaining, "blob shorter than recorded size");
                Poll::Ready(Some(Err(std::io::Error::other(
                    "blob shorter than recorded size",
                ))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.stream.is_none() || self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
