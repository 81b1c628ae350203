//! Contents kept in the metadata store: they travel with the row they belong to, come back only
//! with the read that serves content, and never leave a blob key to delete.

use bytes::Bytes;
use trove_core::time::now;
use trove_core::{FileStatus, RevisionId};

use super::{bucket, content, pending_file};
use crate::MetaStore;

async fn inline_of(store: &dyn MetaStore, f: &trove_core::FileRecord) -> Option<Bytes> {
    let (got, _) = store
        .get_file_with_bucket(f.id)
        .await
        .unwrap()
        .expect("file is there");
    got.inline_content
}

pub(super) async fn inline_contents(store: &dyn MetaStore) {
    store.ensure_bucket(&bucket("inline")).await.unwrap();
    let queued_before = store.blob_deletion_stats().await.unwrap().len;
    let bytes = Bytes::from_static(b"small enough to keep with the row");

    // A ready row inserted with its bytes in one write.
    let mut f = pending_file("inline");
    f.status = FileStatus::Ready;
    f.is_uploaded = true;
    f.size = bytes.len() as u64;
    f.inline_content = Some(bytes.clone());
    store.insert_file(&f).await.expect("insert with content");
    assert_eq!(inline_of(store, &f).await, Some(bytes.clone()));
    let plain = store.get_file(f.id).await.unwrap().expect("stored");
    assert_eq!(plain.inline_content, None, "metadata reads leave the bytes");
    let mut without = f.clone();
    without.inline_content = None;
    assert_eq!(plain, without, "the rest of the row round-trips");

    // Replaced by blob content: the inline revision had no blob to delete, and its bytes go.
    let blob = content(RevisionId::new(), 9);
    let (_, old) = store
        .replace_content(f.id, &blob, None, now())
        .await
        .unwrap();
    assert_eq!(old, None, "an inline revision leaves no blob key");
    assert_eq!(inline_of(store, &f).await, None);

    // Replaced by inline content: the blob revision is queued for deletion.
    let next = content(RevisionId::new(), 3).with_inline(Bytes::from_static(b"new"));
    let (_, old) = store
        .replace_content(f.id, &next, None, now())
        .await
        .unwrap();
    assert!(
        old.is_some(),
        "the blob revision is handed back for deletion"
    );
    store.blob_deleted(&old.unwrap()).await.unwrap();
    assert_eq!(inline_of(store, &f).await, Some(Bytes::from_static(b"new")));

    // Deleting the file takes its bytes along and hands back no key.
    let (gone, key) = store
        .delete_file(f.id, None)
        .await
        .unwrap()
        .expect("deleted");
    assert_eq!(gone.id, f.id);
    assert_eq!(key, None, "nothing to delete in the blob store");
    assert_eq!(store.get_file_with_bucket(f.id).await.unwrap(), None);

    // A pending upload completed with its bytes inline.
    let p = pending_file("inline");
    store.insert_file(&p).await.unwrap();
    assert_eq!(inline_of(store, &p).await, None);
    let c = content(p.revision.unwrap(), 5).with_inline(Bytes::from_static(b"hello"));
    let ready = store.complete_upload(p.id, &c, now()).await.unwrap();
    assert_eq!(ready.status, FileStatus::Ready);
    assert_eq!(
        inline_of(store, &p).await,
        Some(Bytes::from_static(b"hello"))
    );
    let (_, key) = store
        .delete_file(p.id, None)
        .await
        .unwrap()
        .expect("deleted");
    assert_eq!(key, None);
    assert_eq!(
        store.blob_deletion_stats().await.unwrap().len,
        queued_before,
        "inline contents never enter the deletion queue"
    );
}
