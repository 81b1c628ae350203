//! The conformance suite on PostgreSQL: the server named by `TROVE_TEST_POSTGRES_URL`, each test in
//! a schema of its own. Without it (a developer's machine) the tests pass vacuously; under CI they
//! fail, so the suite can never be skipped there.

use trove_meta::MetaStore as _;
use trove_meta::postgres::{PgMetaStore, PgSettings};

fn database_url() -> Option<String> {
    match std::env::var("TROVE_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the PostgreSQL conformance suite: set TROVE_TEST_POSTGRES_URL"
            );
            None
        }
    }
}

/// A store in a fresh schema of the test server.
pub async fn scratch_store() -> Option<(String, PgMetaStore)> {
    let base = database_url()?;
    let url = trove_meta::postgres::scratch_schema_url(&base);
    let store = PgMetaStore::connect(&url, &PgSettings::default())
        .await
        .expect("PostgreSQL store connects");
    Some((url, store))
}

#[tokio::test]
async fn postgres_conforms() {
    let Some((url, store)) = scratch_store().await else {
        return;
    };
    trove_meta::conformance::run_all(&store).await;
    // Connecting again runs no migration twice and sees the same data.
    drop(store);
    let again = PgMetaStore::connect(&url, &PgSettings::default())
        .await
        .unwrap();
    assert_eq!(again.migrate().await.unwrap(), 0);
    assert!(
        again
            .list_buckets()
            .await
            .unwrap()
            .iter()
            .any(|b| b.id.as_str() == "docs")
    );
}
