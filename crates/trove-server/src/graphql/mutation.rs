//! Mutations; each calls the same service function as its REST twin.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, Result};
use trove_core::{
    Access, BucketPatch, CategoryPatch, EntityRef, NewBucket, NewCategory, Visibility,
};

use super::scalars::{Bigint, Jsonb, Timestamptz, Uuid};
use super::types::{
    BucketObj, CategoryObj, DeleteAssociationsResult, DeleteFilesResult, File, FileAssociation,
    FileUpload, SignedUrl, UploadTarget,
};
use super::{gql, principal, state};
use crate::error::ApiError;
use crate::service::files::FilePatch;
use crate::service::signed::SignRequest;
use crate::service::uploads::UploadRequest;
use crate::service::{associations, buckets, categories, files, signed, uploads};

pub struct Mutation;

fn visibility(v: Option<String>) -> Result<Option<Visibility>> {
    v.map(|v| Visibility::parse(&v))
        .transpose()
        .map_err(|e| gql(e.into()))
}

fn access(a: Option<String>) -> Result<Option<Access>> {
    a.map(|a| Access::parse(&a))
        .transpose()
        .map_err(|e| gql(e.into()))
}

/// `{entityName, entityReference}`.
#[derive(Debug, Clone, InputObject)]
pub struct AssociationInput {
    pub entity_name: String,
    pub entity_reference: String,
}

impl From<AssociationInput> for EntityRef {
    fn from(a: AssociationInput) -> Self {
        Self {
            entity_name: a.entity_name,
            entity_reference: a.entity_reference,
        }
    }
}

#[derive(Debug, InputObject)]
pub struct CreateFileUploadInput {
    pub name: String,
    pub content_type: String,
    pub size: Option<Bigint>,
    pub bucket_id: Option<String>,
    pub category: Option<String>,
    pub visibility: Option<String>,
    pub access: Option<String>,
    pub metadata: Option<Jsonb>,
    pub associations: Option<Vec<AssociationInput>>,
    /// An opaque string to find this upload again among the unfinished ones.
    pub fingerprint: Option<String>,
    /// The SHA-256 of the bytes in hex; with object storage the upload URL only accepts these bytes.
    pub checksum_sha256: Option<String>,
}

#[derive(Debug, InputObject)]
pub struct UpdateFileInput {
    pub name: Option<String>,
    pub metadata: Option<Jsonb>,
    pub visibility: Option<String>,
    pub access: Option<String>,
    /// A category key; `null` clears it.
    pub category: MaybeUndefined<String>,
}

#[derive(Debug, InputObject)]
pub struct BucketInput {
    pub id: Option<String>,
    pub cache_control: Option<String>,
    pub download_expiration: Option<u32>,
    pub min_upload_file_size: Option<Bigint>,
    pub max_upload_file_size: Option<Bigint>,
    pub presigned_urls_enabled: Option<bool>,
    pub allowed_mime_types: Option<Vec<String>>,
    pub default_visibility: Option<String>,
}

#[derive(Debug, InputObject)]
pub struct CategoryInput {
    pub key: Option<String>,
    pub name: Option<String>,
    pub bucket_id: MaybeUndefined<String>,
    pub max_size: MaybeUndefined<Bigint>,
    pub allowed_mime_types: Option<Vec<String>>,
    pub default_visibility: MaybeUndefined<String>,
    pub default_access: MaybeUndefined<String>,
}

fn maybe<T, U>(m: MaybeUndefined<T>, f: impl FnOnce(T) -> Result<U>) -> Result<Option<Option<U>>> {
    Ok(match m {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(f(v)?)),
    })
}

fn parse_vis(v: String) -> Result<Visibility> {
    Visibility::parse(&v).map_err(|e| gql(e.into()))
}

fn parse_access(a: String) -> Result<Access> {
    Access::parse(&a).map_err(|e| gql(e.into()))
}

#[Object]
impl Mutation {
    /// ROQ's `createFileUpload`: a pending file and where to PUT its bytes.
    async fn create_file_upload(
        &self,
        ctx: &Context<'_>,
        input: CreateFileUploadInput,
    ) -> Result<FileUpload> {
        let req = UploadRequest {
            name: input.name,
            content_type: input.content_type,
            size: input.size.map(|s| s.0),
            bucket_id: input.bucket_id,
            category: input.category,
            visibility: visibility(input.visibility)?,
            access: access(input.access)?,
            metadata: input.metadata.map(|m| m.0),
            associations: input
                .associations
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            fingerprint: input.fingerprint,
            checksum_sha256: input.checksum_sha256,
        };
        let (file, target) = uploads::create(state(ctx), principal(ctx), req)
            .await
            .map_err(gql)?;
        Ok(FileUpload {
            file: File(file),
            upload: UploadTarget {
                method: target.method.to_owned(),
                url: target.url,
                headers: Jsonb(serde_json::to_value(target.headers).unwrap_or_default()),
                expires_at: Timestamptz(target.expires_at),
            },
        })
    }

    async fn complete_file_upload(&self, ctx: &Context<'_>, id: Uuid) -> Result<File> {
        let f = uploads::complete(state(ctx), principal(ctx), &id.0.to_string())
            .await
            .map_err(gql)?;
        Ok(File(f))
    }

    async fn update_file(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: UpdateFileInput,
    ) -> Result<File> {
        let patch = FilePatch {
            name: input.name,
            metadata: input.metadata.map(|m| m.0),
            visibility: visibility(input.visibility)?,
            access: access(input.access)?,
            category: maybe(input.category, Ok)?,
        };
        let f = files::update(state(ctx), principal(ctx), &id.0.to_string(), patch, None)
            .await
            .map_err(gql)?;
        Ok(File(f))
    }

    async fn delete_files(&self, ctx: &Context<'_>, ids: Vec<String>) -> Result<DeleteFilesResult> {
        let r = files::delete_many(state(ctx), principal(ctx), &ids)
            .await
            .map_err(gql)?;
        Ok(DeleteFilesResult {
            deleted: r.deleted,
            not_found: r.not_found,
            forbidden: r.forbidden,
        })
    }

    async fn make_file_public(&self, ctx: &Context<'_>, id: Uuid) -> Result<File> {
        let f = files::set_visibility(
            state(ctx),
            principal(ctx),
            &id.0.to_string(),
            Visibility::Public,
        )
        .await
        .map_err(gql)?;
        Ok(File(f))
    }

    async fn make_file_private(&self, ctx: &Context<'_>, id: Uuid) -> Result<File> {
        let f = files::set_visibility(
            state(ctx),
            principal(ctx),
            &id.0.to_string(),
            Visibility::Private,
        )
        .await
        .map_err(gql)?;
        Ok(File(f))
    }

    async fn create_file_association(
        &self,
        ctx: &Context<'_>,
        file_id: Uuid,
        entity_name: String,
        entity_reference: String,
    ) -> Result<FileAssociation> {
        let e = EntityRef {
            entity_name,
            entity_reference,
        };
        let (a, _) = associations::add(state(ctx), principal(ctx), &file_id.0.to_string(), e)
            .await
            .map_err(gql)?;
        Ok(FileAssociation(a))
    }

    async fn delete_file_associations(
        &self,
        ctx: &Context<'_>,
        entity_name: String,
        entity_reference: String,
        delete_files: Option<bool>,
    ) -> Result<DeleteAssociationsResult> {
        let e = EntityRef {
            entity_name,
            entity_reference,
        };
        let r = associations::unlink_entity(
            state(ctx),
            principal(ctx),
            e,
            delete_files.unwrap_or(false),
        )
        .await
        .map_err(gql)?;
        Ok(DeleteAssociationsResult {
            removed: Bigint(r.removed),
            deleted_files: r.deleted_files,
        })
    }

    async fn create_signed_url(
        &self,
        ctx: &Context<'_>,
        file_id: Uuid,
        expires_in: Option<u32>,
        download: Option<bool>,
    ) -> Result<SignedUrl> {
        let req = SignRequest {
            expires_in,
            download: download.unwrap_or(false),
            transform: None,
        };
        let s = signed::create(state(ctx), principal(ctx), &file_id.0.to_string(), req)
            .await
            .map_err(gql)?;
        Ok(SignedUrl {
            url: s.url,
            expires_at: Timestamptz(s.expires_at),
        })
    }

    async fn create_bucket(&self, ctx: &Context<'_>, input: BucketInput) -> Result<BucketObj> {
        let req = NewBucket {
            id: input
                .id
                .ok_or_else(|| gql(ApiError::invalid("id is required")))?,
            cache_control: input.cache_control,
            download_expiration: input.download_expiration,
            min_upload_file_size: input.min_upload_file_size.map(|n| n.0),
            max_upload_file_size: input.max_upload_file_size.map(|n| n.0),
            presigned_urls_enabled: input.presigned_urls_enabled,
            allowed_mime_types: input.allowed_mime_types,
            default_visibility: visibility(input.default_visibility)?,
        };
        Ok(BucketObj(
            buckets::create(state(ctx), principal(ctx), req)
                .await
                .map_err(gql)?,
        ))
    }

    async fn update_bucket(
        &self,
        ctx: &Context<'_>,
        id: String,
        input: BucketInput,
    ) -> Result<BucketObj> {
        let patch = BucketPatch {
            cache_control: input.cache_control,
            download_expiration: input.download_expiration,
            min_upload_file_size: input.min_upload_file_size.map(|n| n.0),
            max_upload_file_size: input.max_upload_file_size.map(|n| n.0),
            presigned_urls_enabled: input.presigned_urls_enabled,
            allowed_mime_types: input.allowed_mime_types,
            default_visibility: visibility(input.default_visibility)?,
        };
        Ok(BucketObj(
            buckets::update(state(ctx), principal(ctx), &id, patch)
                .await
                .map_err(gql)?,
        ))
    }

    async fn delete_bucket(
        &self,
        ctx: &Context<'_>,
        id: String,
        force: Option<bool>,
    ) -> Result<bool> {
        buckets::delete(state(ctx), principal(ctx), &id, force.unwrap_or(false))
            .await
            .map_err(gql)?;
        Ok(true)
    }

    async fn create_category(
        &self,
        ctx: &Context<'_>,
        input: CategoryInput,
    ) -> Result<CategoryObj> {
        let req = NewCategory {
            key: input
                .key
                .ok_or_else(|| gql(ApiError::invalid("key is required")))?,
            name: input.name,
            bucket_id: maybe(input.bucket_id, Ok)?.flatten(),
            max_size: maybe(input.max_size, |n| Ok(n.0))?.flatten(),
            allowed_mime_types: input.allowed_mime_types,
            default_visibility: maybe(input.default_visibility, parse_vis)?.flatten(),
            default_access: maybe(input.default_access, parse_access)?.flatten(),
        };
        Ok(CategoryObj(
            categories::create(state(ctx), principal(ctx), req)
                .await
                .map_err(gql)?,
        ))
    }

    async fn update_category(
        &self,
        ctx: &Context<'_>,
        key: String,
        input: CategoryInput,
    ) -> Result<CategoryObj> {
        let patch = CategoryPatch {
            name: input.name,
            bucket_id: maybe(input.bucket_id, Ok)?,
            max_size: maybe(input.max_size, |n| Ok(n.0))?,
            allowed_mime_types: input.allowed_mime_types,
            default_visibility: maybe(input.default_visibility, parse_vis)?,
            default_access: maybe(input.default_access, parse_access)?,
        };
        Ok(CategoryObj(
            categories::update(state(ctx), principal(ctx), &key, patch)
                .await
                .map_err(gql)?,
        ))
    }

    async fn delete_category(
        &self,
        ctx: &Context<'_>,
        key: String,
        force: Option<bool>,
    ) -> Result<bool> {
        categories::delete(state(ctx), principal(ctx), &key, force.unwrap_or(false))
            .await
            .map_err(gql)?;
        Ok(true)
    }
}
