//! `GET /v1/uploads`: the caller's unfinished uploads, tus and direct, newest first, so a page or
//! a CLI can offer to resume after a reload, on another device too.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trove_core::time::{from_millis, to_millis};
use trove_core::{BucketId, FileId, Principal, UserId, time};
use trove_meta::{UnfinishedQuery, UploadProtocol};

use crate::error::{ApiError, ApiResult};
use crate::service::view::FileView;
use crate::state::AppState;

/// The most uploads one page may hold.
pub const MAX_LIMIT: u32 = 1000;
const DEFAULT_LIMIT: u32 = 100;

/// The query of `GET /v1/uploads`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnfinishedParams {
    pub protocol: Option<String>,
    pub fingerprint: Option<String>,
    pub bucket_id: Option<String>,
    /// Admin key only: another user's uploads.
    pub uploaded_by_user_id: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// One unfinished upload.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unfinished {
    pub file: FileView,
    pub protocol: &'static str,
    pub offset: u64,
    pub length: Option<u64>,
    /// Where to continue: the tus upload URL, or the direct upload's PUT URL.
    pub url: String,
    /// A direct upload's headers to send with its bytes (as `upload.headers` at creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    #[serde(with = "trove_core::time::rfc3339")]
    pub expires_at: DateTime<Utc>,
    pub fingerprint: Option<String>,
    /// A final upload's partial uploads (which are never listed on their own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<Part>>,
}

/// A partial upload, listed under its final upload.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    pub url: String,
    pub offset: u64,
    pub length: Option<u64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnfinishedPage {
    pub uploads: Vec<Unfinished>,
    pub next_cursor: Option<String>,
}

fn encode_cursor(created: DateTime<Utc>, id: FileId) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{id}", to_millis(created)))
}

fn decode_cursor(s: &str) -> ApiResult<(DateTime<Utc>, FileId)> {
    let bad = || ApiError::invalid("cursor is not a cursor this listing returned");
    let text = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let (millis, id) = text.split_once(':').ok_or_else(bad)?;
    Ok((
        from_millis(millis.parse().map_err(|_| bad())?),
        FileId::parse(id).ok_or_else(bad)?,
    ))
}

pub async fn unfinished(
    state: &AppState,
    p: &Principal,
    params: UnfinishedParams,
) -> ApiResult<UnfinishedPage> {
    p.require_upload()?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let protocol = params
        .protocol
        .as_deref()
        .map(|s| {
            UploadProtocol::parse(s)
                .ok_or_else(|| ApiError::invalid("protocol must be 'tus' or 'direct'"))
        })
        .transpose()?;
    let (uploaded_by, tenant) = match p {
        Principal::User(u) => {
            if params.uploaded_by_user_id.is_some() {
                return Err(ApiError::new(
                    trove_core::ErrorCode::Forbidden,
                    "uploadedByUserId needs the admin key",
                ));
            }
            (Some(u.user_id.clone()), Some(u.tenant_id.clone()))
        }
        _ => (params.uploaded_by_user_id.map(UserId), None),
    };
    let now = time::now();
    let expiry = chrono::Duration::seconds(state.config.upload_expiry_secs as i64);
    let query = UnfinishedQuery {
        uploaded_by,
        tenant,
        protocol,
        fingerprint: params.fingerprint,
        bucket_id: params
            .bucket_id
            .as_deref()
            .map(BucketId::parse)
            .transpose()?,
        before: params.cursor.as_deref().map(decode_cursor).transpose()?,
        limit: limit + 1,
        now,
        stale_before: now - expiry,
    };
    let mut rows = state.meta.unfinished_uploads(&query).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| {
            rows.last()
                .map(|r| encode_cursor(r.file.created_at, r.file.id))
        })
        .flatten();
    let base = &state.config.public_url;
    let mut uploads = Vec::with_capacity(rows.len());
    for r in rows {
        let mut headers = None;
        let (url, expires_at) = match r.protocol {
            UploadProtocol::Tus => (
                format!("{base}/v1/tus/{}", r.file.id),
                r.last_progress.unwrap_or(now) + expiry,
            ),
            UploadProtocol::Direct => {
                let expires = r.url_expires_at.unwrap_or(now);
                let target =
                    crate::service::uploads::upload_target(state, &r.file, expires).await?;
                headers = Some(target.headers);
                (target.url, expires)
            }
        };
        let (offset, parts) = if r.is_final {
            let mut parts = super::concat::parts(state, r.file.id).await?;
            parts.sort_by_key(|q| q.created_at);
            let offset = parts.iter().map(|q| q.offset).sum();
            let parts = parts
                .into_iter()
                .map(|q| Part {
                    url: format!("{base}/v1/tus/{}", q.id),
                    offset: q.offset,
                    length: q.length,
                })
                .collect();
            (offset, Some(parts))
        } else {
            (r.offset, None)
        };
        uploads.push(Unfinished {
            protocol: r.protocol.as_str(),
            offset,
            length: r.length,
            url,
            headers,
            expires_at,
            fingerprint: r.fingerprint,
            parts,
            file: FileView::new(base, p, r.file),
        });
    }
    Ok(UnfinishedPage {
        uploads,
        next_cursor,
    })
}
