//! Conformance checks for listings (each backend's SQL against `ListScope::admits`) and for direct
//! uploads and their clean-up.

use trove_core::listing::ListScope;
use trove_core::time::now;
use trove_core::{Access, FileQuery, FileStatus, TenantId, UserId, Visibility};

use super::{bucket, pending_file};
use crate::MetaStore;

pub(super) async fn listings_agree_with_the_scope(store: &dyn MetaStore) {
    store.ensure_bucket(&bucket("scope")).await.unwrap();
    let mut all = Vec::new();
    for owner in ["a", "b"] {
        for tenant in [None, Some("t1"), Some("t2")] {
            for vis in [Visibility::Public, Visibility::Private] {
                for access in [Access::Owner, Access::Tenant] {
                    let mut f = pending_file("scope");
                    f.uploaded_by_user_id = Some(UserId(owner.into()));
                    f.tenant_id = tenant.map(|t| TenantId(t.into()));
                    f.visibility = vis;
                    f.access = access;
                    f.name = format!(
                        "{owner}-{}-{}-{}",
                        tenant.unwrap_or("none"),
                        vis.as_str(),
                        access.as_str()
                    );
                    f.status = FileStatus::Ready;
                    f.is_uploaded = true;
                    store.insert_file(&f).await.unwrap();
                    all.push(f);
                }
            }
        }
    }
    let scopes = [
        ListScope::All,
        ListScope::user(UserId("a".into()), Some(TenantId("t1".into())), false),
        ListScope::user(UserId("b".into()), Some(TenantId("t1".into())), true),
        ListScope::user(UserId("c".into()), Some(TenantId("t2".into())), false),
        ListScope::user(UserId("c".into()), None, false),
        // A `sub` that uploaded in t1 acting without a tenant owns nothing there.
        ListScope::user(UserId("a".into()), None, false),
    ];
    for scope in scopes {
        let params = vec![
            ("bucketId".to_owned(), "scope".to_owned()),
            ("orderBy".to_owned(), "name".to_owned()),
            ("order".to_owned(), "asc".to_owned()),
            ("limit".to_owned(), "5".to_owned()),
        ];
        let mut expected: Vec<String> = all
            .iter()
            .filter(|f| scope.admits(f))
            .map(|f| f.name.clone())
            .collect();
        expected.sort();
        let mut got = Vec::new();
        let mut query = FileQuery::from_params(scope.clone(), &params).unwrap();
        query.count = true;
        loop {
            let page = store.list_files(&query).await.unwrap();
            assert_eq!(page.total_count, Some(expected.len() as u64), "{scope:?}");
            got.extend(page.files.iter().map(|f| f.name.clone()));
            match page.next_cursor {
                Some(c) => query.cursor = Some(trove_core::listing::Cursor::decode(&c).unwrap()),
                None => break,
            }
        }
        assert_eq!(got, expected, "the listing is exactly the scope: {scope:?}");
    }
    for f in all {
        store.delete_file(f.id, None).await.unwrap();
    }
}

pub(super) async fn direct_uploads(store: &dyn MetaStore) {
    store.ensure_bucket(&bucket("direct")).await.unwrap();
    let f = pending_file("direct");
    store.insert_file(&f).await.unwrap();
    let expires = now() + chrono::Duration::seconds(60);
    store
        .insert_direct_upload(f.id, expires, Some("fp-1"), Some(42))
        .await
        .unwrap();
    assert!(store.use_direct_upload(f.id).await.unwrap());
    assert!(!store.use_direct_upload(f.id).await.unwrap(), "single use");
    store.reopen_direct_upload(f.id).await.unwrap();
    assert!(
        store.use_direct_upload(f.id).await.unwrap(),
        "reopened after refused bytes"
    );
    assert!(
        store
            .expired_uploads(now(), now() - chrono::Duration::seconds(60), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let later = expires + chrono::Duration::seconds(1);
    assert!(
        store
            .expired_uploads(later, now() - chrono::Duration::seconds(60), 10)
            .await
            .unwrap()
            .is_empty(),
        "an expired URL whose upload was touched recently is still streaming"
    );
    let expired = store.expired_uploads(later, later, 10).await.unwrap();
    assert_eq!(expired.iter().map(|e| e.id).collect::<Vec<_>>(), vec![f.id]);
    assert!(
        store.touch_upload(f.id, later).await.unwrap(),
        "a lease on a pending upload"
    );
    assert!(
        store
            .expired_uploads(later, later, 10)
            .await
            .unwrap()
            .is_empty(),
        "touched rows are not collected"
    );
    assert!(store.cancel_upload(f.id, now()).await.unwrap());
    assert!(!store.cancel_upload(f.id, now()).await.unwrap());
    assert_eq!(
        store.get_file(f.id).await.unwrap().unwrap().status,
        FileStatus::Cancelled
    );
    // An inline upload interrupted by a crash has no URL; it expires by age.
    let stale = pending_file("direct");
    store.insert_file(&stale).await.unwrap();
    let found = store
        .expired_uploads(now(), now() + chrono::Duration::seconds(1), 10)
        .await
        .unwrap();
    assert!(found.iter().any(|e| e.id == stale.id));
    store.delete_file(f.id, None).await.unwrap();
    store.delete_file(stale.id, None).await.unwrap();
}
