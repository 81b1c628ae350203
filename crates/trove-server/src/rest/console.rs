//! The console at `/console`: a single-page application embedded in the binary. Every address
//! under `/console` (but its assets) answers the page, so that a bookmarked view loads; the page
//! reads the address and asks the public API for everything it shows. `GET /` from a browser
//! (`Accept: text/html`) is sent there.
//!
//! Errors: an unknown asset is the API's JSON 404, like any unknown route.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::ui::{Asset, serve};
use crate::error::ApiError;
use trove_core::ErrorCode;

/// The path the console is served under; `trove serve` prints it.
pub const PATH: &str = "/console";

macro_rules! web {
    ($name:literal) => {
        include_str!(concat!("../../../../web/console/", $name))
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// The console's modules and style sheet, by file name.
static ASSETS: LazyLock<Vec<(&'static str, Asset)>> = LazyLock::new(|| {
    [
        ("app.js", web!("app.js"), JS),
        ("api.js", web!("api.js"), JS),
        ("dom.js", web!("dom.js"), JS),
        ("overview.js", web!("overview.js"), JS),
        ("buckets.js", web!("buckets.js"), JS),
        ("categories.js", web!("categories.js"), JS),
        ("files.js", web!("files.js"), JS),
        ("file-panel.js", web!("file-panel.js"), JS),
        (
            "console.css",
            web!("console.css"),
            "text/css; charset=utf-8",
        ),
        ("icon.svg", web!("icon.svg"), "image/svg+xml"),
    ]
    .into_iter()
    .map(|(name, body, ty)| (name, Asset::new(body, ty)))
    .collect()
});

static PAGE: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(web!("index.html"), "text/html; charset=utf-8"));

/// What the page may load and do: only this origin, no plug-ins, no framing by others. Images and
/// media may come from object URLs (thumbnails fetched with credentials) and, for signed download
/// URLs answered by redirects to object storage, from anywhere over HTTPS.
const CSP: &str = "default-src 'self'; img-src 'self' blob: data: https:; media-src 'self' blob: https:; \
     frame-src 'self' blob: https:; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// `GET /console` and every address under it but the assets: the page.
pub async fn page(headers: HeaderMap) -> Response {
    let mut res = serve(&PAGE, &headers, "no-cache");
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// `GET /console/assets/{name}`.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|(n, _)| *n == name) {
        // Revalidated every time: the page and its modules change together with the binary.
        Some((_, asset)) => serve(asset, &headers, "no-cache"),
        None => ApiError::new(ErrorCode::NotFound, "no such route").into_response(),
    }
}

/// `GET /`: browsers go to the console; anything else gets the API's 404.
pub async fn root(headers: HeaderMap) -> Response {
    let wants_html = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().starts_with("text/html")));
    let mut res = if wants_html {
        Redirect::to(PATH).into_response()
    } else {
        ApiError::new(ErrorCode::NotFound, "no such route").into_response()
    };
    // A shared cache must not answer a browser with the API's 404, or a script with the redirect.
    res.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    res
}
