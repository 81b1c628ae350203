-- Leases on work that only one process may do at a time (the periodic clean-up): a row names the
-- work, who holds it and until when; a lapsed lease may be taken by anyone.
CREATE TABLE leases (
    name   TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    until  INTEGER NOT NULL
);
