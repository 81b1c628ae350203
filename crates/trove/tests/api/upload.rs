//! Uploads: raw and multipart, limits, MIME rules, names, metadata, and what a refused upload leaves.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{TestApp, Who, error_code, id_of, stored_blobs};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde";

#[tokio::test]
async fn raw_upload_records_everything() {
    let app = TestApp::start().await;
    let who = app.user("u1", Some("t1"));
    let f = app
        .upload(
            &who,
            "name=notes.txt&metadata=%7B%22k%22%3A1%7D",
            "text/plain; charset=utf-8",
            "hello",
        )
        .await;
    let sha = hex::encode(Sha256::digest(b"hello"));
    assert_eq!(f["name"], "notes.txt");
    assert_eq!(f["bucketId"], "default");
    assert_eq!(f["mimeType"], "text/plain");
    assert_eq!(f["size"], 5);
    assert_eq!(f["checksumSha256"], sha.as_str());
    assert_eq!(f["etag"], format!("\"{sha}\""));
    assert_eq!(f["isUploaded"], true);
    assert_eq!(f["status"], "ready");
    assert_eq!(f["metadata"], json!({"k": 1}));
    assert_eq!(f["visibility"], "private");
    assert_eq!(f["access"], "owner");
    assert_eq!(f["uploadedByUserId"], "u1");
    assert_eq!(f["tenantId"], "t1");
    let id = id_of(&f);
    assert!(uuid::Uuid::parse_str(&id).unwrap().get_version_num() == 7);
    assert!(f["createdAt"].as_str().unwrap().ends_with('Z'));
    let got: Value = app
        .get(&format!("/v1/files/{id}"), &who)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got, f);
}

#[tokio::test]
async fn content_detection_wins_over_the_declared_type() {
    let app = TestApp::start().await;
    let f = app
        .upload(&Who::Admin, "name=pic.txt", "text/plain", PNG)
        .await;
    assert_eq!(f["mimeType"], "image/png");
    let f = app
        .upload(
            &Who::Admin,
            "name=data",
            "application/octet-stream",
            "a,b\n1,2",
        )
        .await;
    assert_eq!(f["mimeType"], "application/octet-stream");
    let f = app
        .upload(
            &Who::Admin,
            "name=data.csv",
            "application/octet-stream",
            "a,b\n1,2",
        )
        .await;
    assert_eq!(
        f["mimeType"], "text/csv",
        "the extension helps when nothing else does"
    );
}

#[tokio::test]
async fn multipart_with_several_files_common_fields_and_per_file_metadata() {
    let app = TestApp::start().await;
    app.create_bucket(json!({"id": "docs", "defaultVisibility": "public"}))
        .await;
    let form = Form::new()
        .text("bucketId", "docs")
        .text("access", "tenant")
        .text("metadata", r#"{"project":"x","kind":"common"}"#)
        .part(
            "file",
            Part::bytes(b"first".to_vec())
                .file_name("../../one.txt")
                .mime_str("text/plain")
                .unwrap(),
        )
        .text(
            "fileMetadata",
            r#"{"name":"renamed.txt","metadata":{"kind":"own"},"visibility":"private"}"#,
        )
        .part(
            "file",
            Part::bytes(b"second".to_vec())
                .file_name("two.txt")
                .mime_str("text/plain")
                .unwrap(),
        )
        .part("file", Part::bytes(PNG.to_vec()).file_name("three.png"));
    let res = app
        .request(Method::POST, "/v1/files", &app.user("u1", Some("t1")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let files = body["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    assert_eq!(files[0]["name"], "one.txt", "path components are stripped");
    assert_eq!(files[0]["visibility"], "public", "bucket default");
    assert_eq!(
        files[0]["metadata"],
        json!({"project": "x", "kind": "common"})
    );
    assert_eq!(files[1]["name"], "renamed.txt");
    assert_eq!(files[1]["visibility"], "private");
    assert_eq!(files[1]["metadata"], json!({"project": "x", "kind": "own"}));
    assert_eq!(files[2]["mimeType"], "image/png");
    assert_eq!(
        files[2]["metadata"],
        json!({"project": "x", "kind": "common"}),
        "fileMetadata applies to one file"
    );
    for f in files {
        assert_eq!(f["bucketId"], "docs");
        assert_eq!(f["access"], "tenant");
    }
    let res = app
        .get(
            &format!("/v1/files/{}/content", id_of(&files[1])),
            &Who::Admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "second");
}

#[tokio::test]
async fn multipart_failure_keeps_earlier_files_and_lists_them() {
    let app = TestApp::builder().blobs_only().start().await;
    app.create_bucket(json!({"id": "small", "maxUploadFileSize": 10}))
        .await;
    let form = Form::new()
        .text("bucketId", "small")
        .part("file", Part::bytes(b"ok".to_vec()).file_name("a.txt"))
        .part("file", Part::bytes(vec![b'x'; 100]).file_name("b.txt"))
        .part("file", Part::bytes(b"never".to_vec()).file_name("c.txt"));
    let res = app
        .request(Method::POST, "/v1/files", &Who::Admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "file_too_large");
    let stored = body["error"]["data"]["files"].as_array().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["name"], "a.txt");
    let res = app
        .get(&format!("/v1/files/{}", id_of(&stored[0])), &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(stored_blobs(&app).await, 1);
    assert!(crate::common::nothing_staged(&app));
}

#[tokio::test]
async fn multipart_without_a_file_or_with_strange_fields_is_refused() {
    let app = TestApp::start().await;
    let res = app
        .request(Method::POST, "/v1/files", &Who::Admin)
        .multipart(Form::new().text("bucketId", "default"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
    let form = Form::new()
        .text("surprise", "x")
        .part("file", Part::bytes(b"x".to_vec()).file_name("a"));
    let res = app
        .request(Method::POST, "/v1/files", &Who::Admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
    let form = Form::new().part("file", Part::bytes(b"x".to_vec()));
    let res = app
        .request(Method::POST, "/v1/files", &Who::Admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_name");
    let form = Form::new()
        .text("metadata", "[1,2]")
        .part("file", Part::bytes(b"x".to_vec()).file_name("a"));
    let res = app
        .request(Method::POST, "/v1/files", &Who::Admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
    let res = app
        .request(Method::POST, "/v1/files", &Who::Admin)
        .header("content-type", "multipart/form-data; boundary=xyz")
        .body("--xyz\r\nbroken")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
}

#[tokio::test]
async fn patch_changes_fields_and_validates_them() {
    let app = TestApp::start().await;
    let f = app
        .upload(
            &Who::Admin,
            "name=a.txt&metadata=%7B%22old%22%3A1%7D",
            "text/plain",
            "x",
        )
        .await;
    let path = format!("/v1/files/{}", id_of(&f));
    let res = app
        .request(Method::PATCH, &path, &Who::Admin)
        .json(&json!({"name": "b.txt", "metadata": {"new": true}, "visibility": "public", "access": "tenant"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["name"], "b.txt");
    assert_eq!(
        updated["metadata"],
        json!({"new": true}),
        "metadata is replaced whole"
    );
    assert_eq!(updated["visibility"], "public");
    assert_eq!(updated["access"], "tenant");
    assert_eq!(updated["etag"], f["etag"]);
    assert!(updated["updatedAt"].as_str() >= f["updatedAt"].as_str());
    for (body, code) in [
        (json!({"name": "a\u{0007}b"}), "invalid_name"),
        (json!({"metadata": "text"}), "invalid_request"),
        (json!({"visibility": "world"}), "invalid_request"),
        (json!({"size": 5}), "invalid_request"),
    ] {
        let res = app
            .request(Method::PATCH, &path, &Who::Admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(res, 400).await, code, "{body}");
    }
    let after: Value = app
        .get(&path, &Who::Admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after, updated, "refused patches change nothing");
}

#[tokio::test]
async fn delete_removes_row_and_blob() {
    let app = TestApp::builder().blobs_only().start().await;
    let f = app
        .upload(&Who::Admin, "name=a.txt", "text/plain", "x")
        .await;
    assert_eq!(stored_blobs(&app).await, 1);
    let path = format!("/v1/files/{}", id_of(&f));
    let res = app
        .request(Method::DELETE, &path, &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(stored_blobs(&app).await, 0);
    let res = app
        .request(Method::DELETE, &path, &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 404).await, "not_found");
}
