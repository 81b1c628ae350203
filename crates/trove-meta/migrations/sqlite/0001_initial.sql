-- Timestamps are INTEGER milliseconds since the Unix epoch; ids are text.
CREATE TABLE buckets (
    id                     TEXT PRIMARY KEY NOT NULL,
    cache_control          TEXT NOT NULL,
    download_expiration    INTEGER NOT NULL,
    min_upload_file_size   INTEGER NOT NULL,
    max_upload_file_size   INTEGER NOT NULL,
    presigned_urls_enabled INTEGER NOT NULL,
    allowed_mime_types     TEXT NOT NULL, -- JSON array of patterns
    default_visibility     TEXT NOT NULL,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);

CREATE TABLE files (
    id                  TEXT PRIMARY KEY NOT NULL,
    bucket_id           TEXT NOT NULL REFERENCES buckets (id),
    name                TEXT NOT NULL,
    mime_type           TEXT NOT NULL,
    size                INTEGER NOT NULL,
    etag                TEXT NOT NULL,
    status              TEXT NOT NULL,
    metadata            TEXT NOT NULL,
    visibility          TEXT NOT NULL,
    access              TEXT NOT NULL,
    category            TEXT,          -- filled by the categories feature
    tenant_id           TEXT,
    uploaded_by_user_id TEXT,
    checksum_sha256     TEXT,
    revision            TEXT,          -- blob revision of the current content
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

CREATE INDEX files_bucket ON files (bucket_id, id);
CREATE INDEX files_tenant_created ON files (tenant_id, created_at, id);
CREATE INDEX files_owner_created ON files (uploaded_by_user_id, created_at, id);
CREATE INDEX files_status_updated ON files (status, updated_at);

-- Blobs that must be removed from storage. A row is written in the same transaction that stops
-- referencing the blob, so a crash or a failing storage never leaks one silently.
CREATE TABLE blob_deletions (
    blob_key   TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0
);
