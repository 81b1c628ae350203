//! A node's shutdown, in two steps that every layer can observe.
//!
//! - **Draining** starts with SIGTERM or SIGINT (or [`crate::server::Server::stop`]): `/readyz`
//!   answers 503 so that a load balancer takes the node out, and every new request is answered 503
//!   `unavailable` with `Connection: close` and `Retry-After`, which clients retry elsewhere.
//!   Requests already running go on.
//! - **Cut off** comes when `TROVE_SHUTDOWN_GRACE` runs out with requests still running: every
//!   request body still arriving ends as though its client had gone away. A resumable (tus) upload
//!   keeps the bytes that arrived, so its client resumes on another node; any other upload is
//!   cleaned up by the path that handles a broken upload.
//!
//! New connections are still accepted while draining, only to be given that 503: a closed port
//! would hide the readiness answer from the load balancer and give clients a bare connection
//! refusal instead of an answer they know how to retry.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, Request, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;
use trove_core::ErrorCode;

use crate::error::ApiError;

/// Where a node is in its life; cheap to check on every request.
#[derive(Debug, Default)]
pub struct Lifecycle {
    draining: CancellationToken,
    cut_off: CancellationToken,
}

impl Lifecycle {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Starts draining. Idempotent.
    pub fn drain(&self) {
        self.draining.cancel();
    }

    /// Resolves once draining has begun.
    pub async fn drain_started(&self) {
        self.draining.cancelled().await;
    }

    pub fn is_draining(&self) -> bool {
        self.draining.is_cancelled()
    }

    /// Ends the bodies still arriving. Idempotent; implies draining.
    pub fn cut_off(&self) {
        self.draining.cancel();
        self.cut_off.cancel();
    }

    /// Resolves once the grace period has run out; a future that owns what it waits on, so that a
    /// reader keeps one across a whole body instead of registering anew for every chunk.
    pub fn cut_off_signal(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.cut_off.clone().cancelled_owned()
    }
}

/// 503 for every request that arrives while draining, except the health checks: `/healthz` (the
/// process is alive, and must not be restarted while it finishes its work) and `/readyz` (which
/// says itself that the node is going away).
pub async fn refuse_while_draining(
    State(lifecycle): State<Arc<Lifecycle>>,
    req: Request<axum::body::Body>,
    next: Next,
) -> Response {
    if !lifecycle.is_draining() || matches!(req.uri().path(), "/healthz" | "/readyz") {
        return next.run(req).await;
    }
    let mut res = ApiError::new(
        ErrorCode::Unavailable,
        "this node is shutting down; retry the request",
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
    .into_response();
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutting_off_also_drains() {
        let life = Lifecycle::new();
        assert!(!life.is_draining());
        life.cut_off();
        assert!(life.is_draining());
    }

    #[test]
    fn draining_alone_does_not_cut_off() {
        use futures_util::FutureExt;
        let life = Lifecycle::new();
        life.drain();
        assert!(life.cut_off_signal().now_or_never().is_none());
        life.cut_off();
        assert!(life.cut_off_signal().now_or_never().is_some());
    }
}
