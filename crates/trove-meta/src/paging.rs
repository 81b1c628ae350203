//! What every backend does the same way with the rows of a listing: a user's scope is a union of
//! branches ("own files", "shared in my tenant"), each read as its own ordered, limited query
//! along its own index, and the short lists are merged here into the page.

use trove_core::listing::{CursorValue, Order};
use trove_core::{FileQuery, FileRecord};

/// How many rows each branch of a page must read: the page, one more to know whether another
/// page follows, and the skipped `offset`.
pub(crate) fn rows_to_read(q: &FileQuery) -> i64 {
    i64::from(q.limit) + 1 + offset_of(q) as i64
}

fn offset_of(q: &FileQuery) -> usize {
    q.offset.unwrap_or(0).min(trove_core::listing::MAX_OFFSET) as usize
}

/// Orders two files as the listing does: by the ordering field (text byte-wise), then by id.
fn listing_order(q: &FileQuery, a: &FileRecord, b: &FileRecord) -> std::cmp::Ordering {
    let key = |f: &FileRecord| q.order_by.key_of(f);
    let ord = match (key(a), key(b)) {
        (CursorValue::Int(x), CursorValue::Int(y)) => x.cmp(&y),
        (CursorValue::Text(x), CursorValue::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => std::cmp::Ordering::Equal,
    }
    .then_with(|| a.id.0.cmp(&b.id.0));
    if q.order == Order::Desc {
        ord.reverse()
    } else {
        ord
    }
}

/// The page made of the branches' rows: deduplicated (a file can be both the caller's and shared),
/// ordered, past the offset, cut to the limit; with the cursor of the next page when one follows.
pub(crate) fn merge(
    q: &FileQuery,
    branches: impl IntoIterator<Item = Vec<FileRecord>>,
) -> (Vec<FileRecord>, Option<String>) {
    let mut files: Vec<FileRecord> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for branch in branches {
        for f in branch {
            if seen.insert(f.id) {
                files.push(f);
            }
        }
    }
    files.sort_by(|a, b| listing_order(q, a, b));
    files.drain(..offset_of(q).min(files.len()));
    let more = files.len() > q.limit as usize;
    files.truncate(q.limit as usize);
    let next_cursor = match (more, files.last()) {
        (true, Some(last)) => Some(q.cursor_after(last).encode()),
        _ => None,
    };
    (files, next_cursor)
}
