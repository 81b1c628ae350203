//! The tables `trove migrate-db` copies, in an order that satisfies every foreign key, with the
//! kind of each column: how SQLite stores it (text, integer milliseconds, JSON text) and which
//! native PostgreSQL type it becomes.

/// How a column is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    /// Text in SQLite, `uuid` in PostgreSQL.
    Uuid,
    /// Integer milliseconds in SQLite, `timestamptz` in PostgreSQL.
    Time,
    /// `bigint`.
    Int,
    /// `integer` in PostgreSQL.
    Int4,
    /// 0/1 in SQLite, `boolean` in PostgreSQL.
    Bool,
    /// JSON text in SQLite, `jsonb` in PostgreSQL.
    Json,
    Bytes,
}

#[derive(Debug)]
pub(super) struct Table {
    pub name: &'static str,
    /// The primary key (its first column), by which rows are paged and compared.
    pub columns: &'static [(&'static str, Kind)],
}

use Kind::*;

pub(super) const TABLES: &[Table] = &[
    Table {
        name: "buckets",
        columns: &[
            ("id", Text),
            ("cache_control", Text),
            ("download_expiration", Int),
            ("min_upload_file_size", Int),
            ("max_upload_file_size", Int),
            ("presigned_urls_enabled", Bool),
            ("allowed_mime_types", Json),
            ("default_visibility", Text),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    },
    Table {
        name: "categories",
        columns: &[
            ("key", Text),
            ("name", Text),
            ("bucket_id", Text),
            ("max_size", Int),
            ("allowed_mime_types", Json),
            ("default_visibility", Text),
            ("default_access", Text),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    },
    Table {
        name: "files",
        columns: &[
            ("id", Uuid),
            ("bucket_id", Text),
            ("name", Text),
            ("mime_type", Text),
            ("size", Int),
            ("etag", Text),
            ("status", Text),
            ("status_reason", Text),
            ("metadata", Json),
            ("visibility", Text),
            ("access", Text),
            ("category", Text),
            ("tenant_id", Text),
            ("uploaded_by_user_id", Text),
            ("checksum_sha256", Text),
            ("revision", Uuid),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    },
    Table {
        name: "file_associations",
        columns: &[
            ("id", Uuid),
            ("file_id", Uuid),
            ("entity_name", Text),
            ("entity_reference", Text),
            ("created_at", Time),
        ],
    },
    Table {
        name: "inline_contents",
        columns: &[("file_id", Uuid), ("revision", Uuid), ("data", Bytes)],
    },
    Table {
        name: "direct_uploads",
        columns: &[
            ("file_id", Uuid),
            ("expires_at", Time),
            ("state", Text),
            ("fingerprint", Text),
            ("upload_length", Int),
        ],
    },
    Table {
        name: "tus_uploads",
        columns: &[
            ("id", Uuid),
            ("file_id", Uuid),
            ("kind", Text),
            ("owner_user_id", Text),
            ("tenant_id", Text),
            ("upload_offset", Int),
            ("upload_length", Int),
            ("metadata", Text),
            ("fingerprint", Text),
            ("concat", Text),
            ("final_id", Uuid),
            ("claimed_until", Time),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    },
    Table {
        name: "blob_deletions",
        columns: &[
            ("blob_key", Text),
            ("created_at", Time),
            ("attempts", Int4),
            ("next_attempt_at", Time),
        ],
    },
];

impl Table {
    pub(super) fn key(&self) -> &'static str {
        self.columns[0].0
    }

    pub(super) fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(c, _)| *c)
            .collect::<Vec<_>>()
            .join(", ")
    }
}
