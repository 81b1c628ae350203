//! `POST /v1/tus`: creation, creation-with-upload, creation-defer-length and concatenation.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use trove_core::tus::{self, Concat};
use trove_meta::TusKind;

use super::{
    Dialect, TROVE_FILE_ID, UPLOAD_CONCAT, UPLOAD_DEFER_LENGTH, UPLOAD_EXPIRES, UPLOAD_LENGTH,
    UPLOAD_METADATA, UPLOAD_OFFSET, caller, dialect, http_date, patch, size, text, upload_complete,
    upload_url,
};
use crate::error::{ApiError, ApiResult};
use crate::rest::files::upload::content_type;
use crate::service::resumable::{self, Append, Creation};
use crate::state::AppState;

/// Whether a creation request carries the first bytes of the upload.
fn carries_data(dialect: Dialect, headers: &HeaderMap) -> bool {
    let ct = content_type(headers);
    match dialect {
        Dialect::Tus => ct.as_deref() == Some(patch::TUS_CONTENT_TYPE),
        Dialect::Draft => {
            ct.as_deref() == Some(patch::DRAFT_CONTENT_TYPE)
                || headers
                    .get(header::CONTENT_LENGTH)
                    .is_some_and(|v| v.as_bytes() != b"0")
        }
    }
}

pub(super) async fn handle(state: &AppState, req: Request) -> ApiResult<Response> {
    let dialect = dialect(req.headers())?;
    let (p, headers, body) = caller(state, req).await?;
    let concat = text(&headers, &UPLOAD_CONCAT)?
        .map(tus::parse_concat)
        .transpose()?;
    let length = size(&headers, &UPLOAD_LENGTH, "Upload-Length")?;
    let deferred = match text(&headers, &UPLOAD_DEFER_LENGTH)? {
        None => false,
        Some("1") => true,
        Some(_) => return Err(ApiError::invalid("Upload-Defer-Length must be 1")),
    };
    let completes = upload_complete(&headers)?.unwrap_or(false);
    let is_final = matches!(concat, Some(Concat::Final(_)));
    match (length.is_some(), deferred) {
        (true, true) => {
            return Err(ApiError::invalid(
                "send Upload-Length or Upload-Defer-Length, not both",
            ));
        }
        // A final upload's length is the sum of its parts; the draft may end an upload later
        // with Upload-Complete instead of announcing its length.
        (false, false) if !is_final && dialect == Dialect::Tus => {
            return Err(ApiError::invalid(
                "Upload-Length (or Upload-Defer-Length: 1) is required",
            ));
        }
        _ => {}
    }
    let with_data = carries_data(dialect, &headers) && !is_final;
    let metadata = text(&headers, &UPLOAD_METADATA)?.map(str::to_owned);
    let upload = resumable::create(
        state,
        &p,
        Creation {
            length,
            metadata,
            concat,
        },
    )
    .await?;
    let mut file_id = (upload.kind == TusKind::Final && upload.is_complete()).then_some(upload.id);
    let mut upload = upload;
    if with_data || (completes && dialect == Dialect::Draft) {
        let appended = resumable::append(
            state,
            upload,
            Append {
                offset: 0,
                length: None,
                checksum: patch::checksum(&headers)?,
                completes,
            },
            body.into_data_stream(),
        )
        .await?;
        if let Some(f) = &appended.file {
            file_id = Some(f.id);
        }
        upload = appended.upload;
    } else if upload.kind == TusKind::Single && upload.length == Some(0) {
        // An empty file is complete at creation.
        if let resumable::Found::Finished(f) =
            resumable::find(state, &p, &upload.id.to_string()).await?
        {
            file_id = Some(f.id);
        }
    }
    let mut res = StatusCode::CREATED.into_response();
    let h = res.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&upload_url(state, upload.id)) {
        h.insert(header::LOCATION, location);
    }
    if upload.kind != TusKind::Final || upload.is_complete() {
        h.insert(UPLOAD_OFFSET, HeaderValue::from(upload.offset));
    }
    if file_id.is_none() {
        h.insert(
            UPLOAD_EXPIRES,
            http_date(resumable::expires_at(state, &upload)),
        );
    }
    if let Some(id) = file_id
        && let Ok(v) = HeaderValue::from_str(&id.to_string())
    {
        h.insert(TROVE_FILE_ID, v);
    }
    Ok(res)
}
