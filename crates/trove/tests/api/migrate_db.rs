//! `trove migrate-db`: a SQLite database with every kind of row is copied into PostgreSQL, verified,
//! copied again after an interruption, and a server on PostgreSQL then serves exactly what the
//! SQLite one did, unfinished uploads included.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestApp, Who, id_of};

fn migrate_db(data_dir: &std::path::Path, from: &str, to: &str) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trove"))
        .env_clear()
        .env("TROVE_DATA_DIR", data_dir)
        .args(["migrate-db", "--from", from, "--to", to])
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The files and unfinished uploads a server lists, with its own address taken out of the URLs.
async fn snapshot(app_url: &str, key: &str) -> (Value, String) {
    let client = reqwest::Client::new();
    let get = |path: &str| {
        client
            .get(format!("{app_url}{path}"))
            .header("x-trove-admin-key", key)
            .send()
    };
    let files: Value = get("/v1/files?orderBy=name&order=asc&count=true")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uploads = get("/v1/uploads").await.unwrap().text().await.unwrap();
    (files, uploads.replace(app_url, "{base}"))
}

#[tokio::test]
async fn migrate_db_copies_everything_verifies_and_continues_after_an_interruption() {
    let Ok(pg) = std::env::var("TROVE_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the migrate-db test: set TROVE_TEST_POSTGRES_URL"
        );
        return;
    };
    let app = TestApp::builder()
        .sqlite()
        .local_storage()
        .config(|c| c.inline_max_bytes = 1024)
        .start()
        .await;
    let alice = app.user("alice", Some("acme"));
    app.request(Method::POST, "/v1/categories", &Who::Admin)
        .json(&json!({"key": "contracts", "name": "Contracts"}))
        .send()
        .await
        .unwrap();
    let small = app
        .upload(
            &alice,
            "name=small.txt&category=contracts",
            "text/plain",
            "inline bytes",
        )
        .await;
    let big_body = "blob bytes ".repeat(1000);
    let big = app
        .upload(&alice, "name=big.txt", "text/plain", big_body.clone())
        .await;
    app.request(
        Method::POST,
        &format!("/v1/files/{}/associations", id_of(&small)),
        &alice,
    )
    .json(&json!({"entityName": "deal", "entityReference": "42"}))
    .send()
    .await
    .unwrap();
    let res = app
        .request(
            Method::PUT,
            &format!("/v1/files/{}/content", id_of(&big)),
            &alice,
        )
        .header("content-type", "text/plain")
        .body(big_body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .request(Method::POST, "/v1/uploads", &alice)
        .json(&json!({"name": "later.txt", "contentType": "text/plain", "size": 5, "fingerprint": "fp-direct"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = app
        .request(Method::POST, "/v1/tus", &alice)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "11")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let tus_url = res.headers()["location"].to_str().unwrap().to_owned();
    let res = reqwest::Client::new()
        .patch(&tus_url)
        .header(
            "authorization",
            format!("Bearer {}", app.token("alice", Some("acme"), &[])),
        )
        .header("tus-resumable", "1.0.0")
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "0")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let before = snapshot(&app.url, &app.admin_key()).await;
    let tus_path = tus_url.strip_prefix(&app.url).unwrap().to_owned();
    let alice_token = app.token("alice", Some("acme"), &[]);

    let from = app.database_url().to_owned();
    let TestApp { server, dir, .. } = app;
    server.stop().await.unwrap();
    let to = trove_meta::postgres::scratch_schema_url(&pg);
    // A deletion still queued (the server deletes replaced blobs as it goes, so one that kept
    // failing is planted).
    let source = sqlx::SqlitePool::connect(&from).await.unwrap();
    sqlx::query(
        "INSERT INTO blob_deletions (blob_key, created_at, attempts, next_attempt_at) \
         VALUES ('default/aa/bb/stuck/rev', 1700000000000, 3, 1700000600000)",
    )
    .execute(&source)
    .await
    .unwrap();
    source.close().await;

    let (ok, out) = migrate_db(dir.path(), &from, &to);
    assert!(ok, "{out}");
    assert!(
        out.contains("files: 4 rows, 4 copied, 0 already in place, verified"),
        "{out}"
    );
    assert!(!out.contains("DIFFERS"), "{out}");

    // Stopped part-way: the destination lacks some rows. A second run fills them in.
    let dest = sqlx::PgPool::connect(&to).await.unwrap();
    sqlx::query("DELETE FROM files WHERE name = 'small.txt'")
        .execute(&dest)
        .await
        .unwrap();
    sqlx::query("DELETE FROM blob_deletions")
        .execute(&dest)
        .await
        .unwrap();
    let (ok, out) = migrate_db(dir.path(), &from, &to);
    assert!(ok, "{out}");
    assert!(
        out.contains("files: 4 rows, 1 copied, 3 already in place, verified"),
        "{out}"
    );
    assert!(out.contains("blob_deletions: 1 rows, 1 copied"), "{out}");

    // A destination that was changed after the copy is reported, not passed as verified.
    sqlx::query("UPDATE files SET name = 'tampered.txt' WHERE name = 'big.txt'")
        .execute(&dest)
        .await
        .unwrap();
    let (ok, out) = migrate_db(dir.path(), &from, &to);
    assert!(!ok, "{out}");
    assert!(
        out.contains("files: 4 rows, 0 copied, 4 already in place, DIFFERS"),
        "{out}"
    );
    sqlx::query("UPDATE files SET name = 'big.txt' WHERE name = 'tampered.txt'")
        .execute(&dest)
        .await
        .unwrap();

    // A server on PostgreSQL with the same blobs serves what the SQLite one did.
    let data = dir.path().to_path_buf();
    let server = trove_server::server::Server::start({
        let mut c = trove_server::config::Config::for_tests(&data);
        c.database_url = to.clone();
        c.storage_url = format!("file://{}", data.join("blobs").display());
        c
    })
    .await
    .unwrap();
    let key = server.state.config.admin_key.clone().unwrap();
    let after = snapshot(&server.url(), &key).await;
    assert_eq!(after, before);
    let client = reqwest::Client::new();
    for (id, body) in [
        (id_of(&small), "inline bytes".to_owned()),
        (id_of(&big), big_body),
    ] {
        let res = client
            .get(format!("{}/v1/files/{id}/content", server.url()))
            .header("x-trove-admin-key", &key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.unwrap(), body);
    }
    let res = client
        .head(format!("{}{tus_path}", server.url()))
        .bearer_auth(&alice_token)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["upload-offset"],
        "5",
        "the upload goes on where it was"
    );
    server.stop().await.unwrap();
}
