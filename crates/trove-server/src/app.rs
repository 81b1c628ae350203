//! The router with its cross-cutting layers: request ids, tracing, CORS, security headers, and JSON
//! answers for unknown routes and methods.

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use trove_core::ErrorCode;

use crate::error::ApiError;
use crate::rest;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids: a random prefix drawn once per process and a counter. Unique per process and
/// practically across restarts, and free: a UUID per request cost a `getrandom` system call.
#[derive(Debug, Clone)]
struct SequentialIds {
    prefix: u64,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl SequentialIds {
    fn new() -> Self {
        Self {
            prefix: uuid::Uuid::new_v4().as_u64_pair().0,
            next: Default::default(),
        }
    }
}

impl MakeRequestId for SequentialIds {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{:016x}-{n:x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// Builds the whole application.
pub fn router(state: AppState) -> Router {
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
        let id = req
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        // The path only: a query may carry a signed URL's token. `route` and the caller are
        // recorded once known (`metrics::http::mark_route`, `auth`).
        tracing::info_span!(
            "request",
            method = %req.method(),
            uri = %req.uri().path(),
            request_id = %id,
            route = tracing::field::Empty,
            caller = tracing::field::Empty,
            user_id = tracing::field::Empty,
            tenant_id = tracing::field::Empty,
        )
    });
    rest::routes(&state)
        .route(
            crate::metrics::endpoint::PATH,
            axum::routing::get(crate::metrics::endpoint::protected),
        )
        .merge(crate::tus::routes())
        .nest(crate::compat::PATH, crate::compat::routes())
        .route_layer(axum::middleware::from_fn(crate::metrics::http::mark_route))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone())
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.config.limits.max_header_bytes,
            bounded_headers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.lifecycle.clone(),
            crate::lifecycle::refuse_while_draining,
        ))
        .layer(cors(&state.config.cors_origins))
        .layer(axum::middleware::from_fn(preflight_headers))
        // tus clients ask `OPTIONS /v1/tus` what the server supports; the CORS layer would answer
        // every OPTIONS as a preflight, so a plain OPTIONS (no Access-Control-Request-Method) goes
        // to tus first.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::tus::discovery,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::http::observe,
        ))
        .layer(trace)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, SequentialIds::new()))
}

/// Gives every error answer Trove's JSON body, including those made below the handlers (extractor
/// rejections, body limits): a client parses one error shape whatever failed. The status stays; a
/// 4xx keeps the framework's text (it describes the client's mistake), a 5xx gets the fixed message.
async fn json_errors(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let code = ErrorCode::for_status(status.as_u16());
    let message = if status.is_client_error() {
        axum::body::to_bytes(body, 4096)
            .await
            .ok()
            .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned())
    } else {
        "internal server error".to_owned()
    };
    let body = serde_json::json!({"error": {"code": code.as_str(), "message": message}});
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

/// 431 `headers_too_large` when the request line and headers exceed `TROVE_MAX_HEADER_BYTES`
/// (hyper's own limit is the larger read buffer; see `listener`).
pub async fn bounded_headers(
    axum::extract::State(limit): axum::extract::State<usize>,
    req: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> Response {
    let target = req.uri().path_and_query().map_or(1, |p| p.as_str().len());
    let line = req.method().as_str().len() + target + 12;
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if line + headers > limit {
        return ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!("the request line and headers exceed {limit} bytes"),
        )
        .into_response();
    }
    next.run(req).await
}

async fn not_found() -> impl IntoResponse {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

async fn method_not_allowed() -> impl IntoResponse {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this route",
    )
}

/// The request headers a cross-origin page may send, beside `x-hasura-*` and `x-nhost-*`.
fn allowed_request_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let fixed = [
        header::AUTHORIZATION,
        header::CONTENT_TYPE,
        header::RANGE,
        header::IF_MATCH,
        header::IF_NONE_MATCH,
        header::IF_MODIFIED_SINCE,
        header::IF_UNMODIFIED_SINCE,
        header::IF_RANGE,
        HeaderName::from_static(crate::auth::ADMIN_KEY_HEADER),
        HeaderName::from_static(crate::auth::USER_ID_HEADER),
        HeaderName::from_static(crate::auth::TENANT_ID_HEADER),
        REQUEST_ID,
    ];
    name.starts_with("x-hasura-")
        || name.starts_with("x-nhost-")
        || fixed
            .iter()
            .chain(crate::tus::REQUEST_HEADERS.iter())
            .any(|h| h.as_str() == name)
}

/// Nhost's clients send session variables as `x-hasura-*` headers of any name, which a fixed
/// list cannot allow. The CORS layer therefore mirrors what a preflight asks for, after this has
/// dropped every name Trove does not take, so the browser still refuses to send those.
async fn preflight_headers(
    mut req: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> Response {
    if req.method() == Method::OPTIONS
        && let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS)
    {
        let kept = asked
            .to_str()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty() && allowed_request_header(h))
            .collect::<Vec<_>>()
            .join(",");
        match HeaderValue::from_str(&kept) {
            Ok(v) if !kept.is_empty() => {
                req.headers_mut()
                    .insert(header::ACCESS_CONTROL_REQUEST_HEADERS, v);
            }
            _ => {
                req.headers_mut()
                    .remove(header::ACCESS_CONTROL_REQUEST_HEADERS);
            }
        }
    }
    next.run(req).await
}

fn cors(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        // What a preflight may ask for is decided by `preflight_headers`; what is left is allowed.
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers(
            [
                header::ETAG,
                header::CONTENT_RANGE,
                header::CONTENT_DISPOSITION,
                header::CONTENT_LENGTH,
                header::ACCEPT_RANGES,
                header::LAST_MODIFIED,
                REQUEST_ID,
                HeaderName::from_static("x-error"),
            ]
            .into_iter()
            .chain(crate::tus::RESPONSE_HEADERS)
            .collect::<Vec<_>>(),
        )
        .max_age(Duration::from_secs(3600))
}
