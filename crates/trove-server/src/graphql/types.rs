//! Output types: `File`, `Bucket`, `Category`, `FileAssociation` and friends, with the Nhost/Rolebase
//! field names. Each wraps a domain value; nothing here decides access.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Object, Result, SimpleObject};
use trove_core::{Association, Bucket, Category, FileRecord};

use super::scalars::{Bigint, Jsonb, Timestamptz, Uuid};
use super::{FileWhere, gql, principal, state};
use crate::service::{buckets, view};

/// A file.
pub struct File(pub FileRecord);

#[Object(name = "File")]
impl File {
    async fn id(&self) -> Uuid {
        Uuid(self.0.id.0)
    }
    async fn bucket_id(&self) -> &str {
        self.0.bucket_id.as_str()
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn mime_type(&self) -> &str {
        &self.0.mime_type
    }
    async fn size(&self) -> Bigint {
        Bigint(self.0.size)
    }
    async fn etag(&self) -> &str {
        &self.0.etag
    }
    async fn is_uploaded(&self) -> bool {
        self.0.is_uploaded
    }
    async fn status(&self) -> &str {
        self.0.status.as_str()
    }
    async fn metadata(&self) -> Jsonb {
        Jsonb(self.0.metadata.clone())
    }
    async fn visibility(&self) -> &str {
        self.0.visibility.as_str()
    }
    async fn access(&self) -> &str {
        self.0.access.as_str()
    }
    async fn category(&self) -> Option<&str> {
        self.0.category.as_deref()
    }
    /// Null for anonymous callers.
    async fn tenant_id(&self, ctx: &Context<'_>) -> Option<&str> {
        if !principal(ctx).sees_identities() {
            return None;
        }
        self.0.tenant_id.as_ref().map(|t| t.as_str())
    }
    /// Null for anonymous callers.
    async fn uploaded_by_user_id(&self, ctx: &Context<'_>) -> Option<&str> {
        if !principal(ctx).sees_identities() {
            return None;
        }
        self.0.uploaded_by_user_id.as_ref().map(|u| u.as_str())
    }
    async fn checksum_sha256(&self) -> Option<&str> {
        self.0.checksum_sha256.as_deref()
    }
    /// Why the file is in status `error`.
    async fn status_reason(&self) -> Option<&str> {
        self.0.status_reason.as_deref()
    }
    async fn created_at(&self) -> Timestamptz {
        Timestamptz(self.0.created_at)
    }
    async fn updated_at(&self) -> Timestamptz {
        Timestamptz(self.0.updated_at)
    }
    /// The permanent public URL; null for private files.
    async fn url(&self, ctx: &Context<'_>) -> Option<String> {
        view::public_url(&state(ctx).config.public_url, &self.0)
    }
    /// The file's bucket, loaded once per request for all files that need it. Reading buckets
    /// follows the same rule as `GET /v1/buckets/{id}`: anonymous callers get an error.
    async fn bucket(&self, ctx: &Context<'_>) -> Result<BucketObj> {
        buckets::require_read(principal(ctx)).map_err(gql)?;
        let loader = ctx.data_unchecked::<DataLoader<BucketLoader>>();
        loader
            .load_one(self.0.bucket_id.0.clone())
            .await
            .map_err(|e| (*e).clone())?
            .map(BucketObj)
            .ok_or_else(|| async_graphql::Error::new("bucket not found"))
    }
    async fn associations(&self) -> Vec<FileAssociation> {
        self.0
            .associations
            .iter()
            .cloned()
            .map(FileAssociation)
            .collect()
    }
}

/// A file–object relation.
pub struct FileAssociation(pub Association);

#[Object(name = "FileAssociation")]
impl FileAssociation {
    async fn id(&self) -> Uuid {
        Uuid(self.0.id)
    }
    async fn file_id(&self) -> Uuid {
        Uuid(self.0.file_id.0)
    }
    async fn entity_name(&self) -> &str {
        &self.0.entity_name
    }
    async fn entity_reference(&self) -> &str {
        &self.0.entity_reference
    }
    async fn created_at(&self) -> Timestamptz {
        Timestamptz(self.0.created_at)
    }
}

/// A bucket.
pub struct BucketObj(pub Bucket);

#[Object(name = "Bucket")]
impl BucketObj {
    async fn id(&self) -> &str {
        self.0.id.as_str()
    }
    async fn cache_control(&self) -> &str {
        &self.0.cache_control
    }
    async fn download_expiration(&self) -> u32 {
        self.0.download_expiration
    }
    async fn max_upload_file_size(&self) -> Bigint {
        Bigint(self.0.max_upload_file_size)
    }
    async fn min_upload_file_size(&self) -> Bigint {
        Bigint(self.0.min_upload_file_size)
    }
    async fn presigned_urls_enabled(&self) -> bool {
        self.0.presigned_urls_enabled
    }
    async fn allowed_mime_types(&self) -> &[String] {
        &self.0.allowed_mime_types
    }
    async fn default_visibility(&self) -> &str {
        self.0.default_visibility.as_str()
    }
    async fn created_at(&self) -> Timestamptz {
        Timestamptz(self.0.created_at)
    }
    async fn updated_at(&self) -> Timestamptz {
        Timestamptz(self.0.updated_at)
    }
    /// The bucket's files that the caller may list (limited and costed like `files`).
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
        let mut w = r#where.unwrap_or_default();
        w.bucket_id = Some(self.0.id.0.clone());
        super::query::list(ctx, Some(w), order_by, order, limit, offset, cursor, count).await
    }
}

/// A category.
pub struct CategoryObj(pub Category);

#[Object(name = "Category")]
impl CategoryObj {
    async fn key(&self) -> &str {
        &self.0.key
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn bucket_id(&self) -> Option<&str> {
        self.0.bucket_id.as_ref().map(|b| b.as_str())
    }
    async fn max_size(&self) -> Option<Bigint> {
        self.0.max_size.map(Bigint)
    }
    async fn allowed_mime_types(&self) -> &[String] {
        &self.0.allowed_mime_types
    }
    async fn default_visibility(&self) -> Option<&str> {
        self.0.default_visibility.map(|v| v.as_str())
    }
    async fn default_access(&self) -> Option<&str> {
        self.0.default_access.map(|a| a.as_str())
    }
    async fn created_at(&self) -> Timestamptz {
        Timestamptz(self.0.created_at)
    }
    async fn updated_at(&self) -> Timestamptz {
        Timestamptz(self.0.updated_at)
    }
}

/// A page of files.
#[derive(SimpleObject)]
pub struct FileConnection {
    pub nodes: Vec<File>,
    pub next_cursor: Option<String>,
    pub total_count: Option<Bigint>,
}

/// Where to send the bytes of a direct upload.
#[derive(SimpleObject)]
pub struct UploadTarget {
    pub method: String,
    pub url: String,
    pub headers: Jsonb,
    pub expires_at: Timestamptz,
}

/// A pending file and its upload target.
#[derive(SimpleObject)]
pub struct FileUpload {
    pub file: File,
    pub upload: UploadTarget,
}

/// A signed download URL.
#[derive(SimpleObject)]
pub struct SignedUrl {
    pub url: String,
    pub expires_at: Timestamptz,
}

/// What `deleteFiles` did with each id.
#[derive(SimpleObject)]
pub struct DeleteFilesResult {
    pub deleted: Vec<String>,
    pub not_found: Vec<String>,
    pub forbidden: Vec<String>,
}

/// What `deleteFileAssociations` did.
#[derive(SimpleObject)]
pub struct DeleteAssociationsResult {
    pub removed: Bigint,
    pub deleted_files: Vec<String>,
}

/// Loads buckets by id in one query per request, however many files ask for theirs.
pub struct BucketLoader(pub crate::state::AppState);

impl Loader<String> for BucketLoader {
    type Value = Bucket;
    type Error = Arc<async_graphql::Error>;

    async fn load(
        &self,
        keys: &[String],
    ) -> std::result::Result<HashMap<String, Bucket>, Self::Error> {
        let all = self
            .0
            .meta
            .list_buckets()
            .await
            .map_err(|e| Arc::new(gql(e.into())))?;
        Ok(all
            .into_iter()
            .filter(|b| keys.contains(&b.id.0))
            .map(|b| (b.id.0.clone(), b))
            .collect())
    }
}
