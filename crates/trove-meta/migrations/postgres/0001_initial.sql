-- Trove's metadata on PostgreSQL: the same tables as on SQLite, in native types. Ids that are
-- UUIDs are `uuid`, times `timestamptz` (stored to the millisecond, as cursors carry them), JSON
-- `jsonb`, sizes `bigint`; text that listings order or compare byte-wise is `COLLATE "C"`, so the
-- order is the same on every server whatever its locale, and prefix filters use the indexes.
CREATE TABLE buckets (
    id                     text COLLATE "C" PRIMARY KEY,
    cache_control          text NOT NULL,
    download_expiration    bigint NOT NULL,
    min_upload_file_size   bigint NOT NULL,
    max_upload_file_size   bigint NOT NULL,
    presigned_urls_enabled boolean NOT NULL,
    allowed_mime_types     jsonb NOT NULL,
    default_visibility     text NOT NULL,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL
);

CREATE TABLE files (
    id                  uuid PRIMARY KEY,
    bucket_id           text COLLATE "C" NOT NULL REFERENCES buckets (id),
    name                text COLLATE "C" NOT NULL,
    mime_type           text COLLATE "C" NOT NULL,
    size                bigint NOT NULL,
    etag                text NOT NULL,
    status              text NOT NULL,
    status_reason       text,
    metadata            jsonb NOT NULL,
    visibility          text NOT NULL,
    access              text NOT NULL,
    category            text COLLATE "C",
    tenant_id           text COLLATE "C",
    uploaded_by_user_id text COLLATE "C",
    checksum_sha256     text,
    revision            uuid,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);

-- Every order of a listing (created, updated, name, size; ties broken by id), each alone and
-- within the filters that narrow listings most (bucket, category, owner, tenant).
CREATE INDEX files_created ON files (created_at, id);
CREATE INDEX files_updated ON files (updated_at, id);
CREATE INDEX files_name ON files (name, id);
CREATE INDEX files_size ON files (size, id);
CREATE INDEX files_bucket ON files (bucket_id, id);
CREATE INDEX files_bucket_created ON files (bucket_id, created_at, id);
CREATE INDEX files_category_created ON files (category, created_at, id);
CREATE INDEX files_mime_created ON files (mime_type, created_at, id);
CREATE INDEX files_tenant_created ON files (tenant_id, created_at, id);
-- A user is the pair (tenant, sub): "my files" is one index range in creation order.
CREATE INDEX files_owner_created ON files (uploaded_by_user_id, tenant_id, created_at, id);
-- What a user's tenant shares with them (access = tenant, or public), in creation order: the
-- question costs the rows it answers with, however many private files the tenant has.
CREATE INDEX files_tenant_shared ON files (tenant_id, created_at, id)
    WHERE access = 'tenant' OR visibility = 'public';
-- Clean-up of uploads that stopped, and the listing of unfinished uploads.
CREATE INDEX files_status_updated ON files (status, updated_at);
CREATE INDEX files_pending_created ON files (created_at, id) WHERE status = 'upload_pending';
-- `metadata.<key>=<value>` filters are containment queries.
CREATE INDEX files_metadata ON files USING gin (metadata jsonb_path_ops);

CREATE TABLE categories (
    key                text COLLATE "C" PRIMARY KEY,
    name               text NOT NULL,
    bucket_id          text COLLATE "C" REFERENCES buckets (id) ON DELETE SET NULL,
    max_size           bigint,
    allowed_mime_types jsonb NOT NULL,
    default_visibility text,
    default_access     text,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);

CREATE TABLE file_associations (
    id               uuid PRIMARY KEY,
    file_id          uuid NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    entity_name      text COLLATE "C" NOT NULL,
    entity_reference text COLLATE "C" NOT NULL,
    created_at       timestamptz NOT NULL,
    UNIQUE (file_id, entity_name, entity_reference)
);
CREATE INDEX file_associations_entity ON file_associations (entity_name, entity_reference, file_id);

-- Blobs that must be removed from storage, written in the same transaction that stops referencing
-- them; a key that keeps failing backs off on its own.
CREATE TABLE blob_deletions (
    blob_key        text COLLATE "C" PRIMARY KEY,
    created_at      timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT 'epoch'
);
CREATE INDEX blob_deletions_due ON blob_deletions (next_attempt_at, created_at);

-- Direct uploads: the single-use upload URL's state.
CREATE TABLE direct_uploads (
    file_id       uuid PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    expires_at    timestamptz NOT NULL,
    state         text NOT NULL, -- open | used
    fingerprint   text,
    upload_length bigint
);

-- Resumable (tus) uploads; a partial upload of a concatenation has no file row.
CREATE TABLE tus_uploads (
    id            uuid PRIMARY KEY,
    file_id       uuid REFERENCES files (id) ON DELETE CASCADE,
    kind          text NOT NULL, -- single | partial | final
    owner_user_id text,
    tenant_id     text,
    upload_offset bigint NOT NULL,
    upload_length bigint,
    metadata      text,
    fingerprint   text,
    concat        text,
    final_id      uuid,
    claimed_until timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX tus_uploads_file ON tus_uploads (file_id);
CREATE INDEX tus_uploads_partials ON tus_uploads (updated_at) WHERE kind = 'partial';
CREATE INDEX tus_uploads_final ON tus_uploads (final_id) WHERE final_id IS NOT NULL;

-- Small contents beside their row (TROVE_INLINE_MAX_BYTES), current when `revision` matches.
CREATE TABLE inline_contents (
    file_id  uuid PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    revision uuid NOT NULL,
    data     bytea NOT NULL
);
