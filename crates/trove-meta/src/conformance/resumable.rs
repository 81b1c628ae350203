//! Conformance checks for tus uploads and the listing of unfinished uploads.

use chrono::Duration;
use trove_core::time::now;
use trove_core::{FileId, FileStatus, RevisionId, TenantId, UserId};

use super::{bucket, pending_file};
use crate::{
    MetaError, MetaStore, StoredContent, TusKind, TusUpload, UnfinishedQuery, UploadProtocol,
};

fn tus(id: FileId, kind: TusKind, owner: Option<&str>) -> TusUpload {
    let t = now();
    TusUpload {
        id,
        kind,
        owner: owner.map(|o| UserId(o.into())),
        tenant: Some(TenantId("t1".into())),
        offset: 0,
        length: Some(100),
        metadata: Some("filename cmVwb3J0LnBkZg==".into()),
        fingerprint: Some("fp".into()),
        concat: None,
        final_id: None,
        created_at: t,
        updated_at: t,
    }
}

fn content(revision: RevisionId) -> StoredContent {
    StoredContent {
        revision,
        size: 100,
        mime_type: "application/pdf".into(),
        checksum_sha256: Some("00".repeat(32)),
        etag: "\"x\"".into(),
        inline: None,
    }
}

pub(super) async fn tus_uploads(store: &dyn MetaStore) {
    store.ensure_bucket(&bucket("tus")).await.unwrap();
    let f = pending_file("tus");
    let single = tus(f.id, TusKind::Single, Some("a"));
    store.insert_tus_upload(&single, Some(&f)).await.unwrap();
    assert_eq!(
        store.get_tus_upload(f.id).await.unwrap(),
        Some(single.clone())
    );
    assert_eq!(
        store.get_file(f.id).await.unwrap().unwrap().status,
        FileStatus::UploadPending,
        "the file row comes with the upload"
    );

    // Offsets move only from where they are: of two requests at the same offset one wins.
    let later = now() + Duration::seconds(5);
    assert!(
        store
            .advance_tus_upload(f.id, 0, 40, None, later)
            .await
            .unwrap()
    );
    assert!(
        !store
            .advance_tus_upload(f.id, 0, 60, None, later)
            .await
            .unwrap()
    );
    let got = store.get_tus_upload(f.id).await.unwrap().unwrap();
    assert_eq!((got.offset, got.length), (40, Some(100)));
    assert_eq!(got.updated_at.timestamp_millis(), later.timestamp_millis());
    assert!(
        store
            .expired_uploads(later, later - Duration::seconds(1), 10)
            .await
            .unwrap()
            .iter()
            .all(|e| e.id != f.id),
        "progress is the file's lease too"
    );

    // A deferred length is set once, by the request that knows it.
    let g = pending_file("tus");
    let mut deferred = tus(g.id, TusKind::Single, Some("a"));
    deferred.length = None;
    store.insert_tus_upload(&deferred, Some(&g)).await.unwrap();
    assert!(
        store
            .advance_tus_upload(g.id, 0, 10, None, now())
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_tus_upload(g.id).await.unwrap().unwrap().length,
        None
    );
    assert!(
        store
            .advance_tus_upload(g.id, 10, 20, Some(20), now())
            .await
            .unwrap()
    );
    assert!(
        store
            .get_tus_upload(g.id)
            .await
            .unwrap()
            .unwrap()
            .is_complete()
    );

    // Completing the file ends the upload's resumable state.
    store
        .complete_upload(g.id, &content(g.revision.unwrap()), now())
        .await
        .unwrap();
    assert_eq!(store.get_tus_upload(g.id).await.unwrap(), None);

    // A final upload's record outlives completion (it keeps refusing PATCH).
    let h = pending_file("tus");
    let mut fin = tus(h.id, TusKind::Final, Some("a"));
    fin.offset = 100;
    store.insert_tus_upload(&fin, Some(&h)).await.unwrap();
    store
        .complete_upload(h.id, &content(h.revision.unwrap()), now())
        .await
        .unwrap();
    assert_eq!(
        store.get_tus_upload(h.id).await.unwrap().map(|u| u.kind),
        Some(TusKind::Final)
    );
    store.delete_file(h.id, None).await.unwrap();
    assert_eq!(
        store.get_tus_upload(h.id).await.unwrap(),
        None,
        "it goes with its file"
    );

    // Partial uploads have no file; stale ones are found and removed only while still stale.
    let p = tus(FileId::new(), TusKind::Partial, Some("a"));
    store.insert_tus_upload(&p, None).await.unwrap();
    let cutoff = now() + Duration::seconds(1);
    let stale = store.stale_tus_partials(cutoff, 10).await.unwrap();
    assert!(stale.iter().any(|s| s.id == p.id));
    assert!(
        store
            .stale_tus_partials(p.updated_at - Duration::seconds(1), 10)
            .await
            .unwrap()
            .iter()
            .all(|s| s.id != p.id)
    );
    assert!(
        store
            .advance_tus_upload(p.id, 0, 5, None, cutoff + Duration::seconds(1))
            .await
            .unwrap()
    );
    assert!(
        !store.delete_stale_tus_partial(p.id, cutoff).await.unwrap(),
        "progress since the query keeps it"
    );
    assert_eq!(
        store
            .delete_tus_upload(p.id)
            .await
            .unwrap()
            .map(|u| u.offset),
        Some(5)
    );
    assert_eq!(store.delete_tus_upload(p.id).await.unwrap(), None);

    store.delete_file(f.id, None).await.unwrap();
    assert_eq!(store.get_tus_upload(f.id).await.unwrap(), None);
    store.delete_file(g.id, None).await.unwrap();
}

pub(super) async fn unfinished_listing(store: &dyn MetaStore) {
    store.ensure_bucket(&bucket("unfinished")).await.unwrap();
    store.ensure_bucket(&bucket("unfinished2")).await.unwrap();
    let owner = |f: &mut trove_core::FileRecord, user: &str| {
        f.uploaded_by_user_id = Some(UserId(user.into()));
        f.tenant_id = Some(TenantId("t1".into()));
    };
    let mut ids = Vec::new();
    // Created in this order: tus by u1, direct by u1, tus by u2 in another bucket, a partial by u1.
    let mut a = pending_file("unfinished");
    owner(&mut a, "u1");
    store
        .insert_tus_upload(&tus(a.id, TusKind::Single, Some("u1")), Some(&a))
        .await
        .unwrap();
    ids.push(a.id);
    let mut b = pending_file("unfinished");
    owner(&mut b, "u1");
    b.created_at = a.created_at + Duration::milliseconds(1);
    store.insert_file(&b).await.unwrap();
    let url_expiry = now() + Duration::seconds(60);
    store
        .insert_direct_upload(b.id, url_expiry, Some("fp-direct"), Some(7))
        .await
        .unwrap();
    ids.push(b.id);
    let mut c = pending_file("unfinished2");
    owner(&mut c, "u2");
    c.created_at = a.created_at + Duration::milliseconds(2);
    store
        .insert_tus_upload(&tus(c.id, TusKind::Single, Some("u2")), Some(&c))
        .await
        .unwrap();
    ids.push(c.id);
    let partial = tus(FileId::new(), TusKind::Partial, Some("u1"));
    store.insert_tus_upload(&partial, None).await.unwrap();

    let query = |owner: Option<&str>| UnfinishedQuery {
        uploaded_by: owner.map(|o| UserId(o.into())),
        tenant: owner.map(|_| Some(TenantId("t1".into()))),
        protocol: None,
        fingerprint: None,
        bucket_id: None,
        before: None,
        limit: 100,
        now: now(),
        stale_before: now() - Duration::seconds(60),
    };
    let listed = |q: UnfinishedQuery| async move {
        store
            .unfinished_uploads(&q)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.file.id)
            .filter(|id| [a.id, b.id, c.id, partial.id].contains(id))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed(query(None)).await,
        vec![c.id, b.id, a.id],
        "newest first, partials never"
    );
    assert_eq!(
        listed(query(Some("u1"))).await,
        vec![b.id, a.id],
        "own uploads only"
    );
    let mut other_tenant = query(Some("u1"));
    other_tenant.tenant = Some(Some(TenantId("t2".into())));
    assert!(
        listed(other_tenant).await.is_empty(),
        "a user is (tenant, sub)"
    );

    let mut q = query(Some("u1"));
    q.protocol = Some(UploadProtocol::Direct);
    let direct = store.unfinished_uploads(&q).await.unwrap();
    let d = direct.iter().find(|u| u.file.id == b.id).unwrap();
    assert_eq!(d.protocol, UploadProtocol::Direct);
    assert_eq!((d.offset, d.length), (0, Some(7)));
    assert_eq!(d.fingerprint.as_deref(), Some("fp-direct"));
    assert_eq!(
        d.url_expires_at.map(|t| t.timestamp_millis()),
        Some(url_expiry.timestamp_millis())
    );
    let mut q = query(None);
    q.fingerprint = Some("fp".into());
    assert_eq!(listed(q).await, vec![c.id, a.id]);
    let mut q = query(None);
    q.bucket_id = Some(trove_core::BucketId("unfinished2".into()));
    assert_eq!(listed(q).await, vec![c.id]);
    let mut q = query(None);
    q.before = Some((c.created_at, c.id));
    assert_eq!(listed(q).await, vec![b.id, a.id], "the cursor pages on");

    // Expired uploads are over: tus without progress, direct with a dead URL.
    let mut q = query(None);
    q.stale_before = now() + Duration::seconds(1);
    q.now = url_expiry + Duration::seconds(1);
    assert!(listed(q).await.is_empty());

    // Completed uploads are no longer unfinished.
    store
        .complete_upload(a.id, &content(a.revision.unwrap()), now())
        .await
        .unwrap();
    assert_eq!(listed(query(Some("u1"))).await, vec![b.id]);
    for id in ids {
        store.delete_file(id, None).await.unwrap();
    }
    store.delete_tus_upload(partial.id).await.unwrap();
}

pub(super) async fn final_uploads(store: &dyn MetaStore) {
    store.ensure_bucket(&bucket("finals")).await.unwrap();
    let a = tus(FileId::new(), TusKind::Partial, Some("u"));
    let b = tus(FileId::new(), TusKind::Partial, Some("u"));
    let single_file = pending_file("finals");
    let single = tus(single_file.id, TusKind::Single, Some("u"));
    store.insert_tus_upload(&a, None).await.unwrap();
    store.insert_tus_upload(&b, None).await.unwrap();
    store
        .insert_tus_upload(&single, Some(&single_file))
        .await
        .unwrap();

    // A final upload may only take unlinked partial uploads; a refusal records nothing.
    let refused_file = pending_file("finals");
    let refused = tus(refused_file.id, TusKind::Final, Some("u"));
    assert!(matches!(
        store
            .insert_final_upload(&refused, &refused_file, &[a.id, single.id])
            .await,
        Err(MetaError::Conflict(_))
    ));
    assert_eq!(store.get_tus_upload(refused.id).await.unwrap(), None);
    assert_eq!(store.get_file(refused_file.id).await.unwrap(), None);
    assert_eq!(
        store.get_tus_upload(a.id).await.unwrap().unwrap().final_id,
        None
    );

    let file = pending_file("finals");
    let fin = tus(file.id, TusKind::Final, Some("u"));
    store
        .insert_final_upload(&fin, &file, &[a.id, b.id])
        .await
        .unwrap();
    let mut parts: Vec<FileId> = store
        .parts_of_final(fin.id)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    parts.sort();
    let mut expected = vec![a.id, b.id];
    expected.sort();
    assert_eq!(parts, expected);
    let other_file = pending_file("finals");
    let other = tus(other_file.id, TusKind::Final, Some("u"));
    assert!(
        store
            .insert_final_upload(&other, &other_file, &[b.id])
            .await
            .is_err(),
        "a part belongs to one final upload"
    );

    // A part's progress keeps its final upload alive.
    let later = now() + Duration::seconds(30);
    assert!(
        store
            .advance_tus_upload(a.id, 0, 10, None, later)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_tus_upload(fin.id)
            .await
            .unwrap()
            .unwrap()
            .updated_at
            .timestamp_millis(),
        later.timestamp_millis()
    );
    assert!(
        store
            .expired_uploads(later, later - Duration::seconds(1), 100)
            .await
            .unwrap()
            .iter()
            .all(|e| e.id != fin.id)
    );

    // One claim at a time, and again once it lapsed.
    let t = now();
    let until = t + Duration::seconds(60);
    assert!(store.claim_final(fin.id, t, until).await.unwrap());
    assert!(!store.claim_final(fin.id, t, until).await.unwrap());
    assert!(
        store
            .claim_final(
                fin.id,
                until + Duration::seconds(1),
                until + Duration::seconds(61)
            )
            .await
            .unwrap()
    );
    assert!(
        !store.claim_final(a.id, t, until).await.unwrap(),
        "only final uploads"
    );

    store.delete_file(fin.id, None).await.unwrap();
    store.delete_file(single_file.id, None).await.unwrap();
    store.delete_tus_upload(a.id).await.unwrap();
    store.delete_tus_upload(b.id).await.unwrap();
}
