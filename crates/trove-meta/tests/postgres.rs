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
    scratch_store_with(&PgSettings::default()).await
}

async fn scratch_store_with(settings: &PgSettings) -> Option<(String, PgMetaStore)> {
    let base = database_url()?;
    let url = trove_meta::postgres::scratch_schema_url(&base);
    let store = PgMetaStore::connect(&url, settings)
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

/// Every filter and order of `GET /v1/files`, in every kind of scope, has an index to walk: no page
/// of a listing reads the whole `files` table of 200,000 rows.
#[tokio::test]
async fn no_listing_scans_the_whole_files_table() {
    use trove_core::listing::ListScope;
    use trove_core::{FileQuery, TenantId, UserId};
    // Loading the table takes longer than a request's statement may.
    let settings = PgSettings {
        timeout: std::time::Duration::from_secs(300),
        ..PgSettings::default()
    };
    let Some((_, store)) = scratch_store_with(&settings).await else {
        return;
    };
    for b in 0..10 {
        store
            .ensure_bucket(&trove_meta::conformance::bucket_for_tests(&format!("b{b}")))
            .await
            .unwrap();
    }
    sqlx::query(
        "INSERT INTO files (id, bucket_id, name, mime_type, size, etag, status, metadata, \
         visibility, access, category, tenant_id, uploaded_by_user_id, revision, created_at, \
         updated_at) \
         SELECT gen_random_uuid(), 'b' || (i % 10), 'file-' || md5(i::text), \
           (ARRAY['image/png', 'image/jpeg', 'text/plain', 'application/pdf'])[1 + i % 4], \
           i * 37 % 1000000, '\"e\"', \
           CASE WHEN i % 50 = 0 THEN 'upload_pending' ELSE 'ready' END, \
           jsonb_build_object('k', (i % 100)::text, 'n', i % 7), \
           CASE WHEN i % 20 = 0 THEN 'public' ELSE 'private' END, \
           CASE WHEN i % 3 = 0 THEN 'tenant' ELSE 'owner' END, \
           CASE WHEN i % 5 = 0 THEN 'cat' || (i % 4) END, 't' || (i % 200), 'u' || (i % 5000), \
           gen_random_uuid(), now() - make_interval(secs => i), \
           now() - make_interval(secs => i * 7 % 100000) \
         FROM generate_series(1, 200000) i",
    )
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO file_associations (id, file_id, entity_name, entity_reference, created_at) \
         SELECT gen_random_uuid(), id, 'deal', (abs(hashtext(id::text)) % 10000)::text, now() \
         FROM files",
    )
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();

    let scopes = [
        ListScope::All,
        ListScope::user(UserId("u7".into()), Some(TenantId("t7".into())), false),
        ListScope::user(UserId("u7".into()), Some(TenantId("t7".into())), true),
    ];
    let filters: &[&[(&str, &str)]] = &[
        &[],
        &[("bucketId", "b3")],
        &[("category", "cat1")],
        &[("entityName", "deal"), ("entityReference", "42")],
        &[("entityName", "deal")],
        &[("uploadedByUserId", "u7")],
        &[("visibility", "public")],
        &[("access", "tenant")],
        &[("status", "upload_pending")],
        &[("mimeType", "image/png")],
        &[("mimeType", "image/*")],
        &[("q", "abc")],
        &[("createdAfter", "2026-01-01T00:00:00Z")],
        &[("createdBefore", "2026-01-01T00:00:00Z")],
        &[("minSize", "500000")],
        &[("maxSize", "100")],
        &[("metadata.k", "42")],
        &[("metadata.n", "3")],
    ];
    let orders: &[&[(&str, &str)]] = &[
        &[],
        &[("orderBy", "updatedAt")],
        &[("orderBy", "name"), ("order", "asc")],
        &[("orderBy", "size")],
    ];
    let mut checked = 0;
    for scope in &scopes {
        for filter in filters {
            for order in orders {
                let params: Vec<(String, String)> = filter
                    .iter()
                    .chain(order.iter())
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect();
                let q = FileQuery::from_params(scope.clone(), &params).unwrap();
                for plan in store.explain_listing(&q).await.unwrap() {
                    assert!(
                        !plan.contains("Seq Scan on files "),
                        "{params:?} in {scope:?} scans the table:\n{plan}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= scopes.len() * filters.len() * orders.len());
}
