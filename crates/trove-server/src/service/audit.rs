//! `trove gc`'s look at the whole store: blobs no row references (orphans, deleted unless it is a
//! dry run) and ready rows whose blob is missing (reported: only a person can say what to do).
//!
//! A blob is referenced when a file row names its revision as current; a blob younger than
//! [`ORPHAN_MIN_AGE`] is never an orphan, since an upload in flight writes its bytes before its
//! row says so. A key the queued deletions hold is left to them.

use futures_util::TryStreamExt;
use trove_core::{BucketId, FileId, FileRecord, FileStatus, RevisionId};

use crate::error::ApiResult;
use crate::state::AppState;

/// How old an unreferenced blob must be before it is taken for an orphan.
pub const ORPHAN_MIN_AGE: chrono::Duration = chrono::Duration::hours(1);

/// What the audit found (and, unless it was a dry run, removed).
#[derive(Debug, Default)]
pub struct Audit {
    /// Keys of unreferenced blobs older than [`ORPHAN_MIN_AGE`], with their sizes.
    pub orphans: Vec<(String, u64)>,
    /// Ready files whose blob is not in the store: (file id, expected key).
    pub missing: Vec<(FileId, String)>,
    /// Orphans deleted (0 in a dry run).
    pub deleted: usize,
}

/// The file and revision a blob key names, in today's layout or the one before the fan-out; a
/// rendition names its original's.
fn parse_key(key: &str) -> Option<(BucketId, FileId, RevisionId)> {
    let key = crate::images::original_of(key).unwrap_or(key);
    let parts: Vec<&str> = key.split('/').collect();
    let (bucket, id, revision) = match parts.as_slice() {
        [bucket, _, _, id, revision] | [bucket, id, revision] => (*bucket, *id, *revision),
        _ => return None,
    };
    Some((
        BucketId(bucket.to_owned()),
        FileId::parse(id)?,
        RevisionId(uuid::Uuid::parse_str(revision).ok()?),
    ))
}

/// Every ready file of every bucket, a page at a time, so a walk over millions of files holds
/// one page in memory.
#[derive(Debug, Default)]
pub struct ReadyFiles {
    buckets: Option<Vec<BucketId>>,
    after: Option<FileId>,
}

impl ReadyFiles {
    /// The next page of ready files, or `None` once every bucket is done.
    pub async fn next_page(&mut self, state: &AppState) -> ApiResult<Option<Vec<FileRecord>>> {
        if self.buckets.is_none() {
            let mut ids: Vec<BucketId> = state
                .meta
                .list_buckets()
                .await?
                .into_iter()
                .map(|b| b.id)
                .collect();
            ids.reverse();
            self.buckets = Some(ids);
        }
        let buckets = self.buckets.as_mut().expect("set above");
        while let Some(bucket) = buckets.last().cloned() {
            let page = state.meta.files_in_bucket(&bucket, self.after, 500).await?;
            let Some(last) = page.last() else {
                buckets.pop();
                self.after = None;
                continue;
            };
            self.after = Some(last.id);
            return Ok(Some(
                page.into_iter()
                    .filter(|f| f.status == FileStatus::Ready)
                    .collect(),
            ));
        }
        Ok(None)
    }
}

/// Walks the store and the rows; deletes orphans unless `dry_run`.
pub async fn audit(state: &AppState, dry_run: bool) -> ApiResult<Audit> {
    let mut found = Audit::default();
    let now = chrono::Utc::now();
    let queued: std::collections::HashSet<String> = state
        .meta
        .due_blob_deletions(now + chrono::Duration::days(36_500), u32::MAX)
        .await?
        .into_iter()
        .map(|d| d.key)
        .collect();
    let mut blobs = state.blobs.list("");
    while let Some(blob) = blobs.try_next().await? {
        if now - blob.last_modified < ORPHAN_MIN_AGE || queued.contains(&blob.key) {
            continue;
        }
        let referenced = match parse_key(&blob.key) {
            Some((bucket, id, revision)) => state
                .meta
                .get_file(id)
                .await?
                .is_some_and(|f| f.bucket_id == bucket && f.revision == Some(revision)),
            None => false,
        };
        if !referenced {
            found.orphans.push((blob.key.clone(), blob.size));
            if !dry_run {
                state.blobs.delete(&blob.key).await?;
                found.deleted += 1;
            }
        }
    }
    let mut ready = ReadyFiles::default();
    while let Some(page) = ready.next_page(state).await? {
        for file in &page {
            let Some(key) = file.current_blob_key() else {
                continue;
            };
            if state.blobs.head(&key).await?.is_some() || stored_elsewhere(state, file).await? {
                continue;
            }
            found.missing.push((file.id, key));
        }
    }
    Ok(found)
}

/// Whether a file's content lives in the database with its row, not in the blob store.
pub async fn is_inline(state: &AppState, file: &FileRecord) -> ApiResult<bool> {
    Ok(state
        .meta
        .get_file_with_bucket(file.id)
        .await?
        .is_some_and(|(f, _)| f.inline_content.is_some()))
}

/// Whether a ready file's content is inline in the database or under its pre-fan-out key.
async fn stored_elsewhere(state: &AppState, file: &FileRecord) -> ApiResult<bool> {
    if is_inline(state, file).await? {
        return Ok(true);
    }
    let Some(revision) = file.revision else {
        return Ok(false);
    };
    let legacy = FileRecord::legacy_blob_key(&file.bucket_id, file.id, revision);
    Ok(state.blobs.head(&legacy).await?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_file_in_both_layouts() {
        let id = FileId::new();
        let revision = RevisionId::new();
        let bucket = BucketId("photos".into());
        for key in [
            FileRecord::blob_key(&bucket, id, revision),
            FileRecord::legacy_blob_key(&bucket, id, revision),
        ] {
            assert_eq!(
                parse_key(&key),
                Some((bucket.clone(), id, revision)),
                "{key}"
            );
        }
        let key = FileRecord::blob_key(&bucket, id, revision);
        let rendition = format!("{}0123abcd.webp", crate::images::renditions_of(&key));
        assert_eq!(parse_key(&rendition), Some((bucket.clone(), id, revision)));
        assert_eq!(parse_key("photos/not-an-id/x"), None);
        assert_eq!(parse_key("stray.txt"), None);
    }
}
