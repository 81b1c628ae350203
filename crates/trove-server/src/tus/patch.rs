//! `PATCH /v1/tus/{id}`: the next bytes of an upload, at the offset the client names.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use trove_core::ErrorCode;
use trove_core::tus::{self, Checksum};

use super::{
    Dialect, TROVE_FILE_ID, UPLOAD_CHECKSUM, UPLOAD_COMPLETE, UPLOAD_EXPIRES, UPLOAD_LENGTH,
    UPLOAD_OFFSET, caller, dialect, http_date, size, text, upload_complete,
};
use crate::error::{ApiError, ApiResult};
use crate::rest::files::upload::content_type;
use crate::service::files;
use crate::service::resumable::{self, Append, Found};
use crate::state::AppState;

/// The media type of tus PATCH bodies.
pub const TUS_CONTENT_TYPE: &str = "application/offset+octet-stream";
/// The media type of the draft's PATCH bodies.
pub const DRAFT_CONTENT_TYPE: &str = "application/partial-upload";

pub(super) fn checksum(headers: &HeaderMap) -> ApiResult<Option<Checksum>> {
    Ok(text(headers, &UPLOAD_CHECKSUM)?
        .map(tus::parse_checksum)
        .transpose()?)
}

pub(super) async fn handle(state: &AppState, id: &str, req: Request) -> ApiResult<Response> {
    let dialect = dialect(req.headers())?;
    let ct = content_type(req.headers());
    let type_ok = match dialect {
        Dialect::Tus => ct.as_deref() == Some(TUS_CONTENT_TYPE),
        Dialect::Draft => ct.is_none() || ct.as_deref() == Some(DRAFT_CONTENT_TYPE),
    };
    if !type_ok {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("PATCH bodies are {TUS_CONTENT_TYPE}"),
        ));
    }
    let (p, headers, body) = caller(state, req).await?;
    let offset = size(&headers, &UPLOAD_OFFSET, "Upload-Offset")?
        .ok_or_else(|| ApiError::invalid("Upload-Offset is required"))?;
    let req = Append {
        offset,
        length: size(&headers, &UPLOAD_LENGTH, "Upload-Length")?,
        checksum: checksum(&headers)?,
        completes: dialect == Dialect::Draft && upload_complete(&headers)?.unwrap_or(false),
    };
    let mut res = StatusCode::NO_CONTENT.into_response();
    match resumable::find_active(state, &p, id).await? {
        Found::Finished(f) => {
            // Every byte arrived already: the same offset again is answered as it was.
            if offset != f.size {
                return Err(files::conflict(&format!(
                    "Upload-Offset {offset} does not match the upload's offset {}",
                    f.size
                )));
            }
            let h = res.headers_mut();
            h.insert(UPLOAD_OFFSET, HeaderValue::from(f.size));
            if let Ok(v) = HeaderValue::from_str(&f.id.to_string()) {
                h.insert(TROVE_FILE_ID, v);
            }
        }
        Found::Active(upload) => {
            let done = resumable::append(state, upload, req, body.into_data_stream()).await?;
            let h = res.headers_mut();
            h.insert(UPLOAD_OFFSET, HeaderValue::from(done.upload.offset));
            match &done.file {
                Some(f) => {
                    if let Ok(v) = HeaderValue::from_str(&f.id.to_string()) {
                        h.insert(TROVE_FILE_ID, v);
                    }
                }
                None => {
                    h.insert(
                        UPLOAD_EXPIRES,
                        http_date(resumable::expires_at(state, &done.upload)),
                    );
                }
            }
            if dialect == Dialect::Draft {
                let complete = done.upload.is_complete();
                h.insert(
                    UPLOAD_COMPLETE,
                    HeaderValue::from_static(if complete { "?1" } else { "?0" }),
                );
            }
        }
    }
    Ok(res)
}
