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
