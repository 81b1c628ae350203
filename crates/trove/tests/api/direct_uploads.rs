//! Direct uploads: create, PUT to the signed URL, complete, cancel, expiry and clean-up. The tests
//! of Trove's own upload URL run on the local backend; `direct_uploads_s3` covers the store's.

use reqwest::Method;
use serde_json::{Value, json};
use trove_core::FileId;
use trove_server::signing::Grant;

use crate::common::{TestApp, Who, error_code, id_of};
use crate::database::Database;

async fn create(app: &TestApp, who: &Who, body: Value) -> reqwest::Response {
    app.request(Method::POST, "/v1/uploads", who)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn put(url: &str, body: &'static str) -> reqwest::Response {
    reqwest::Client::new()
        .put(url)
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn create_put_complete() {
    let app = TestApp::builder().local_storage().start().await;
    let owner = app.user("u1", Some("t1"));
    let res = create(&app, &owner, json!({"name": "report.txt", "contentType": "text/plain", "size": 11, "metadata": {"k": 1}, "associations": [{"entityName": "deal", "entityReference": "42"}]})).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let file = &body["file"];
    assert_eq!(file["status"], "upload_pending");
    assert_eq!(file["isUploaded"], false);
    assert_eq!(file["associations"][0]["entityReference"], "42");
    let upload = &body["upload"];
    assert_eq!(upload["method"], "PUT");
    assert_eq!(upload["headers"]["Content-Type"], "text/plain");
    assert!(upload["expiresAt"].is_string());
    let url = upload["url"].as_str().unwrap().to_owned();
    let id = id_of(file);
    assert!(url.starts_with(&format!("{}/v1/uploads/{id}?token=", app.url)));

    // Pending files are invisible to listings unless asked for.
    let listed: Value = app
        .get("/v1/files", &owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["files"].as_array().unwrap().len(), 0);
    let pending: Value = app
        .get("/v1/files?status=upload_pending", &owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pending["files"].as_array().unwrap().len(), 1);

    let res = put(&url, "hello world").await;
    assert_eq!(res.status(), 200);
    let ready: Value = res.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["size"], 11);
    assert_eq!(
        ready["uploadedByUserId"],
        Value::Null,
        "whoever holds the URL sees the file as an anonymous caller"
    );
    assert_eq!(
        error_code(put(&url, "again").await, 409).await,
        "conflict",
        "single use"
    );
    let res = app
        .request(Method::POST, &format!("/v1/uploads/{id}/complete"), &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "complete is harmless after a PUT to Trove"
    );
    let completed: Value = res.json().await.unwrap();
    assert_eq!(completed["etag"], ready["etag"]);
    let res = app
        .get(&format!("/v1/files/{id}/content"), &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "hello world");
    let res = app
        .request(Method::DELETE, &format!("/v1/uploads/{id}"), &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, 409).await,
        "conflict",
        "a completed upload cannot be cancelled"
    );
}

#[tokio::test]
async fn rules_are_checked_at_creation_and_on_the_bytes() {
    let app = TestApp::builder().local_storage().start().await;
    app.create_bucket(
        json!({"id": "small", "maxUploadFileSize": 5, "allowedMimeTypes": ["text/*"]}),
    )
    .await;
    let who = app.user("u1", None);
    let res = create(
        &app,
        &who,
        json!({"name": "a.txt", "contentType": "text/plain", "size": 6, "bucketId": "small"}),
    )
    .await;
    assert_eq!(error_code(res, 413).await, "file_too_large");
    let res = create(
        &app,
        &who,
        json!({"name": "a.png", "contentType": "image/png", "bucketId": "small"}),
    )
    .await;
    assert_eq!(error_code(res, 415).await, "mime_type_not_allowed");
    let res = create(
        &app,
        &who,
        json!({"name": "a.txt", "contentType": "text/plain", "category": "nope"}),
    )
    .await;
    assert_eq!(error_code(res, 400).await, "unknown_category");
    assert_eq!(
        create(
            &app,
            &Who::Anonymous,
            json!({"name": "a", "contentType": "text/plain"})
        )
        .await
        .status(),
        401
    );

    let body: Value = create(
        &app,
        &who,
        json!({"name": "a.txt", "contentType": "text/plain", "bucketId": "small"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let url = body["upload"]["url"].as_str().unwrap();
    assert_eq!(
        error_code(put(url, "too long").await, 413).await,
        "file_too_large"
    );
    let res = reqwest::Client::new()
        .put(url)
        .header("content-type", "text/plain")
        .body("<svg>")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, 415).await,
        "mime_type_not_allowed",
        "detected from the bytes"
    );
    assert_eq!(
        put(url, "fine").await.status(),
        200,
        "a refused PUT can be retried"
    );
}

#[tokio::test]
async fn cancel_removes_the_bytes_and_keeps_a_cancelled_row() {
    let app = TestApp::builder().local_storage().start().await;
    let who = app.user("u1", None);
    let body: Value = create(
        &app,
        &who,
        json!({"name": "a.txt", "contentType": "text/plain"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = id_of(&body["file"]);
    let url = body["upload"]["url"].as_str().unwrap().to_owned();
    let res = app
        .request(
            Method::DELETE,
            &format!("/v1/uploads/{id}"),
            &app.user("u2", None),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 404).await, "not_found");
    let res = app
        .request(Method::DELETE, &format!("/v1/uploads/{id}"), &who)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let file: Value = app
        .get(&format!("/v1/files/{id}"), &who)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(file["status"], "cancelled");
    assert_eq!(error_code(put(&url, "late").await, 409).await, "conflict");
    let res = app
        .request(Method::POST, &format!("/v1/uploads/{id}/complete"), &who)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 409).await, "conflict");
}

#[tokio::test]
async fn tampered_and_expired_upload_urls() {
    let app = TestApp::builder().local_storage().start().await;
    let who = app.user("u1", None);
    let body: Value = create(
        &app,
        &who,
        json!({"name": "a.txt", "contentType": "text/plain"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = id_of(&body["file"]);
    let url = body["upload"]["url"].as_str().unwrap().to_owned();
    assert_eq!(
        error_code(put(&url.replacen("token=", "token=1", 1), "x").await, 403).await,
        "invalid_signature"
    );
    let other: Value = create(
        &app,
        &who,
        json!({"name": "b.txt", "contentType": "text/plain"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let foreign = url.replace(&id, &id_of(&other["file"]));
    assert_eq!(
        error_code(put(&foreign, "x").await, 403).await,
        "invalid_signature"
    );
    let file = app
        .server
        .state
        .meta
        .get_file(FileId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let token = app.server.state.signer.sign(
        file.id,
        file.revision.unwrap(),
        Grant::Upload,
        chrono::Utc::now().timestamp() - 1,
    );
    assert_eq!(
        error_code(
            put(&format!("{}/v1/uploads/{id}?token={token}", app.url), "x").await,
            410
        )
        .await,
        "url_expired"
    );
    // A download token is no upload token.
    let download = app.server.state.signer.sign(
        file.id,
        file.revision.unwrap(),
        Grant::Download { attachment: false },
        chrono::Utc::now().timestamp() + 60,
    );
    assert_eq!(
        error_code(
            put(
                &format!("{}/v1/uploads/{id}?token={download}", app.url),
                "x"
            )
            .await,
            403
        )
        .await,
        "invalid_signature"
    );
}

#[tokio::test]
async fn complete_verifies_bytes_stored_elsewhere() {
    let app = TestApp::start().await;
    let who = app.user("u1", None);
    let body: Value = create(
        &app,
        &who,
        json!({"name": "a.txt", "contentType": "text/plain"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = id_of(&body["file"]);
    let res = app
        .request(Method::POST, &format!("/v1/uploads/{id}/complete"), &who)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, 409).await,
        "conflict",
        "nothing uploaded yet"
    );
    // Bytes that reached the store without passing through Trove (as with an S3 presigned PUT).
    let file = app
        .server
        .state
        .meta
        .get_file(FileId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut w = app
        .server
        .state
        .blobs
        .writer(&file.current_blob_key().unwrap())
        .await
        .unwrap();
    w.write(bytes::Bytes::from_static(b"stored elsewhere"))
        .await
        .unwrap();
    w.finish().await.unwrap();
    let res = app
        .request(Method::POST, &format!("/v1/uploads/{id}/complete"), &who)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ready: Value = res.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["size"], 16);
    let again = app
        .request(Method::POST, &format!("/v1/uploads/{id}/complete"), &who)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "idempotent");
}

#[tokio::test]
async fn expired_uploads_are_collected() {
    let app = TestApp::builder()
        .config(|c| c.upload_expiry_secs = 1)
        .start()
        .await;
    let who = app.user("u1", None);
    let pending: Value = create(
        &app,
        &who,
        json!({"name": "a.txt", "contentType": "text/plain"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let pending_id = id_of(&pending["file"]);
    let cancelled: Value = create(
        &app,
        &who,
        json!({"name": "b.txt", "contentType": "text/plain"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let cancelled_id = id_of(&cancelled["file"]);
    app.request(Method::DELETE, &format!("/v1/uploads/{cancelled_id}"), &who)
        .send()
        .await
        .unwrap();
    let done = app.upload(&who, "name=c.txt", "text/plain", "x").await;
    // Move the upload windows, and the last touch of each pending row, into the past instead of
    // waiting for them to close.
    Database::of(&app)
        .await
        .execute(
            "UPDATE direct_uploads SET expires_at = expires_at - 10000000; \
             UPDATE files SET updated_at = updated_at - 10000000 WHERE status <> 'ready'",
            "UPDATE direct_uploads SET expires_at = expires_at - interval '10000 seconds'; \
             UPDATE files SET updated_at = updated_at - interval '10000 seconds' \
             WHERE status <> 'ready'",
        )
        .await;
    let (removed, _) = trove_server::service::uploads::collect_garbage(&app.server.state)
        .await
        .unwrap();
    assert_eq!(removed, 2);
    for id in [&pending_id, &cancelled_id] {
        assert_eq!(
            app.get(&format!("/v1/files/{id}"), &who)
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
    }
    assert_eq!(
        app.get(&format!("/v1/files/{}", id_of(&done)), &who)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
