-- Why a file is in status `error`: a direct upload completed against object storage whose bytes
-- broke the bucket's or category's rules (the bytes are deleted, the row stays for the client).
ALTER TABLE files ADD COLUMN status_reason TEXT;
