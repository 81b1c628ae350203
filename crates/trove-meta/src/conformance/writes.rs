//! Conformance checks for writes under concurrency: partial updates, `If-Match` on every write, the
//! deletion queue's per-key backoff, and scoped entity lookups.

use trove_core::listing::ListScope;
use trove_core::time::now;
use trove_core::{FileRecord, RevisionId, TenantId, UserId, Visibility};

use super::{bucket, content, entity, pending_file};
use crate::{FileChanges, MetaError, MetaStore, StoredContent};

pub(super) async fn due_keys(store: &dyn MetaStore) -> Vec<String> {
    store
        .due_blob_deletions(now(), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|q| q.key)
        .collect()
}

/// A ready file in `bucket` owned by u1 in t1.
pub(super) async fn ready_file(store: &dyn MetaStore, bucket_id: &str) -> FileRecord {
    store.ensure_bucket(&bucket(bucket_id)).await.unwrap();
    let f = pending_file(bucket_id);
    store.insert_file(&f).await.unwrap();
    store
        .complete_upload(f.id, &content(f.revision.unwrap(), 3), now())
        .await
        .unwrap()
}

/// Two writers changing different fields of one file both keep their change.
pub(super) async fn updates_touch_only_their_fields(store: &dyn MetaStore) {
    let f = ready_file(store, "fields").await;
    let private = FileChanges {
        visibility: Some(Visibility::Private),
        ..FileChanges::default()
    };
    let public = FileChanges {
        visibility: Some(Visibility::Public),
        ..FileChanges::default()
    };
    store
        .update_file_fields(f.id, &public, None, now())
        .await
        .unwrap();
    // One request reads the public file, another makes it private, then the first renames it.
    store
        .update_file_fields(f.id, &private, None, now())
        .await
        .unwrap();
    let rename = FileChanges {
        name: Some("renamed.pdf".into()),
        ..FileChanges::default()
    };
    let after = store
        .update_file_fields(f.id, &rename, None, now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.name, "renamed.pdf");
    assert_eq!(
        after.visibility,
        Visibility::Private,
        "the rename kept the make-private"
    );
    assert_eq!(after.metadata, f.metadata);
    let cleared = FileChanges {
        category: Some(None),
        ..FileChanges::default()
    };
    assert_eq!(
        store
            .update_file_fields(f.id, &cleared, None, now())
            .await
            .unwrap()
            .unwrap()
            .category,
        None
    );
    store.delete_file(f.id, None).await.unwrap();
}

pub(super) async fn if_match_guards_every_write(store: &dyn MetaStore) {
    let f = ready_file(store, "ifmatch").await;
    let rename = FileChanges {
        name: Some("x.pdf".into()),
        ..FileChanges::default()
    };
    let stale = "\"0000\"";
    assert!(matches!(
        store
            .update_file_fields(f.id, &rename, Some(stale), now())
            .await,
        Err(MetaError::PreconditionFailed)
    ));
    assert_eq!(
        store.get_file(f.id).await.unwrap().unwrap().name,
        f.name,
        "nothing changed"
    );
    assert!(matches!(
        store
            .replace_content(f.id, &content(RevisionId::new(), 9), Some(stale), now())
            .await,
        Err(MetaError::PreconditionFailed)
    ));
    assert!(matches!(
        store.delete_file(f.id, Some(stale)).await,
        Err(MetaError::PreconditionFailed)
    ));
    assert!(store.get_file(f.id).await.unwrap().is_some(), "not deleted");
    let renamed = store
        .update_file_fields(f.id, &rename, Some(&f.etag), now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.name, "x.pdf");
    let other = StoredContent {
        etag: format!("\"{}\"", "cd".repeat(32)),
        ..content(RevisionId::new(), 9)
    };
    let (replaced, old) = store
        .replace_content(f.id, &other, Some("*"), now())
        .await
        .unwrap();
    store.blob_deleted(&old.unwrap()).await.unwrap();
    assert!(
        matches!(
            store.delete_file(f.id, Some(&f.etag)).await,
            Err(MetaError::PreconditionFailed)
        ),
        "the old etag no longer matches after a replacement"
    );
    let (gone, key) = store
        .delete_file(f.id, Some(&replaced.etag))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone.id, f.id);
    store.blob_deleted(&key.unwrap()).await.unwrap();
}

pub(super) async fn failing_deletions_back_off_per_key(store: &dyn MetaStore) {
    for key in due_keys(store).await {
        store.blob_deleted(&key).await.unwrap();
    }
    for key in ["stuck/a/1", "fine/b/2"] {
        store.queue_blob_deletion(key).await.unwrap();
    }
    let stats = store.blob_deletion_stats().await.unwrap();
    assert_eq!(stats.len, 2);
    assert!(stats.oldest.is_some());
    let later = now() + chrono::Duration::seconds(30);
    store
        .blob_deletion_failed("stuck/a/1", later)
        .await
        .unwrap();
    let due = store.due_blob_deletions(now(), 100).await.unwrap();
    assert_eq!(
        due.iter().map(|q| q.key.as_str()).collect::<Vec<_>>(),
        vec!["fine/b/2"]
    );
    let at_retry = store.due_blob_deletions(later, 100).await.unwrap();
    let stuck = at_retry
        .iter()
        .find(|q| q.key == "stuck/a/1")
        .expect("due again later");
    assert_eq!(stuck.attempts, 1);
    for key in ["stuck/a/1", "fine/b/2"] {
        store.blob_deleted(key).await.unwrap();
    }
    assert_eq!(store.blob_deletion_stats().await.unwrap().len, 0);
}

pub(super) async fn entity_files_are_scoped_before_the_limit(store: &dyn MetaStore) {
    store.ensure_bucket(&bucket("entity")).await.unwrap();
    let deal = entity("deal", "shared");
    let mut ids = Vec::new();
    for (owner, tenant) in [
        ("x", "t9"),
        ("x", "t9"),
        ("x", "t9"),
        ("me", "t1"),
        ("me", "t1"),
    ] {
        let mut f = pending_file("entity");
        f.uploaded_by_user_id = Some(UserId(owner.into()));
        f.tenant_id = Some(TenantId(tenant.into()));
        store.insert_file(&f).await.unwrap();
        store.add_association(f.id, &deal, now()).await.unwrap();
        ids.push(f.id);
    }
    let mine = ListScope::user(UserId("me".into()), Some(TenantId("t1".into())), false);
    let first = store.files_of_entity(&deal, &mine, None, 1).await.unwrap();
    assert_eq!(first.len(), 1, "other tenants' files do not fill the page");
    let second = store
        .files_of_entity(&deal, &mine, Some(first[0].id), 1)
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert!(
        store
            .files_of_entity(&deal, &mine, Some(second[0].id), 1)
            .await
            .unwrap()
            .is_empty()
    );
    for f in first.iter().chain(&second) {
        assert_eq!(f.uploaded_by_user_id, Some(UserId("me".into())));
    }
    for id in ids {
        store.delete_file(id, None).await.unwrap();
    }
}
