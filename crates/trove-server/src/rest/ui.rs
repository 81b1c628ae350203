//! `/ui/trove-components.js` (the upload components, one ES module) and `/ui/example` (a page
//! using them), embedded in the binary. Both carry a strong `ETag` derived from their bytes and
//! answer `If-None-Match` with 304. The module may be imported from any origin (module scripts are
//! fetched with CORS), so it says `Access-Control-Allow-Origin: *`; it holds no credentials.

use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const COMPONENTS: &str = include_str!("../../../../web/components/trove-components.js");
const EXAMPLE: &str = include_str!("../../../../web/example.html");

/// Browsers keep the module for an hour, then revalidate it with its ETag.
const CACHE_CONTROL: &str = "public, max-age=3600";

/// A file embedded in the binary, with a strong ETag of its bytes.
pub struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: HeaderValue,
}

impl Asset {
    pub fn new(body: &'static str, content_type: &'static str) -> Self {
        let digest = hex::encode(Sha256::digest(body.as_bytes()));
        Self {
            body,
            content_type,
            etag: HeaderValue::from_str(&format!("\"{}\"", &digest[..32]))
                .unwrap_or_else(|_| HeaderValue::from_static("\"\"")),
        }
    }
}

static COMPONENTS_ASSET: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(COMPONENTS, "text/javascript; charset=utf-8"));
static EXAMPLE_ASSET: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(EXAMPLE, "text/html; charset=utf-8"));

/// The asset, or 304 when `If-None-Match` names its ETag; `cache_control` says for how long a
/// browser may use it without asking.
pub fn serve(asset: &Asset, headers: &HeaderMap, cache_control: &'static str) -> Response {
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == "*" || t.trim().trim_start_matches("W/") == asset.etag)
        });
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.body,
        )
            .into_response()
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, asset.etag.clone());
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    res
}

/// `GET /ui/trove-components.js`.
pub async fn components(headers: HeaderMap) -> Response {
    let mut res = serve(&COMPONENTS_ASSET, &headers, CACHE_CONTROL);
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

/// `GET /ui/example`.
pub async fn example(headers: HeaderMap) -> Response {
    serve(&EXAMPLE_ASSET, &headers, CACHE_CONTROL)
}
