//! Storage failures: internal detail never reaches the client, and a blob that cannot be deleted is
//! recorded for clean-up rather than forgotten.

use reqwest::Method;
use serde_json::Value;

use crate::common::{TestApp, Who, id_of};
use crate::database::Database;

#[tokio::test]
async fn a_500_hides_internal_detail_and_carries_a_request_id() {
    let app = TestApp::builder()
        .blobs_only()
        .local_storage()
        .start()
        .await;
    // The blob folder disappears under the running server.
    std::fs::remove_dir_all(app.data_dir().join("blobs")).unwrap();
    let res = app
        .request(Method::POST, "/v1/files?name=a.txt", &Who::Admin)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    assert!(res.headers().contains_key("x-request-id"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "internal");
    assert_eq!(body["error"]["message"], "internal server error");
    let text = body.to_string();
    assert!(
        !text.contains("blobs") && !text.contains("No such file"),
        "{text}"
    );
}

#[tokio::test]
async fn a_blob_that_cannot_be_deleted_is_queued_and_swept_later() {
    let app = TestApp::builder()
        .blobs_only()
        .local_storage()
        .start()
        .await;
    let file = app
        .upload(&Who::Admin, "name=a.txt", "text/plain", "x")
        .await;
    let id = id_of(&file);
    // Make the blob undeletable as a file: replace it with a non-empty directory.
    let dir = crate::common::file_folder(&app, "default", &id);
    let blob = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(&blob).unwrap();
    std::fs::create_dir_all(blob.join("inner")).unwrap();

    let res = app
        .request(Method::DELETE, &format!("/v1/files/{id}"), &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        204,
        "the file is deleted even though its blob is not yet"
    );
    let db = Database::of(&app).await;
    let queued = db.texts("SELECT blob_key FROM blob_deletions").await;
    assert_eq!(queued.len(), 1);
    assert!(queued[0].starts_with("default/") && queued[0].contains(&format!("/{id}/")));

    // Once storage cooperates again, the sweep deletes it and empties the queue.
    std::fs::remove_dir_all(&blob).unwrap();
    std::fs::write(&blob, b"x").unwrap();
    let swept = trove_server::service::files::sweep_blob_deletions(&app.server.state)
        .await
        .unwrap();
    assert_eq!(swept, 1);
    assert!(!blob.exists());
    let left = db.count("SELECT COUNT(*) FROM blob_deletions").await;
    assert_eq!(left, 0);
}
