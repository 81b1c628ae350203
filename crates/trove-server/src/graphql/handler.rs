//! The HTTP side of `/graphql`: POST (JSON) and GET (query string; queries only), GraphiQL for
//! browsers, and the caller's principal in the request data.

use async_graphql::dataloader::DataLoader;
use async_graphql::http::GraphiQLSource;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use trove_core::{ErrorCode, Principal};

use super::schema;
use super::types::BucketLoader;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

async fn execute(state: AppState, p: Principal, req: async_graphql::Request) -> Response {
    let loader = DataLoader::new(BucketLoader(state.clone()), tokio::spawn);
    let res = schema().execute(req.data(state).data(p).data(loader)).await;
    axum::Json(res).into_response()
}

/// `POST /graphql` with `{"query", "variables"?, "operationName"?}`.
pub async fn graphql_post(
    State(state): State<AppState>,
    Caller(p): Caller,
    body: Bytes,
) -> Response {
    match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(req) => execute(state, p, req).await,
        Err(e) => ApiError::invalid(format!("not a GraphQL request: {e}")).into_response(),
    }
}

/// `GET /graphql?query=…`: queries only; a browser asking for HTML gets GraphiQL.
pub async fn graphql_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    caller: Result<Caller, ApiError>,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html && query.is_none() {
        return Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response();
    }
    let p = match caller {
        Ok(Caller(p)) => p,
        Err(e) => return e.into_response(),
    };
    let req = match async_graphql::http::parse_query_string(query.as_deref().unwrap_or("")) {
        Ok(r) => r,
        Err(e) => return ApiError::invalid(format!("not a GraphQL request: {e}")).into_response(),
    };
    let is_mutation = async_graphql::parser::parse_query(&req.query).is_ok_and(|doc| {
        doc.operations
            .iter()
            .any(|(_, op)| op.node.ty == async_graphql::parser::types::OperationType::Mutation)
    });
    if is_mutation {
        let mut res =
            ApiError::new(ErrorCode::MethodNotAllowed, "mutations need POST").into_response();
        *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        return res;
    }
    execute(state, p, req).await
}
