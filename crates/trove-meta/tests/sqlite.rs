//! The conformance suite on SQLite, both on disk (as served) and in memory.

use trove_meta::sqlite::SqliteMetaStore;

#[tokio::test]
async fn sqlite_file_database_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/meta.db", dir.path().display());
    let store = SqliteMetaStore::connect(&url).await.unwrap();
    trove_meta::conformance::run_all(&store).await;
    // Reopening runs the migrations again without harm and sees the same data.
    drop(store);
    let again = SqliteMetaStore::connect(&url).await.unwrap();
    assert!(
        again
            .list_buckets()
            .await
            .unwrap()
            .iter()
            .any(|b| b.id.as_str() == "docs")
    );
}

#[tokio::test]
async fn sqlite_in_memory_conforms() {
    let store = SqliteMetaStore::in_memory().await.unwrap();
    trove_meta::conformance::run_all(&store).await;
}

use trove_meta::MetaStore as _;

/// Reads come from a cache when nothing changed; a change committed by another process (another
/// connection to the same file) must still show, within moments, without any write of ours.
#[tokio::test]
async fn commits_of_other_processes_reach_cached_reads() {
    let (_dir, url, store) = store_with_bucket().await;
    let f = trove_meta::conformance::pending_file("b");
    store.insert_file(&f).await.unwrap();
    for _ in 0..3 {
        assert_eq!(store.get_file(f.id).await.unwrap().unwrap().name, f.name);
    }
    let other = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE files SET name = 'renamed.pdf' WHERE id = ?")
        .bind(f.id.to_string())
        .execute(&other)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (file, _) = store.get_file_with_bucket(f.id).await.unwrap().unwrap();
        if file.name == "renamed.pdf" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the change never showed"
        );
        tokio::task::yield_now().await;
    }
}

/// Readers racing a writer: once a write has returned, no read that starts afterwards sees what
/// it replaced, however many reads cached the old row meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returned_write_is_seen_by_every_later_read() {
    let store = std::sync::Arc::new(SqliteMetaStore::in_memory().await.unwrap());
    store
        .ensure_bucket(&trove_meta::conformance::bucket_for_tests("b"))
        .await
        .unwrap();
    let f = trove_meta::conformance::pending_file("b");
    store.insert_file(&f).await.unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    store.get_file(f.id).await.unwrap();
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for i in 0..200 {
        let name = format!("v{i}.pdf");
        let changes = trove_meta::FileChanges {
            name: Some(name.clone()),
            ..Default::default()
        };
        store
            .update_file_fields(f.id, &changes, None, trove_core::time::now())
            .await
            .unwrap();
        assert_eq!(store.get_file(f.id).await.unwrap().unwrap().name, name);
        let (joined, _) = store.get_file_with_bucket(f.id).await.unwrap().unwrap();
        assert_eq!(joined.name, name);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        r.await.unwrap();
    }
}

/// A listing that makes SQLite walk a large table (a name search matching one file among many)
/// outgrows the time a listing may take on a runtime thread; it must still answer, completely.
#[tokio::test]
async fn a_long_listing_still_answers_in_full() {
    let (_dir, url, store) = store_with_bucket().await;
    let bulk = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 199999) \
         INSERT INTO files (id, bucket_id, name, mime_type, size, etag, status, metadata, \
         visibility, access, created_at, updated_at) \
         SELECT printf('%08x-0000-7000-8000-%012x', i, i), 'b', \
         CASE i WHEN 123456 THEN 'the-needle.pdf' ELSE 'hay-' || i || '.pdf' END, \
         'application/pdf', 1, '\"x\"', 'ready', '{}', 'private', 'owner', i, i FROM n",
    )
    .execute(&bulk)
    .await
    .unwrap();
    let query = trove_core::FileQuery::from_params(
        trove_core::ListScope::All,
        &[("q".into(), "NEEDLE".into()), ("limit".into(), "10".into())],
    )
    .unwrap();
    let page = store.list_files(&query).await.unwrap();
    let names: Vec<_> = page.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["the-needle.pdf"]);
    assert_eq!(page.next_cursor, None);
}

/// A store on a fresh database file with bucket `b`; the directory lives as long as the handle.
async fn store_with_bucket() -> (tempfile::TempDir, String, SqliteMetaStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/meta.db", dir.path().display());
    let store = SqliteMetaStore::connect(&url).await.unwrap();
    store
        .ensure_bucket(&trove_meta::conformance::bucket_for_tests("b"))
        .await
        .unwrap();
    (dir, url, store)
}
