-- A user is the pair (tenant, sub): the owner index leads with both, so "my files" stays an index
-- range in creation order.
DROP INDEX files_owner_created;
CREATE INDEX files_owner_created ON files (uploaded_by_user_id, tenant_id, created_at, id);

-- Blob deletions back off per key: a key that keeps failing waits longer each time instead of
-- holding back the keys queued after it.
ALTER TABLE blob_deletions ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX blob_deletions_due ON blob_deletions (next_attempt_at, created_at);
