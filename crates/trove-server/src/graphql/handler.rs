//! The HTTP side of `/graphql`: POST (JSON) and GET (query string; queries only), and the caller's
//! principal in the request data. No browser page is served: GraphiQL from a CDN would run code
//! Trove does not control on its origin and tell a third party of every visit; any GraphQL tool
//! loads the schema by introspection instead.

use async_graphql::dataloader::DataLoader;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use trove_core::nesting::{self, MAX_NESTING, Syntax};
use trove_core::{ErrorCode, Principal};

use super::types::BucketLoader;
use super::{introspection_schema, schema};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Parses a document after bounding its nesting: the parser recurses once per level, so an
/// unbounded document could overflow the stack. Never parses anything deeper than `MAX_NESTING`.
fn parse(query: &str) -> Result<ExecutableDocument, ApiError> {
    nesting::check(query.as_bytes(), Syntax::GraphQl, MAX_NESTING, "the query")?;
    async_graphql::parser::parse_query(query)
        .map_err(|e| ApiError::invalid(format!("not a GraphQL document: {e}")))
}

/// Whether every root field the document may execute is an introspection field.
fn introspection_only(doc: &ExecutableDocument) -> bool {
    fn only_meta(set: &SelectionSet, doc: &ExecutableDocument, budget: &mut usize) -> bool {
        set.items.iter().all(|item| {
            // Bounds the walk through fragments however they refer to each other.
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            match &item.node {
                Selection::Field(f) => f.node.name.node.starts_with("__"),
                Selection::InlineFragment(f) => only_meta(&f.node.selection_set.node, doc, budget),
                Selection::FragmentSpread(s) => doc
                    .fragments
                    .get(&s.node.fragment_name.node)
                    .is_some_and(|f| only_meta(&f.node.selection_set.node, doc, budget)),
            }
        })
    }
    let mut budget = 1000;
    let mut sets = match &doc.operations {
        DocumentOperations::Single(op) => vec![&op.node],
        DocumentOperations::Multiple(ops) => ops.values().map(|op| &op.node).collect(),
    };
    !sets.is_empty()
        && sets.drain(..).all(|op| {
            op.ty == OperationType::Query && only_meta(&op.selection_set.node, doc, &mut budget)
        })
}

fn is_mutation(doc: &ExecutableDocument) -> bool {
    match &doc.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Mutation,
        DocumentOperations::Multiple(ops) => {
            ops.values().any(|op| op.node.ty == OperationType::Mutation)
        }
    }
}

async fn execute(
    state: AppState,
    p: Principal,
    req: async_graphql::Request,
    doc: &ExecutableDocument,
) -> Response {
    let loader = DataLoader::new(BucketLoader(state.clone()), tokio::spawn);
    let schema = if introspection_only(doc) {
        introspection_schema()
    } else {
        schema()
    };
    let res = schema.execute(req.data(state).data(p).data(loader)).await;
    axum::Json(res).into_response()
}

/// `POST /graphql` with `{"query", "variables"?, "operationName"?}`.
pub async fn graphql_post(
    State(state): State<AppState>,
    Caller(p): Caller,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
                .into_response();
        }
        Err(e) => return ApiError::invalid(e.body_text()).into_response(),
    };
    let request = nesting::check(&body, Syntax::Json, MAX_NESTING, "the request body")
        .map_err(ApiError::from)
        .and_then(|()| {
            serde_json::from_slice::<async_graphql::Request>(&body)
                .map_err(|e| ApiError::invalid(format!("not a GraphQL request: {e}")))
        });
    let req = match request {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let doc = match parse(&req.query) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    execute(state, p, req, &doc).await
}

/// `GET /graphql?query=…`: queries only. No page is served for browsers: any GraphQL client can load
/// the schema by introspection.
pub async fn graphql_get(
    State(state): State<AppState>,
    Caller(p): Caller,
    RawQuery(query): RawQuery,
) -> Response {
    let raw = query.unwrap_or_default();
    // Variables are JSON, parsed with serde_json's own depth limit; the document is bounded by
    // `parse` before the GraphQL parser sees it.
    let req = match async_graphql::http::parse_query_string(&raw) {
        Ok(r) => r,
        Err(e) => return ApiError::invalid(format!("not a GraphQL request: {e}")).into_response(),
    };
    let doc = match parse(&req.query) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    if is_mutation(&doc) {
        return ApiError::new(ErrorCode::MethodNotAllowed, "mutations need POST").into_response();
    }
    execute(state, p, req, &doc).await
}
