//! Serving a file's content over HTTP: validators, conditionals, ranges, disposition, caching and
//! the headers that keep uploaded pages from running on the API's origin. Shared by every route that
//! returns content.

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

/// Answers a GET or HEAD for `file`'s content, which the caller has been allowed to read.
pub async fn serve(
    state: &AppState,
    file: &FileRecord,
    bucket: &Bucket,
    method: &Method,
    headers: &HeaderMap,
    opts: ServeOptions,
) -> ApiResult<Response> {
    let key = match (file.status, file.current_blob_key()) {
        (FileStatus::Ready, Some(key)) => key,
        _ => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "the file's content is not uploaded yet",
            ));
        }
    };
    let last_modified: SystemTime = file.updated_at.into();
    let last_modified_text = httpdate::fmt_http_date(last_modified);
    let conditions = Preconditions {
        if_match: header_str(headers, header::IF_MATCH),
        if_none_match: header_str(headers, header::IF_NONE_MATCH),
        if_modified_since: header_str(headers, header::IF_MODIFIED_SINCE),
        if_unmodified_since: header_str(headers, header::IF_UNMODIFIED_SINCE),
        if_range: header_str(headers, header::IF_RANGE),
    };
    let outcome = conditions.check(
        Validators {
            etag: &file.etag,
            last_modified,
        },
        true,
    );
    let active = !is_safe_inline(&file.mime_type);
    let mut builder = Response::builder()
        .header(header::ETAG, value(&file.etag))
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
        range::parse(header_str(headers, header::RANGE), file.size)
    } else {
        RangeRequest::Full
    };
    let (status, start, len) = match range {
        RangeRequest::Full => (StatusCode::OK, 0, file.size),
        RangeRequest::Partial { start, end } => {
            builder = builder.header(
                header::CONTENT_RANGE,
                value(&format!("bytes {start}-{end}/{}", file.size)),
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
                value(&format!("bytes */{}", file.size)),
            ));
        }
    };
    builder = builder
        .status(status)
        .header(header::CONTENT_TYPE, value(&file.mime_type))
        .header(header::CONTENT_LENGTH, len)
        .header(
            header::CONTENT_DISPOSITION,
            value(&content_disposition(&file.name, opts.attachment || active)),
        );
    if active {
        builder = builder.header(header::CONTENT_SECURITY_POLICY, "sandbox");
    }
    let body = if method == Method::HEAD || len == 0 {
        Body::new(SizedBody::empty(len))
    } else if let Some(bytes) = &file.inline_content {
        // Kept with the row: the bytes came with the read that found the file.
        let range = start as usize..(start + len) as usize;
        match bytes.get(range.clone()) {
            Some(_) => Body::from(bytes.slice(range)),
            None => {
                return Err(ApiError::internal(format!(
                    "inline content of {} is {} bytes, its row says {}",
                    file.id,
                    bytes.len(),
                    file.size
                )));
            }
        }
    } else {
        let range = Some(start..start + len);
        let stream = match state.blobs.read(&key, range.clone()).await {
            // Stored before the fan-out of blob keys, and not moved yet.
            Err(trove_blob::BlobError::NotFound) => match file.revision {
                Some(r) => {
                    let legacy = FileRecord::legacy_blob_key(&file.bucket_id, file.id, r);
                    state.blobs.read(&legacy, range).await?
                }
                None => return Err(trove_blob::BlobError::NotFound.into()),
            },
            other => other?,
        };
        Body::new(SizedBody::new(stream, len))
    };
    builder.body(body).map_err(ApiError::internal)
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
