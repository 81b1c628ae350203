-- Resumable (tus) uploads. A single or final upload's id is its file's id; a partial upload of a
-- concatenation has no file row (it never becomes a file on its own). Offsets count only bytes
-- the storage has made durable.
CREATE TABLE tus_uploads (
    id            TEXT PRIMARY KEY NOT NULL,
    file_id       TEXT REFERENCES files (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL, -- single | partial | final
    owner_user_id TEXT,
    tenant_id     TEXT,
    upload_offset INTEGER NOT NULL,
    upload_length INTEGER,       -- NULL while the length is deferred
    metadata      TEXT,          -- the Upload-Metadata header as sent, echoed by HEAD
    fingerprint   TEXT,
    concat        TEXT,          -- a final upload's Upload-Concat value, echoed by HEAD
    final_id      TEXT,          -- a partial upload's final upload, once one names it
    claimed_until INTEGER,       -- a final upload: the concatenation is someone's until then
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX tus_uploads_file ON tus_uploads (file_id);
CREATE INDEX tus_uploads_partials ON tus_uploads (updated_at) WHERE kind = 'partial';
CREATE INDEX tus_uploads_final ON tus_uploads (final_id) WHERE final_id IS NOT NULL;

-- A direct upload may carry the client's fingerprint and its announced size, for the listing of
-- unfinished uploads.
ALTER TABLE direct_uploads ADD COLUMN fingerprint TEXT;
ALTER TABLE direct_uploads ADD COLUMN upload_length INTEGER;

-- Unfinished uploads, newest first: only pending rows, however many ready files there are.
CREATE INDEX files_pending_created ON files (created_at, id) WHERE status = 'upload_pending';
