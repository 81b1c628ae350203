//! Conformance checks for writers racing on one row, as two nodes sharing a database do: exactly
//! one wins, the loser gets a clear error, and no revision is left unreferenced and unqueued.

use trove_core::time::now;
use trove_core::{FileRecord, RevisionId};

use super::content;
use super::writes::{due_keys, ready_file};
use crate::{MetaError, MetaStore};

const ROUNDS: usize = 5;

fn key_of(f: &FileRecord, revision: RevisionId) -> String {
    FileRecord::blob_key(&f.bucket_id, f.id, revision)
}

/// Two completions of the same pending upload: one makes it ready, the other is stale.
pub(super) async fn completions_race(store: &dyn MetaStore) {
    store.ensure_bucket(&super::bucket("races")).await.unwrap();
    for _ in 0..ROUNDS {
        let f = super::pending_file("races");
        store.insert_file(&f).await.unwrap();
        let c = content(f.revision.unwrap(), 9);
        let (a, b) = tokio::join!(
            store.complete_upload(f.id, &c, now()),
            store.complete_upload(f.id, &c, now())
        );
        let won = [&a, &b].iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "exactly one completion wins: {a:?} / {b:?}");
        assert!(
            [a, b]
                .into_iter()
                .any(|r| matches!(r, Err(MetaError::Stale(_)))),
            "the other completion is stale"
        );
    }
}

/// Two replacements guarded by the same `If-Match`: one lands, the other fails its precondition,
/// and the replaced revision is queued for deletion exactly once.
pub(super) async fn replacements_race(store: &dyn MetaStore) {
    for _ in 0..ROUNDS {
        let f = ready_file(store, "races").await;
        let (r1, r2) = (RevisionId::new(), RevisionId::new());
        // Etags of their own: each replacement's bytes differ from the file's and each other's.
        let (mut c1, mut c2) = (content(r1, 5), content(r2, 6));
        c1.etag = "\"one\"".into();
        c2.etag = "\"two\"".into();
        let (a, b) = tokio::join!(
            store.replace_content(f.id, &c1, Some(&f.etag), now()),
            store.replace_content(f.id, &c2, Some(&f.etag), now())
        );
        let winner = match (&a, &b) {
            (Ok(_), Err(MetaError::PreconditionFailed)) => r1,
            (Err(MetaError::PreconditionFailed), Ok(_)) => r2,
            other => panic!("one replacement wins, the other fails its If-Match: {other:?}"),
        };
        let row = store.get_file(f.id).await.unwrap().unwrap();
        assert_eq!(
            row.revision,
            Some(winner),
            "the row holds the winner's bytes"
        );
        let old = key_of(&f, f.revision.unwrap());
        let due = due_keys(store).await;
        assert_eq!(
            due.iter().filter(|k| **k == old).count(),
            1,
            "the replaced blob is queued"
        );
        assert!(
            !due.contains(&key_of(&f, winner)),
            "the winner's blob is not queued"
        );
        store.blob_deleted(&old).await.unwrap();
    }
}

/// A replacement racing a deletion: whichever goes first, the file ends deleted, the deletion
/// returns the row it deleted, and every revision that was ever current is queued.
pub(super) async fn replace_races_delete(store: &dyn MetaStore) {
    for _ in 0..ROUNDS {
        let f = ready_file(store, "races").await;
        let new = RevisionId::new();
        let c = content(new, 7);
        let (replaced, deleted) = tokio::join!(
            store.replace_content(f.id, &c, None, now()),
            store.delete_file(f.id, None)
        );
        let (row, key) = deleted
            .expect("the deletion succeeds")
            .expect("the deletion finds the file");
        assert_eq!(row.id, f.id);
        assert_eq!(
            store.get_file(f.id).await.unwrap(),
            None,
            "the file is gone"
        );
        let due = due_keys(store).await;
        let old = key_of(&f, f.revision.unwrap());
        assert!(due.contains(&old), "the first revision is queued");
        match replaced {
            Ok(_) => {
                assert_eq!(
                    key,
                    Some(key_of(&f, new)),
                    "the deletion took the new bytes"
                );
                assert!(due.contains(&key_of(&f, new)), "the new revision is queued");
            }
            Err(MetaError::Stale(_)) => {
                assert_eq!(key, Some(old.clone()), "the deletion took the first bytes");
            }
            Err(e) => panic!("a replacement after a deletion is stale, not {e:?}"),
        }
        for k in due {
            store.blob_deleted(&k).await.unwrap();
        }
    }
}

/// A lease has one holder at a time: renewable by it, taken by another only once lapsed or
/// released, and won by exactly one of several concurrent takers.
pub(super) async fn leases_have_one_holder(store: &dyn MetaStore) {
    let t = now();
    let minute = chrono::Duration::seconds(60);
    assert!(
        store
            .take_lease("clean-up", "a", t, t + minute)
            .await
            .unwrap()
    );
    assert!(
        !store
            .take_lease("clean-up", "b", t, t + minute)
            .await
            .unwrap(),
        "held by a"
    );
    assert!(
        store
            .take_lease("clean-up", "a", t, t + minute)
            .await
            .unwrap(),
        "renewed by its holder"
    );
    let lapsed = t + minute + chrono::Duration::seconds(1);
    assert!(
        store
            .take_lease("clean-up", "b", lapsed, lapsed + minute)
            .await
            .unwrap(),
        "a lapsed lease is anyone's"
    );
    store.release_lease("clean-up", "a").await.unwrap();
    assert!(
        !store
            .take_lease("clean-up", "a", lapsed, lapsed + minute)
            .await
            .unwrap(),
        "releasing another's lease does nothing"
    );
    store.release_lease("clean-up", "b").await.unwrap();
    assert!(
        store
            .take_lease("clean-up", "a", lapsed, lapsed + minute)
            .await
            .unwrap(),
        "a released lease is anyone's"
    );
    for round in 0..ROUNDS {
        let name = format!("race-{round}");
        let take = |holder: &'static str| store.take_lease(&name, holder, t, t + minute);
        let (w, x, y, z) = tokio::join!(take("w"), take("x"), take("y"), take("z"));
        let won = [w, x, y, z]
            .into_iter()
            .filter(|r| *r.as_ref().unwrap())
            .count();
        assert_eq!(won, 1, "exactly one concurrent taker holds the lease");
    }
    leases_lapsed_are_pruned(store).await;
}

/// Whether `holder` has the lease `name` after asking for it at `at` until `until`.
async fn takes(
    store: &dyn MetaStore,
    name: &str,
    holder: &str,
    at: chrono::DateTime<chrono::Utc>,
    until: chrono::DateTime<chrono::Utc>,
) -> bool {
    store.take_lease(name, holder, at, until).await.unwrap()
}

/// Pruning removes lapsed leases only: a live lease keeps its holder, a pruned one is anyone's.
async fn leases_lapsed_are_pruned(store: &dyn MetaStore) {
    let t = now();
    let minute = chrono::Duration::seconds(60);
    assert!(takes(store, "prune-live", "a", t, t + minute).await);
    assert!(
        takes(
            store,
            "prune-lapsed",
            "a",
            t,
            t + chrono::Duration::seconds(1)
        )
        .await
    );
    let later = t + chrono::Duration::seconds(2);
    let pruned = store.prune_leases(later).await.unwrap();
    assert!(pruned >= 1, "the lapsed lease is pruned");
    assert!(
        !takes(store, "prune-live", "b", later, later + minute).await,
        "a live lease survives pruning"
    );
    assert!(
        takes(store, "prune-lapsed", "b", later, later + minute).await,
        "a pruned lease is anyone's"
    );
    assert_eq!(
        store.prune_leases(later).await.unwrap(),
        0,
        "nothing lapsed is left"
    );
}
