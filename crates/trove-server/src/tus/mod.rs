//! `/v1/tus`: resumable uploads over HTTP, tus 1.0.0 with every extension, and the IETF draft
//! "Resumable Uploads for HTTP" as tus-js-client speaks it (`protocol: 'ietf-draft-05'`,
//! `Upload-Draft-Interop-Version: 6`), on the same endpoint. One file per action; the logic is in
//! `crate::service::resumable`.
//!
//! Error policy: the statuses the protocol fixes (412 version, 415 content type, 409 offset, 403
//! final upload, 410 expired, 423 locked, 460 checksum) carry Trove's JSON error body with a stable
//! code like every other error; `Tus-Resumable` is on every response except OPTIONS's.

mod create;
mod head;
mod patch;
mod terminate;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use chrono::{DateTime, Utc};
use trove_core::{ErrorCode, Principal, tus};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
pub const TUS_VERSION: HeaderName = HeaderName::from_static("tus-version");
pub const TUS_EXTENSION: HeaderName = HeaderName::from_static("tus-extension");
pub const TUS_MAX_SIZE: HeaderName = HeaderName::from_static("tus-max-size");
pub const TUS_CHECKSUM_ALGORITHM: HeaderName = HeaderName::from_static("tus-checksum-algorithm");
pub const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
pub const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
pub const UPLOAD_DEFER_LENGTH: HeaderName = HeaderName::from_static("upload-defer-length");
pub const UPLOAD_METADATA: HeaderName = HeaderName::from_static("upload-metadata");
pub const UPLOAD_CONCAT: HeaderName = HeaderName::from_static("upload-concat");
pub const UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");
pub const UPLOAD_CHECKSUM: HeaderName = HeaderName::from_static("upload-checksum");
pub const UPLOAD_COMPLETE: HeaderName = HeaderName::from_static("upload-complete");
pub const UPLOAD_DRAFT_INTEROP_VERSION: HeaderName =
    HeaderName::from_static("upload-draft-interop-version");
pub const METHOD_OVERRIDE: HeaderName = HeaderName::from_static("x-http-method-override");
pub const TROVE_FILE_ID: HeaderName = HeaderName::from_static("trove-file-id");

/// The request headers browsers must be allowed to send (CORS).
pub const REQUEST_HEADERS: [HeaderName; 10] = [
    UPLOAD_LENGTH,
    UPLOAD_OFFSET,
    TUS_RESUMABLE,
    UPLOAD_METADATA,
    UPLOAD_DEFER_LENGTH,
    UPLOAD_CONCAT,
    UPLOAD_CHECKSUM,
    METHOD_OVERRIDE,
    UPLOAD_COMPLETE,
    UPLOAD_DRAFT_INTEROP_VERSION,
];

/// The response headers browsers must be allowed to read (CORS).
pub const RESPONSE_HEADERS: [HeaderName; 14] = [
    UPLOAD_OFFSET,
    header::LOCATION,
    UPLOAD_LENGTH,
    TUS_VERSION,
    TUS_RESUMABLE,
    TUS_MAX_SIZE,
    TUS_EXTENSION,
    UPLOAD_METADATA,
    UPLOAD_DEFER_LENGTH,
    UPLOAD_CONCAT,
    UPLOAD_EXPIRES,
    TROVE_FILE_ID,
    UPLOAD_COMPLETE,
    UPLOAD_DRAFT_INTEROP_VERSION,
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tus", any(endpoint).layer(DefaultBodyLimit::disable()))
        .route(
            "/v1/tus/{id}",
            any(upload).layer(DefaultBodyLimit::disable()),
        )
}

/// Which protocol a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Tus,
    /// The IETF draft: no `Tus-Resumable`; `Upload-Complete` ends an upload.
    Draft,
}

/// Every request but OPTIONS names its protocol: `Tus-Resumable: 1.0.0`, or the draft's interop
/// version. Anything else is 412 with the versions this server speaks.
fn dialect(headers: &HeaderMap) -> ApiResult<Dialect> {
    if headers.contains_key(UPLOAD_DRAFT_INTEROP_VERSION) {
        return Ok(Dialect::Draft);
    }
    match headers.get(TUS_RESUMABLE).map(HeaderValue::as_bytes) {
        Some(v) if v == tus::VERSION.as_bytes() => Ok(Dialect::Tus),
        _ => Err(ApiError::new(
            ErrorCode::UnsupportedVersion,
            format!(
                "this server speaks tus {}: send Tus-Resumable: {}",
                tus::VERSION,
                tus::VERSION
            ),
        )
        .with_header(TUS_VERSION, HeaderValue::from_static(tus::VERSION))),
    }
}

/// The method a request means: `X-HTTP-Method-Override` for clients that cannot send PATCH or
/// DELETE.
fn method(req: &Request) -> ApiResult<Method> {
    match req.headers().get(METHOD_OVERRIDE) {
        Some(v) => Method::from_bytes(v.as_bytes())
            .map_err(|_| ApiError::invalid("X-HTTP-Method-Override is not a method")),
        None => Ok(req.method().clone()),
    }
}

async fn caller(state: &AppState, req: Request) -> ApiResult<(Principal, HeaderMap, Body)> {
    let (parts, body) = req.into_parts();
    let p = state.auth.authenticate(&parts).await?;
    p.require_upload()?;
    Ok((p, parts.headers, body))
}

/// `/v1/tus`: OPTIONS and POST (creation).
async fn endpoint(State(state): State<AppState>, req: Request) -> Response {
    let result = match method(&req) {
        Ok(Method::OPTIONS) => return options(&state).await,
        Ok(Method::POST) => create::handle(&state, req).await,
        Ok(_) => Err(not_allowed()),
        Err(e) => Err(e),
    };
    finish_response(result)
}

/// `/v1/tus/{id}`: HEAD, PATCH, DELETE and OPTIONS.
async fn upload(State(state): State<AppState>, Path(id): Path<String>, req: Request) -> Response {
    let result = match method(&req) {
        Ok(Method::OPTIONS) => return options(&state).await,
        Ok(Method::HEAD) => head::handle(&state, &id, req).await,
        Ok(Method::PATCH) => patch::handle(&state, &id, req).await,
        Ok(Method::DELETE) => terminate::handle(&state, &id, req).await,
        Ok(_) => Err(not_allowed()),
        Err(e) => Err(e),
    };
    finish_response(result)
}

fn not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this route",
    )
}

fn finish_response(result: ApiResult<Response>) -> Response {
    let mut res = result.unwrap_or_else(IntoResponse::into_response);
    res.headers_mut()
        .insert(TUS_RESUMABLE, HeaderValue::from_static(tus::VERSION));
    res
}

/// Answers a plain `OPTIONS` on the tus endpoints before the CORS layer takes it for a preflight.
pub async fn discovery(
    State(state): State<AppState>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let plain_options = req.method() == Method::OPTIONS
        && !req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        && (req.uri().path() == "/v1/tus" || req.uri().path().starts_with("/v1/tus/"));
    if plain_options {
        return options(&state).await;
    }
    next.run(req).await
}

/// `OPTIONS`: what this server supports; no credentials needed.
async fn options(state: &AppState) -> Response {
    let max = crate::service::buckets::find(state, &trove_core::BucketId::default_bucket())
        .await
        .map(|b| b.max_upload_file_size);
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    h.insert(TUS_VERSION, HeaderValue::from_static(tus::VERSION));
    h.insert(TUS_EXTENSION, HeaderValue::from_static(tus::EXTENSIONS));
    h.insert(
        TUS_CHECKSUM_ALGORITHM,
        HeaderValue::from_static(tus::CHECKSUM_ALGORITHMS),
    );
    if let Ok(max) = max {
        h.insert(TUS_MAX_SIZE, HeaderValue::from(max));
    }
    res
}

/// A header's value as text; 400 naming it when it is not.
fn text<'a>(headers: &'a HeaderMap, name: &HeaderName) -> ApiResult<Option<&'a str>> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::invalid(format!("{name} is not valid text")))
        })
        .transpose()
}

fn size(headers: &HeaderMap, name: &HeaderName, label: &str) -> ApiResult<Option<u64>> {
    text(headers, name)?
        .map(|v| tus::parse_size(label, v.trim()).map_err(Into::into))
        .transpose()
}

/// The draft's `Upload-Complete` (a structured boolean).
fn upload_complete(headers: &HeaderMap) -> ApiResult<Option<bool>> {
    match text(headers, &UPLOAD_COMPLETE)?.map(str::trim) {
        None => Ok(None),
        Some("?1") => Ok(Some(true)),
        Some("?0") => Ok(Some(false)),
        Some(_) => Err(ApiError::invalid("Upload-Complete must be ?1 or ?0")),
    }
}

fn http_date(t: DateTime<Utc>) -> HeaderValue {
    HeaderValue::from_str(&httpdate::fmt_http_date(t.into()))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn upload_url(state: &AppState, id: impl std::fmt::Display) -> String {
    format!("{}/v1/tus/{id}", state.config.public_url)
}

fn header_value(s: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(s).ok()
}
