-- Categories, associations, direct uploads, and the indexes listings need.
CREATE TABLE categories (
    key                TEXT PRIMARY KEY NOT NULL,
    name               TEXT NOT NULL,
    bucket_id          TEXT REFERENCES buckets (id) ON DELETE SET NULL,
    max_size           INTEGER,
    allowed_mime_types TEXT NOT NULL, -- JSON array of patterns
    default_visibility TEXT,
    default_access     TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

CREATE TABLE file_associations (
    id               TEXT PRIMARY KEY NOT NULL,
    file_id          TEXT NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    entity_name      TEXT NOT NULL,
    entity_reference TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    UNIQUE (file_id, entity_name, entity_reference)
);
CREATE INDEX file_associations_entity ON file_associations (entity_name, entity_reference, file_id);

-- Direct uploads: the single-use upload URL's state. Rows go with their file.
CREATE TABLE direct_uploads (
    file_id    TEXT PRIMARY KEY NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    state      TEXT NOT NULL -- open | used
);

CREATE INDEX files_created ON files (created_at, id);
CREATE INDEX files_updated ON files (updated_at, id);
CREATE INDEX files_name ON files (name, id);
CREATE INDEX files_size ON files (size, id);
CREATE INDEX files_bucket_created ON files (bucket_id, created_at, id);
CREATE INDEX files_category_created ON files (category, created_at, id);
