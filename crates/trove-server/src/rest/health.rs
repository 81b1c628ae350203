//! Liveness, readiness and version.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use crate::state::AppState;

/// `GET /healthz`: the process is up.
pub async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

/// `GET /readyz`: the database and the storage answer, and the node is not shutting down.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.lifecycle.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "shutting_down"})),
        );
    }
    let db = state.meta.ping().await;
    let storage = state.blobs.ping().await;
    if let Err(e) = &db {
        tracing::warn!(error = %e, "readiness: database");
    }
    if let Err(e) = &storage {
        tracing::warn!(error = %e, "readiness: storage");
    }
    let status = if db.is_ok() && storage.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    (
        status,
        axum::Json(json!({"database": word(db.is_ok()), "storage": word(storage.is_ok())})),
    )
}

/// `GET /version`.
pub async fn version() -> impl IntoResponse {
    axum::Json(json!({"name": "trove", "version": env!("CARGO_PKG_VERSION")}))
}
