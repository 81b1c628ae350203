//! Bucket management.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestApp, Who, error_code, id_of};

#[tokio::test]
async fn default_bucket_exists_with_documented_defaults() {
    let app = TestApp::start().await;
    let res = app
        .get("/v1/buckets/default", &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let b: Value = res.json().await.unwrap();
    assert_eq!(b["id"], "default");
    assert_eq!(b["cacheControl"], "max-age=3600");
    assert_eq!(b["downloadExpiration"], 30);
    assert_eq!(b["minUploadFileSize"], 1);
    assert_eq!(b["maxUploadFileSize"], 50_000_000);
    assert_eq!(b["presignedUrlsEnabled"], true);
    assert_eq!(b["allowedMimeTypes"], json!([]));
    assert_eq!(b["defaultVisibility"], "private");
    let res = app
        .request(
            Method::DELETE,
            "/v1/buckets/default?force=true",
            &Who::Admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 409).await, "conflict");
}

#[tokio::test]
async fn create_read_update_list_delete() {
    let app = TestApp::start().await;
    let created = app
        .create_bucket(json!({"id": "videos", "maxUploadFileSize": 10_000_000_000u64, "allowedMimeTypes": ["video/*"]}))
        .await;
    assert_eq!(
        created["maxUploadFileSize"], 10_000_000_000u64,
        "sizes beyond 4 GiB"
    );
    assert_eq!(created["cacheControl"], "max-age=3600");
    let res = app
        .request(Method::POST, "/v1/buckets", &Who::Admin)
        .json(&json!({"id": "videos"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 409).await, "conflict");

    let res = app
        .request(Method::PATCH, "/v1/buckets/videos", &Who::Admin)
        .json(&json!({"cacheControl": "no-cache", "presignedUrlsEnabled": false, "downloadExpiration": 600}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["cacheControl"], "no-cache");
    assert_eq!(updated["presignedUrlsEnabled"], false);
    assert_eq!(updated["downloadExpiration"], 600);
    assert_eq!(
        updated["allowedMimeTypes"],
        json!(["video/*"]),
        "untouched fields stay"
    );

    let list: Value = app
        .get("/v1/buckets", &Who::Admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["default", "videos"]);

    let res = app
        .request(Method::DELETE, "/v1/buckets/videos", &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app
        .get("/v1/buckets/videos", &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 404).await, "not_found");
    let res = app
        .request(Method::DELETE, "/v1/buckets/videos", &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 404).await, "not_found");
}

#[tokio::test]
async fn invalid_bucket_definitions_are_refused() {
    let app = TestApp::start().await;
    for body in [
        json!({"id": "Bad"}),
        json!({"id": ""}),
        json!({"id": "a".repeat(64)}),
        json!({"id": "ok", "downloadExpiration": 0}),
        json!({"id": "ok", "downloadExpiration": 604_801}),
        json!({"id": "ok", "minUploadFileSize": 10, "maxUploadFileSize": 5}),
        json!({"id": "ok", "allowedMimeTypes": ["images"]}),
        json!({"id": "ok", "defaultVisibility": "world"}),
        json!({"id": "ok", "unknownField": 1}),
        json!({"id": "ok", "maxUploadFileSize": -1}),
    ] {
        let res = app
            .request(Method::POST, "/v1/buckets", &Who::Admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(res, 400).await, "invalid_request", "{body}");
    }
    let res = app
        .request(Method::PATCH, "/v1/buckets/default", &Who::Admin)
        .json(&json!({"downloadExpiration": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
    let res = app
        .request(Method::PATCH, "/v1/buckets/nope", &Who::Admin)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 404).await, "not_found");
}

#[tokio::test]
async fn non_empty_bucket_needs_force_which_removes_files_and_blobs() {
    let app = TestApp::start().await;
    app.create_bucket(json!({"id": "full"})).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(id_of(
            &app.upload(
                &Who::Admin,
                &format!("bucketId=full&name=f{i}.txt"),
                "text/plain",
                "x",
            )
            .await,
        ));
    }
    let res = app
        .request(Method::DELETE, "/v1/buckets/full", &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 409).await, "bucket_not_empty");
    assert_eq!(
        app.get(&format!("/v1/files/{}", ids[0]), &Who::Admin)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let res = app
        .request(Method::DELETE, "/v1/buckets/full?force=true", &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    for id in &ids {
        assert_eq!(
            app.get(&format!("/v1/files/{id}"), &Who::Admin)
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
    }
    let dir = app.data_dir().join("blobs/full");
    let left = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "no blob of the bucket is left");
}
