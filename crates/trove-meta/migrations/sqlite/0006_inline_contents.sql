-- Small contents kept in the database beside their row (TROVE_INLINE_MAX_BYTES) instead of in the
-- blob store: the group commit that makes the row durable makes them durable with it, and a
-- download reads them with the row. A separate table keeps `files` rows small, so listings and
-- index lookups read as few pages as before. `revision` is the file revision the bytes belong to:
-- a reader only takes them when it matches the row's.
CREATE TABLE inline_contents (
    file_id TEXT PRIMARY KEY NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    revision TEXT NOT NULL,
    data BLOB NOT NULL
);
