-- Leases on work that only one node may do at a time (the periodic clean-up): a row names the
-- work, who holds it and until when; a lapsed lease may be taken by any node.
CREATE TABLE leases (
    name   text COLLATE "C" PRIMARY KEY,
    holder text NOT NULL,
    until  timestamptz NOT NULL
);
