//! Signed download URLs: whoever may read a file can hand out a link that works without
//! credentials until it expires, for the revision it was made for.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trove_core::transform::Transform;
use trove_core::{Bucket, ErrorCode, FileId, FileRecord, FileStatus, Principal, time};

use crate::error::{ApiError, ApiResult};
use crate::service::files;
use crate::signing::{Grant, Token, invalid_signature};
use crate::state::AppState;

/// The body of `POST /v1/files/{id}/signed-url`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignRequest {
    pub expires_in: Option<u32>,
    #[serde(default)]
    pub download: bool,
    /// A rendition instead of the content: the transformation parameters of a download
    /// (`{"w": 256, "h": 256, "fit": "cover", "format": "webp"}`), signed with the URL.
    pub transform: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The transformation of a signing request, checked as a download's query is.
fn transform_of(req: &SignRequest) -> ApiResult<Option<Transform>> {
    let Some(fields) = &req.transform else {
        return Ok(None);
    };
    let mut pairs = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => {
                return Err(ApiError::invalid(format!(
                    "transform.{name} must be a string, a number or a boolean"
                )));
            }
        };
        pairs.push((name.as_str(), text));
    }
    let t = Transform::from_query(pairs.iter().map(|(k, v)| (*k, v.as_str())), &[])?;
    t.map(Some)
        .ok_or_else(|| ApiError::invalid("transform names no transformation"))
}

/// A signed URL and when it stops working.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedUrl {
    pub url: String,
    #[serde(with = "trove_core::time::rfc3339")]
    pub expires_at: DateTime<Utc>,
    /// Seconds from now to `expires_at`, as the request asked or the bucket's default.
    #[serde(skip)]
    pub expires_in: u32,
}

/// 403 `presigned_urls_disabled` unless the bucket allows signed URLs.
fn require_presigned_urls(bucket: &Bucket) -> ApiResult<()> {
    if bucket.presigned_urls_enabled {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::PresignedUrlsDisabled,
            "signed URLs are disabled for this bucket",
        ))
    }
}

pub async fn create(
    state: &AppState,
    p: &Principal,
    id: &str,
    req: SignRequest,
) -> ApiResult<SignedUrl> {
    let transform = transform_of(&req)?;
    let (file, bucket) = files::readable_with_bucket(state, p, id).await?;
    require_presigned_urls(&bucket)?;
    let expires_in = req.expires_in.unwrap_or(bucket.download_expiration);
    if expires_in == 0 || expires_in > bucket.download_expiration {
        return Err(ApiError::invalid(format!(
            "expiresIn must be between 1 and {} seconds",
            bucket.download_expiration
        )));
    }
    let (Some(revision), FileStatus::Ready) = (file.revision, file.status) else {
        return Err(files::conflict("the file's content is not uploaded yet"));
    };
    let expires_at = time::now() + chrono::Duration::seconds(i64::from(expires_in));
    let rendition = transform.map(|t| t.to_query());
    let token = state.signer.sign_for(
        file.id,
        revision,
        Grant::Download {
            attachment: req.download,
        },
        rendition.as_deref(),
        expires_at.timestamp(),
    );
    let query = rendition.map(|q| format!("{q}&")).unwrap_or_default();
    Ok(SignedUrl {
        url: format!(
            "{}/v1/signed/{}?{query}token={token}",
            state.config.public_url, file.id
        ),
        expires_at,
        expires_in,
    })
}

/// Resolves a signed download URL to its file; 403 `invalid_signature` for anything forged,
/// foreign or made for replaced content, 410 `url_expired` once it has expired.
pub async fn resolve(
    state: &AppState,
    id: &str,
    token: &str,
    transform: Option<&Transform>,
) -> ApiResult<(FileRecord, Bucket, Token)> {
    let token = Token::parse(token)?;
    let id = FileId::parse(id).ok_or_else(invalid_signature)?;
    let (file, bucket) = state
        .meta
        .get_file_with_bucket(id)
        .await?
        .ok_or_else(invalid_signature)?;
    let revision = file.revision.ok_or_else(invalid_signature)?;
    state.signer.verify_for(
        &token,
        file.id,
        revision,
        Grant::Download {
            attachment: token.attachment,
        },
        transform.map(Transform::to_query).as_deref(),
        Utc::now().timestamp(),
    )?;
    // Checked at use, not only when signing: switching the bucket's signed URLs off stops every
    // link already handed out.
    require_presigned_urls(&bucket)?;
    Ok((file, bucket, token))
}
