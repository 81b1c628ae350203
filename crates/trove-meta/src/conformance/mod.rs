//! The behaviour every [`MetaStore`] implementation must show. Each backend's tests call [`run_all`]
//! on a fresh, empty store; failures panic with the name of the broken expectation.

use trove_core::listing::ListScope;
use trove_core::time::now;
use trove_core::{
    Access, Bucket, BucketId, Category, EntityRef, FileId, FileRecord, FileStatus, NewBucket,
    NewCategory, RevisionId, TenantId, UserId, Visibility,
};

use crate::{FileChanges, MetaError, MetaStore, StoredContent};

mod inline;
mod races;
mod resumable;
mod uploads;
mod writes;
use uploads::{direct_uploads, listings_agree_with_the_scope};
use writes::{
    due_keys, entity_files_are_scoped_before_the_limit, failing_deletions_back_off_per_key,
    if_match_guards_every_write, updates_touch_only_their_fields,
};

/// Runs every check against an empty store.
pub async fn run_all(store: &dyn MetaStore) {
    store.ping().await.expect("ping");
    buckets(store).await;
    file_lifecycle(store).await;
    replace_and_delete_queue_old_blobs(store).await;
    bucket_with_files_cannot_be_deleted(store).await;
    large_sizes_round_trip(store).await;
    usage_counts_every_file_and_the_bytes_of_ready_ones(store).await;
    associations(store).await;
    categories(store).await;
    listings_agree_with_the_scope(store).await;
    direct_uploads(store).await;
    updates_touch_only_their_fields(store).await;
    if_match_guards_every_write(store).await;
    failing_deletions_back_off_per_key(store).await;
    entity_files_are_scoped_before_the_limit(store).await;
    resumable::tus_uploads(store).await;
    resumable::unfinished_listing(store).await;
    resumable::final_uploads(store).await;
    inline::inline_contents(store).await;
    races::completions_race(store).await;
    races::replacements_race(store).await;
    races::replace_races_delete(store).await;
    races::leases_have_one_holder(store).await;
}

/// A bucket with default rules.
pub fn bucket_for_tests(id: &str) -> Bucket {
    bucket(id)
}

pub(crate) fn bucket(id: &str) -> Bucket {
    Bucket::create(
        NewBucket {
            id: id.into(),
            ..NewBucket::default()
        },
        now(),
    )
    .expect("valid bucket")
}

/// A pending file row as an upload creates it.
pub fn pending_file(bucket: &str) -> FileRecord {
    let t = now();
    FileRecord {
        id: FileId::new(),
        bucket_id: BucketId(bucket.into()),
        name: "report.pdf".into(),
        mime_type: "application/pdf".into(),
        size: 0,
        etag: String::new(),
        is_uploaded: false,
        status: FileStatus::UploadPending,
        metadata: serde_json::json!({"k": "v"}),
        visibility: Visibility::Private,
        access: Access::Owner,
        tenant_id: Some(TenantId("t1".into())),
        uploaded_by_user_id: Some(UserId("u1".into())),
        checksum_sha256: None,
        category: None,
        associations: Vec::new(),
        created_at: t,
        updated_at: t,
        revision: Some(RevisionId::new()),
        status_reason: None,
        inline_content: None,
    }
}

pub(crate) fn content(revision: RevisionId, size: u64) -> StoredContent {
    StoredContent {
        revision,
        size,
        mime_type: "application/pdf".into(),
        checksum_sha256: Some("ab".repeat(32)),
        etag: format!("\"{}\"", "ab".repeat(32)),
        inline: None,
    }
}

async fn buckets(store: &dyn MetaStore) {
    let b = bucket("photos");
    store.insert_bucket(&b).await.expect("insert bucket");
    assert!(
        matches!(store.insert_bucket(&b).await, Err(MetaError::Conflict(_))),
        "duplicate bucket is a conflict"
    );
    store.ensure_bucket(&b).await.expect("ensure is idempotent");
    assert_eq!(store.get_bucket(&b.id).await.unwrap(), Some(b.clone()));
    let mut changed = b.clone();
    changed.allowed_mime_types = vec!["image/*".into()];
    changed.max_upload_file_size = 7;
    changed.min_upload_file_size = 1;
    assert!(store.update_bucket(&changed).await.unwrap());
    assert_eq!(store.get_bucket(&b.id).await.unwrap(), Some(changed));
    assert!(
        store
            .list_buckets()
            .await
            .unwrap()
            .iter()
            .any(|x| x.id == b.id),
        "listed"
    );
    assert!(store.delete_bucket(&b.id).await.unwrap());
    assert!(
        !store.delete_bucket(&b.id).await.unwrap(),
        "second delete finds nothing"
    );
    assert_eq!(store.get_bucket(&b.id).await.unwrap(), None);
    assert!(!store.update_bucket(&bucket("ghost")).await.unwrap());
}

async fn file_lifecycle(store: &dyn MetaStore) {
    store.ensure_bucket(&bucket("docs")).await.unwrap();
    let f = pending_file("docs");
    store.insert_file(&f).await.expect("insert file");
    let got = store.get_file(f.id).await.unwrap().expect("stored");
    assert_eq!(got, f, "pending row round-trips");
    assert!(!got.is_uploaded);

    let c = content(f.revision.unwrap(), 42);
    let ready = store
        .complete_upload(f.id, &c, now())
        .await
        .expect("complete");
    assert_eq!(ready.status, FileStatus::Ready);
    assert!(ready.is_uploaded);
    assert_eq!(ready.size, 42);
    assert_eq!(ready.etag, c.etag);
    assert!(
        matches!(
            store.complete_upload(f.id, &c, now()).await,
            Err(MetaError::Stale(_))
        ),
        "completing twice is stale"
    );

    let mut renamed = ready.clone();
    renamed.name = "new.pdf".into();
    renamed.metadata = serde_json::json!({"a": [1, 2]});
    renamed.visibility = Visibility::Public;
    renamed.access = Access::Tenant;
    renamed.updated_at = now();
    let changes = FileChanges {
        name: Some(renamed.name.clone()),
        metadata: Some(renamed.metadata.clone()),
        visibility: Some(renamed.visibility),
        access: Some(renamed.access),
        category: None,
    };
    let returned = store
        .update_file_fields(f.id, &changes, None, renamed.updated_at)
        .await
        .unwrap();
    assert_eq!(
        returned.as_ref(),
        Some(&renamed),
        "the update returns the row"
    );
    assert_eq!(store.get_file(f.id).await.unwrap(), Some(renamed));
    assert_eq!(
        store
            .update_file_fields(FileId::new(), &changes, None, now())
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get_file(FileId::new()).await.unwrap(), None);
    let (joined, its_bucket) = store
        .get_file_with_bucket(f.id)
        .await
        .unwrap()
        .expect("joined");
    assert_eq!(Some(joined), store.get_file(f.id).await.unwrap());
    assert_eq!(
        Some(its_bucket),
        store.get_bucket(&f.bucket_id).await.unwrap()
    );
    assert_eq!(
        store.get_file_with_bucket(FileId::new()).await.unwrap(),
        None
    );

    let page = store
        .files_in_bucket(&BucketId("docs".into()), None, 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    let after = store
        .files_in_bucket(&BucketId("docs".into()), Some(f.id), 10)
        .await
        .unwrap();
    assert!(after.is_empty(), "paging after the last id is empty");
}

async fn replace_and_delete_queue_old_blobs(store: &dyn MetaStore) {
    store.ensure_bucket(&bucket("docs")).await.unwrap();
    let f = pending_file("docs");
    store.insert_file(&f).await.unwrap();
    let first = f.revision.unwrap();
    store
        .complete_upload(f.id, &content(first, 1), now())
        .await
        .unwrap();
    let old_key = FileRecord::blob_key(&f.bucket_id, f.id, first);

    let second = RevisionId::new();
    let (updated, replaced) = store
        .replace_content(f.id, &content(second, 2), None, now())
        .await
        .unwrap();
    assert_eq!(replaced.as_deref(), Some(old_key.as_str()));
    assert_eq!(updated.revision, Some(second));
    assert_eq!(updated.size, 2);
    assert_eq!(due_keys(store).await, vec![old_key.clone()]);
    store.blob_deleted(&old_key).await.unwrap();
    assert!(due_keys(store).await.is_empty());

    let (deleted, key) = store
        .delete_file(f.id, None)
        .await
        .unwrap()
        .expect("deleted");
    assert_eq!(deleted, updated, "a delete returns what it deleted");
    let new_key = FileRecord::blob_key(&f.bucket_id, f.id, second);
    assert_eq!(key.as_deref(), Some(new_key.as_str()));
    assert_eq!(due_keys(store).await, vec![new_key.clone()]);
    assert!(store.delete_file(f.id, None).await.unwrap().is_none());
    assert!(
        matches!(
            store
                .replace_content(f.id, &content(RevisionId::new(), 1), None, now())
                .await,
            Err(MetaError::Stale(_))
        ),
        "replacing a deleted file is stale"
    );
    store
        .queue_blob_deletion(&new_key)
        .await
        .expect("queueing twice is harmless");
    store.blob_deleted(&new_key).await.unwrap();
}

async fn bucket_with_files_cannot_be_deleted(store: &dyn MetaStore) {
    store.ensure_bucket(&bucket("full")).await.unwrap();
    let f = pending_file("full");
    store.insert_file(&f).await.unwrap();
    assert!(store.bucket_has_files(&f.bucket_id).await.unwrap());
    assert!(matches!(
        store.delete_bucket(&f.bucket_id).await,
        Err(MetaError::Conflict(_))
    ));
    store.delete_file(f.id, None).await.unwrap();
    assert!(!store.bucket_has_files(&f.bucket_id).await.unwrap());
    assert!(store.delete_bucket(&f.bucket_id).await.unwrap());
}

async fn large_sizes_round_trip(store: &dyn MetaStore) {
    store.ensure_bucket(&bucket("big")).await.unwrap();
    let f = pending_file("big");
    store.insert_file(&f).await.unwrap();
    let size = 10 * (1u64 << 30);
    let ready = store
        .complete_upload(f.id, &content(f.revision.unwrap(), size), now())
        .await
        .unwrap();
    assert_eq!(ready.size, size, "sizes over 4 GiB survive");
}

async fn usage_counts_every_file_and_the_bytes_of_ready_ones(store: &dyn MetaStore) {
    store.ensure_bucket(&bucket("usage")).await.unwrap();
    store.ensure_bucket(&bucket("usage-empty")).await.unwrap();
    let of = |all: Vec<crate::BucketUsage>, id: &str| {
        all.into_iter()
            .find(|u| u.bucket_id.as_str() == id)
            .map(|u| (u.files, u.bytes))
    };
    for size in [5u64 << 30, 7] {
        let f = pending_file("usage");
        store.insert_file(&f).await.unwrap();
        store
            .complete_upload(f.id, &content(f.revision.unwrap(), size), now())
            .await
            .unwrap();
    }
    // A pending upload is a file of the bucket, but its bytes are not there yet.
    let pending = pending_file("usage");
    store.insert_file(&pending).await.unwrap();
    let usage = store.bucket_usage().await.unwrap();
    assert_eq!(
        of(usage.clone(), "usage"),
        Some((3, (5u64 << 30) + 7)),
        "usage of a bucket"
    );
    assert_eq!(of(usage, "usage-empty"), None, "an empty bucket has no row");
    // Gone again, so that the checks of stale uploads see only their own.
    store.delete_file(pending.id, None).await.unwrap();
    let usage = store.bucket_usage().await.unwrap();
    assert_eq!(
        of(usage, "usage"),
        Some((2, (5u64 << 30) + 7)),
        "usage after a delete"
    );
}

pub(crate) fn entity(name: &str, reference: &str) -> EntityRef {
    EntityRef {
        entity_name: name.into(),
        entity_reference: reference.into(),
    }
}

async fn associations(store: &dyn MetaStore) {
    store.ensure_bucket(&bucket("assoc")).await.unwrap();
    let mut f = pending_file("assoc");
    f.associations = vec![trove_core::Association {
        id: uuid::Uuid::now_v7(),
        file_id: f.id,
        entity_name: "deal".into(),
        entity_reference: "1".into(),
        created_at: now(),
    }];
    store.insert_file(&f).await.unwrap();
    let got = store.get_file(f.id).await.unwrap().unwrap();
    assert_eq!(
        got.associations.len(),
        1,
        "associations are inserted with the file"
    );
    let (a, new) = store
        .add_association(f.id, &entity("deal", "2"), now())
        .await
        .unwrap();
    assert!(new);
    let (again, new) = store
        .add_association(f.id, &entity("deal", "2"), now())
        .await
        .unwrap();
    assert!(!new, "the same pair is not added twice");
    assert_eq!(again.id, a.id);
    assert_eq!(
        store
            .get_file(f.id)
            .await
            .unwrap()
            .unwrap()
            .associations
            .len(),
        2
    );
    assert_eq!(
        store
            .files_of_entity(&entity("deal", "2"), &ListScope::All, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .unlink_entity(&entity("deal", "2"), &[f.id])
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .files_of_entity(&entity("deal", "2"), &ListScope::All, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let first = store.get_file(f.id).await.unwrap().unwrap().associations[0].id;
    assert!(store.delete_association(f.id, first).await.unwrap());
    assert!(!store.delete_association(f.id, first).await.unwrap());
    store
        .add_association(f.id, &entity("deal", "3"), now())
        .await
        .unwrap();
    store.delete_file(f.id, None).await.unwrap();
    assert!(
        store
            .files_of_entity(&entity("deal", "3"), &ListScope::All, None, 10)
            .await
            .unwrap()
            .is_empty(),
        "associations go with their file"
    );
}

async fn categories(store: &dyn MetaStore) {
    store.ensure_bucket(&bucket("cats")).await.unwrap();
    let c = Category::create(
        NewCategory {
            key: "invoices".into(),
            bucket_id: Some("cats".into()),
            max_size: Some(10),
            allowed_mime_types: Some(vec!["application/pdf".into()]),
            default_access: Some(Access::Tenant),
            ..NewCategory::default()
        },
        now(),
    )
    .unwrap();
    store.insert_category(&c).await.unwrap();
    assert!(matches!(
        store.insert_category(&c).await,
        Err(MetaError::Conflict(_))
    ));
    assert_eq!(
        store.get_category("invoices").await.unwrap(),
        Some(c.clone())
    );
    let mut changed = c.clone();
    changed.max_size = None;
    assert!(store.update_category(&changed).await.unwrap());
    assert_eq!(store.list_categories().await.unwrap(), vec![changed]);
    let mut f = pending_file("cats");
    f.category = Some("invoices".into());
    store.insert_file(&f).await.unwrap();
    assert!(matches!(
        store.delete_category("invoices", false).await,
        Err(MetaError::Conflict(_))
    ));
    assert!(store.delete_category("invoices", true).await.unwrap());
    assert_eq!(
        store.get_file(f.id).await.unwrap().unwrap().category,
        None,
        "force clears it"
    );
    assert!(!store.delete_category("invoices", true).await.unwrap());
    store.delete_file(f.id, None).await.unwrap();
}
