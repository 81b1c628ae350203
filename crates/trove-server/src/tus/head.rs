//! `HEAD /v1/tus/{id}`: where an upload stands. Only bytes that are durable are counted.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use trove_meta::TusKind;

use super::{
    Dialect, TROVE_FILE_ID, UPLOAD_COMPLETE, UPLOAD_CONCAT, UPLOAD_DEFER_LENGTH, UPLOAD_EXPIRES,
    UPLOAD_LENGTH, UPLOAD_METADATA, UPLOAD_OFFSET, caller, dialect, header_value, http_date,
};
use crate::error::ApiResult;
use crate::service::resumable::{self, Found};
use crate::state::AppState;

pub(super) async fn handle(state: &AppState, id: &str, req: Request) -> ApiResult<Response> {
    let dialect = dialect(req.headers())?;
    let (p, _, _) = caller(state, req).await?;
    let found = resumable::find_active(state, &p, id).await?;
    let mut res = StatusCode::OK.into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let complete = match found {
        Found::Active(u) => {
            // A final upload has no offset of its own until its parts are concatenated.
            if u.kind != TusKind::Final || u.is_complete() {
                h.insert(UPLOAD_OFFSET, HeaderValue::from(u.offset));
            }
            match u.length {
                Some(l) => {
                    h.insert(UPLOAD_LENGTH, HeaderValue::from(l));
                }
                None => {
                    h.insert(UPLOAD_DEFER_LENGTH, HeaderValue::from_static("1"));
                }
            }
            if let Some(m) = u.metadata.as_deref().and_then(header_value) {
                h.insert(UPLOAD_METADATA, m);
            }
            match u.kind {
                TusKind::Partial => {
                    h.insert(UPLOAD_CONCAT, HeaderValue::from_static("partial"));
                    h.insert(UPLOAD_EXPIRES, http_date(resumable::expires_at(state, &u)));
                }
                TusKind::Final => {
                    if let Some(c) = u.concat.as_deref().and_then(header_value) {
                        h.insert(UPLOAD_CONCAT, c);
                    }
                    if u.is_complete() {
                        if let Ok(v) = HeaderValue::from_str(&u.id.to_string()) {
                            h.insert(TROVE_FILE_ID, v);
                        }
                    } else {
                        h.insert(UPLOAD_EXPIRES, http_date(resumable::expires_at(state, &u)));
                    }
                }
                TusKind::Single => {
                    h.insert(UPLOAD_EXPIRES, http_date(resumable::expires_at(state, &u)));
                }
            }
            u.is_complete()
        }
        Found::Finished(f) => {
            h.insert(UPLOAD_OFFSET, HeaderValue::from(f.size));
            h.insert(UPLOAD_LENGTH, HeaderValue::from(f.size));
            if let Ok(v) = HeaderValue::from_str(&f.id.to_string()) {
                h.insert(TROVE_FILE_ID, v);
            }
            true
        }
    };
    if dialect == Dialect::Draft {
        h.insert(
            UPLOAD_COMPLETE,
            HeaderValue::from_static(if complete { "?1" } else { "?0" }),
        );
    }
    Ok(res)
}
