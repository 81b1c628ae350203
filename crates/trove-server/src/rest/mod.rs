//! The REST API: one file per action, each a thin shell over [`crate::service`].

pub mod associations;
pub mod buckets;
pub mod categories;
pub mod console;
pub mod files;
pub mod health;
mod json;
pub mod me;
pub mod public;
mod query;
pub mod ui;
pub mod uploads;
pub mod view;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, header};

use crate::error::ApiError;
use axum::handler::Handler;
use axum::routing::{delete, get, post, put};

use crate::state::AppState;
pub use json::Json;
pub use query::Query;

/// The `If-Match` header of an unsafe request, if any.
pub fn if_match(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    headers
        .get(header::IF_MATCH)
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::invalid("If-Match must be a list of entity tags or *"))
        })
        .transpose()
}

/// The `/v1` routes and the health endpoints.
pub fn routes(state: &AppState) -> Router<AppState> {
    let json_limit = DefaultBodyLimit::max(state.config.max_json_body);
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/version", get(health::version))
        .route("/ui/trove-components.js", get(ui::components))
        .route("/ui/example", get(ui::example))
        .route("/", get(console::root))
        .route(console::PATH, get(console::page))
        .route("/console/", get(console::page))
        .route("/console/assets/{name}", get(console::asset))
        .route("/console/{*view}", get(console::page))
        .route("/v1/me", get(me::handler))
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
        .route("/v1/files/{id}/public", post(files::make_public::handler))
        .route("/v1/files/{id}/private", post(files::make_private::handler))
        .route(
            "/v1/files/{id}/signed-url",
            post(files::signed_url::handler),
        )
        .route(
            "/v1/files/{id}/associations",
            get(associations::list).post(associations::create),
        )
        .route(
            "/v1/files/{id}/associations/{association_id}",
            delete(associations::delete),
        )
        .route("/v1/associations", delete(associations::delete_entity))
        .route("/v1/usage", get(buckets::usage::handler))
        .route(
            "/v1/categories",
            get(categories::list).post(categories::create),
        )
        .route(
            "/v1/categories/{key}",
            get(categories::get)
                .patch(categories::update)
                .delete(categories::delete),
        )
        .route(
            "/graphql",
            get(crate::graphql::graphql_get).post(crate::graphql::graphql_post),
        )
        .route("/v1/uploads", get(uploads::list).post(uploads::create))
        .route("/v1/uploads/{id}", delete(uploads::cancel))
        .route("/v1/uploads/{id}/complete", post(uploads::complete))
        .route(
            "/public/{id}/{name}",
            get(public::public_file).head(public::public_file),
        )
        .route(
            "/v1/signed/{id}",
            get(public::signed_file).head(public::signed_file),
        )
        .layer(json_limit)
        // Uploads stream without a body limit; the bucket's size rules bound them instead.
        .route(
            "/v1/files",
            get(files::list::handler)
                .delete(files::delete_many::handler)
                .layer(json_limit)
                .post(files::upload::handler.layer(DefaultBodyLimit::disable())),
        )
        .route(
            "/v1/uploads/{id}",
            put(uploads::put).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/v1/files/{id}/content",
            get(files::download::handler)
                .head(files::download::handler)
                .put(files::replace::handler)
                .layer(DefaultBodyLimit::disable()),
        )
}
