//! The REST API: one file per action, each a thin shell over [`crate::service`].

pub mod buckets;
pub mod files;
pub mod health;
mod json;
mod query;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::state::AppState;
pub use json::Json;
pub use query::Query;

/// The `/v1` routes and the health endpoints.
pub fn routes(state: &AppState) -> Router<AppState> {
    let json_limit = DefaultBodyLimit::max(state.config.max_json_body);
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/version", get(health::version))
        .route(
            "/v1/buckets",
            get(buckets::list::handler).post(buckets::create::handler),
        )
        .route(
            "/v1/buckets/{bucket_id}",
            get(buckets::get::handler)
                .patch(buckets::update::handler)
                .delete(buckets::delete::handler),
        )
        .route(
            "/v1/files/{id}",
            get(files::get::handler)
                .patch(files::update::handler)
                .delete(files::delete::handler),
        )
        .layer(json_limit)
        // Uploads stream without a body limit; the bucket's size rules bound them instead.
        .route(
            "/v1/files",
            axum::routing::post(files::upload::handler).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/v1/files/{id}/content",
            get(files::download::handler)
                .head(files::download::handler)
                .put(files::replace::handler)
                .layer(DefaultBodyLimit::disable()),
        )
}
