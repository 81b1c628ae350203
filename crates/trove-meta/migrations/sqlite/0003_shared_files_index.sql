-- A user's listing asks for the files shared in their tenant: access = tenant or public. This
-- partial index holds exactly those, in creation order, so the question costs only the rows it
-- answers with, however many private files the tenant has.
CREATE INDEX files_tenant_shared ON files (tenant_id, created_at, id)
    WHERE access = 'tenant' OR visibility = 'public';
