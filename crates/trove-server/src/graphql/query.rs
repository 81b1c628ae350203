//! Queries.

use async_graphql::{Context, Object, Result};
use trove_core::FileId;

use super::scalars::{Bigint, Uuid};
use super::types::{BucketObj, CategoryObj, File, FileConnection};
use super::{FileWhere, gql, principal, state};
use crate::service::{buckets, categories, files};

pub struct Query;

/// Runs a listing for `files(...)` and `Bucket.files(...)`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn list(
    ctx: &Context<'_>,
    r#where: Option<FileWhere>,
    order_by: Option<String>,
    order: Option<String>,
    limit: Option<u32>,
    offset: Option<i64>,
    cursor: Option<String>,
    count: Option<bool>,
) -> Result<FileConnection> {
    let mut params = r#where.unwrap_or_default().params().map_err(gql)?;
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            params.push((k.to_owned(), v));
        }
    };
    put("orderBy", order_by);
    put("order", order);
    put("limit", limit.map(|n| n.to_string()));
    put("offset", offset.map(|n| n.to_string()));
    put("cursor", cursor);
    put("count", count.map(|c| c.to_string()));
    let page = files::list(state(ctx), principal(ctx), &params)
        .await
        .map_err(gql)?;
    Ok(FileConnection {
        nodes: page.files.into_iter().map(File).collect(),
        next_cursor: page.next_cursor,
        total_count: page.total_count.map(Bigint),
    })
}

#[Object]
impl Query {
    /// A file, or null when it does not exist or the caller may not read it.
    async fn file(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<File>> {
        match files::readable(state(ctx), principal(ctx), &FileId(id.0).to_string()).await {
            Ok(f) => Ok(Some(File(f))),
            Err(e) if e.code == trove_core::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(gql(e)),
        }
    }

    /// The files the caller may read, filtered, ordered and paged.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::list_cost(limit, child_complexity)")]
    async fn files(
        &self,
        ctx: &Context<'_>,
        r#where: Option<FileWhere>,
        order_by: Option<String>,
        order: Option<String>,
        limit: Option<u32>,
        offset: Option<i64>,
        cursor: Option<String>,
        count: Option<bool>,
    ) -> Result<FileConnection> {
        list(ctx, r#where, order_by, order, limit, offset, cursor, count).await
    }

    async fn bucket(&self, ctx: &Context<'_>, id: String) -> Result<Option<BucketObj>> {
        match buckets::get(state(ctx), principal(ctx), &id).await {
            Ok(b) => Ok(Some(BucketObj(b))),
            Err(e) if e.code == trove_core::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(gql(e)),
        }
    }

    #[graphql(complexity = "super::list_cost(None, child_complexity)")]
    async fn buckets(&self, ctx: &Context<'_>) -> Result<Vec<BucketObj>> {
        let list = buckets::list(state(ctx), principal(ctx))
            .await
            .map_err(gql)?;
        Ok(list.into_iter().map(BucketObj).collect())
    }

    async fn category(&self, ctx: &Context<'_>, key: String) -> Result<Option<CategoryObj>> {
        match categories::get(state(ctx), principal(ctx), &key).await {
            Ok(c) => Ok(Some(CategoryObj(c))),
            Err(e) if e.code == trove_core::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(gql(e)),
        }
    }

    #[graphql(complexity = "super::list_cost(None, child_complexity)")]
    async fn categories(&self, ctx: &Context<'_>) -> Result<Vec<CategoryObj>> {
        let list = categories::list(state(ctx), principal(ctx))
            .await
            .map_err(gql)?;
        Ok(list.into_iter().map(CategoryObj).collect())
    }
}
