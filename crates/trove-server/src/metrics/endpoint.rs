//! `GET /metrics`: on the API's listener for the admin key or `TROVE_METRICS_TOKEN` (as
//! `Authorization: Bearer`), and on `TROVE_METRICS_ADDR`, when set, for anyone who reaches that
//! address (a port only the scraper's network sees).
//!
//! Error policy: no credentials → 401 `unauthorized`; a user's token → 403 `forbidden` (metrics
//! describe every tenant); a wrong token or key → 401, as for the rest of the API.

use axum::Router;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use trove_core::{ErrorCode, Principal};

use crate::error::ApiError;
use crate::state::AppState;

pub const PATH: &str = "/metrics";

/// `GET /metrics` on the API's listener.
pub async fn protected(State(state): State<AppState>, parts: Parts) -> Response {
    match allowed(&state, &parts).await {
        Ok(()) => exposition(&state),
        Err(e) => e.into_response(),
    }
}

async fn allowed(state: &AppState, parts: &Parts) -> Result<(), ApiError> {
    if let Some(expected) = &state.config.operations.metrics_token
        && let Some(presented) = bearer(parts)
        && same_secret(presented, expected)
    {
        return Ok(());
    }
    match state.auth.authenticate(parts).await? {
        Principal::Admin => Ok(()),
        Principal::Anonymous => Err(ApiError::unauthorized(
            "metrics need the admin key or the metrics token",
        )),
        Principal::User(_) => Err(ApiError::new(
            ErrorCode::Forbidden,
            "metrics need the admin key or the metrics token",
        )),
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares digests in constant time, which also hides the secret's length.
fn same_secret(presented: &str, expected: &str) -> bool {
    let a: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    let b: [u8; 32] = Sha256::digest(expected.as_bytes()).into();
    a.ct_eq(&b).into()
}

fn exposition(state: &AppState) -> Response {
    let text = state.metrics.render(state.images.admitted());
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                ),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        text,
    )
        .into_response()
}

/// The router of `TROVE_METRICS_ADDR`: `/metrics` without credentials, and nothing else.
pub fn open_router(state: AppState) -> Router {
    Router::new()
        .route(
            PATH,
            get(|State(state): State<AppState>| async move { exposition(&state) }),
        )
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such route") })
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("0123456789abcdef", "0123456789abcdef"));
        assert!(!same_secret("0123456789abcde", "0123456789abcdef"));
        assert!(!same_secret("0123456789abcdefX", "0123456789abcdef"));
    }
}
