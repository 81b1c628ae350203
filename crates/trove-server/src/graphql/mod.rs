//! GraphQL at `/graphql`: the same authentication, rules and service layer as REST, with the
//! Rolebase/Nhost names (`uuid`, `jsonb`, `File { id bucketId name mimeType … }`) so that their
//! clients' queries run unchanged. Depth and complexity are limited; buckets are batch-loaded.

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
/// Largest query complexity accepted (one point per field).
pub const MAX_COMPLEXITY: usize = 500;

static SCHEMA: LazyLock<TroveSchema> = LazyLock::new(|| {
    Schema::build(query::Query, mutation::Mutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
});

/// The schema, built once.
pub fn schema() -> &'static TroveSchema {
    &SCHEMA
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
