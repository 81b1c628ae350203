//! GraphQL at `/graphql`: the same authentication, rules and service layer as REST, with the
//! Rolebase/Nhost names (`uuid`, `jsonb`, `File { id bucketId name mimeType … }`) so that their
//! clients' queries run unchanged; buckets are batch-loaded.
//!
//! Limits: the document's bracket nesting is bounded before it is parsed (the parser recurses);
//! queries are limited in depth and in complexity, where a list field costs a base for its query
//! plus its `limit` times the cost of what it selects per item. A document that asks only for
//! introspection (`__schema`, `__type`, `__typename`) runs against the same schema with limits
//! that fit the standard introspection query, so GraphQL tools can load the schema.

mod handler;
mod mutation;
mod query;
pub mod scalars;
mod types;

use std::sync::LazyLock;

use async_graphql::{Context, EmptySubscription, ErrorExtensions, InputObject, Schema};
use trove_core::Principal;

use crate::error::ApiError;
use crate::state::AppState;
pub use handler::{graphql_get, graphql_post};
use scalars::{Bigint, Jsonb, Timestamptz};

/// The schema type.
pub type TroveSchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;

/// Deepest query accepted.
pub const MAX_DEPTH: usize = 10;
/// Largest query complexity accepted: a scalar field costs 1, a list field `LIST_BASE_COST` plus its
/// `limit` times the cost of one item.
pub const MAX_COMPLEXITY: usize = 50_000;
/// What a list field costs on top of its items: one database query.
pub const LIST_BASE_COST: usize = 100;
/// Limits for documents that only introspect: the standard introspection query nests type
/// references about a dozen levels deep; the registry is in memory, so this costs no I/O.
pub const INTROSPECTION_MAX_DEPTH: usize = 24;
pub const INTROSPECTION_MAX_COMPLEXITY: usize = 5_000;

fn build(depth: usize, complexity: usize) -> TroveSchema {
    Schema::build(query::Query, mutation::Mutation, EmptySubscription)
        .limit_depth(depth)
        .limit_complexity(complexity)
        .finish()
}

static SCHEMA: LazyLock<TroveSchema> = LazyLock::new(|| build(MAX_DEPTH, MAX_COMPLEXITY));
static INTROSPECTION_SCHEMA: LazyLock<TroveSchema> =
    LazyLock::new(|| build(INTROSPECTION_MAX_DEPTH, INTROSPECTION_MAX_COMPLEXITY));

/// The schema, built once.
pub fn schema() -> &'static TroveSchema {
    &SCHEMA
}

/// The same schema with the limits for introspection-only documents.
pub(crate) fn introspection_schema() -> &'static TroveSchema {
    &INTROSPECTION_SCHEMA
}

/// The complexity of a list field: a base for its query plus `limit` (or the default page size)
/// times the complexity of one item.
pub(crate) fn list_cost(limit: Option<u32>, child_complexity: usize) -> usize {
    let items = limit.unwrap_or(trove_core::listing::DEFAULT_LIMIT) as usize;
    LIST_BASE_COST.saturating_add(items.saturating_mul(child_complexity))
}

/// The schema in SDL, as exported to `docs/schema.graphql`.
pub fn sdl() -> String {
    SCHEMA.sdl()
}

pub(crate) fn state<'a>(ctx: &'a Context<'_>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub(crate) fn principal<'a>(ctx: &'a Context<'_>) -> &'a Principal {
    ctx.data_unchecked::<Principal>()
}

/// An API error as a GraphQL error with `extensions.code`.
pub(crate) fn gql(e: ApiError) -> async_graphql::Error {
    let code = e.code.as_str();
    async_graphql::Error::new(e.message).extend_with(|_, ext| ext.set("code", code))
}

/// `files(where: …)`: the REST filters under the same names.
#[derive(Debug, Clone, Default, InputObject)]
pub struct FileWhere {
    pub bucket_id: Option<String>,
    pub category: Option<String>,
    pub entity_name: Option<String>,
    pub entity_reference: Option<String>,
    pub uploaded_by_user_id: Option<String>,
    pub visibility: Option<String>,
    pub access: Option<String>,
    pub status: Option<String>,
    pub mime_type: Option<String>,
    pub q: Option<String>,
    pub created_after: Option<Timestamptz>,
    pub created_before: Option<Timestamptz>,
    pub min_size: Option<Bigint>,
    pub max_size: Option<Bigint>,
    /// Equality on top-level metadata keys: `{"project": "apollo"}`.
    pub metadata: Option<Jsonb>,
}

impl FileWhere {
    /// The REST parameter pairs for these filters, so both APIs share one query parser.
    pub(crate) fn params(&self) -> Result<Vec<(String, String)>, ApiError> {
        let mut p = Vec::new();
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                p.push((k.to_owned(), v.clone()));
            }
        };
        put("bucketId", &self.bucket_id);
        put("category", &self.category);
        put("entityName", &self.entity_name);
        put("entityReference", &self.entity_reference);
        put("uploadedByUserId", &self.uploaded_by_user_id);
        put("visibility", &self.visibility);
        put("access", &self.access);
        put("status", &self.status);
        put("mimeType", &self.mime_type);
        put("q", &self.q);
        let ts = |t: &Option<Timestamptz>| {
            t.map(|t| t.0.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        };
        put("createdAfter", &ts(&self.created_after));
        put("createdBefore", &ts(&self.created_before));
        put("minSize", &self.min_size.map(|n| n.0.to_string()));
        put("maxSize", &self.max_size.map(|n| n.0.to_string()));
        if let Some(Jsonb(m)) = &self.metadata {
            let obj = m
                .as_object()
                .ok_or_else(|| ApiError::invalid("where.metadata must be an object"))?;
            for (k, v) in obj {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                p.push((format!("metadata.{k}"), text));
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_exported_schema_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/schema.graphql");
        let exported = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            exported == super::sdl(),
            "docs/schema.graphql is out of date: run `cargo run -p trove -- schema > docs/schema.graphql`"
        );
    }
}
