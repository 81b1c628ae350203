//! Upload rules: size limits, MIME rules, names and parameters, and that a refused upload leaves
//! nothing behind.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::common::{TestApp, Who, error_code, id_of, stored_blobs};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde";

#[tokio::test]
async fn size_limits() {
    let app = TestApp::builder().blobs_only().start().await;
    app.create_bucket(json!({"id": "sized", "minUploadFileSize": 3, "maxUploadFileSize": 10}))
        .await;
    app.create_bucket(json!({"id": "empty-ok", "minUploadFileSize": 0}))
        .await;
    let send = |q: &'static str, body: reqwest::Body| {
        app.request(Method::POST, &format!("/v1/files?{q}"), &Who::Admin)
            .header("content-type", "text/plain")
            .body(body)
            .send()
    };
    // Declared too large: refused before the body is read.
    let res = send("bucketId=sized&name=a", reqwest::Body::from(vec![b'x'; 11]))
        .await
        .unwrap();
    assert_eq!(error_code(res, 413).await, "file_too_large");
    // Too large while streaming (no Content-Length): cut off at the limit.
    let chunks = futures_util::stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 4])));
    let res = send("bucketId=sized&name=a", reqwest::Body::wrap_stream(chunks))
        .await
        .unwrap();
    assert_eq!(error_code(res, 413).await, "file_too_large");
    let res = send("bucketId=sized&name=a", reqwest::Body::from("xy"))
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "file_too_small");
    let res = send("name=a", reqwest::Body::from("")).await.unwrap();
    assert_eq!(
        error_code(res, 400).await,
        "file_too_small",
        "the default minimum is one byte"
    );
    let res = send("bucketId=sized&name=a", reqwest::Body::from(vec![b'x'; 10]))
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "exactly the maximum is fine");
    let res = send("bucketId=empty-ok&name=a", reqwest::Body::from(""))
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let empty: Value = res.json().await.unwrap();
    let res = app
        .get(&format!("/v1/files/{}/content", id_of(&empty)), &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-length"], "0");
    assert_eq!(stored_blobs(&app).await, 2, "refused uploads leave no blob");
    assert!(crate::common::nothing_staged(&app), "nor a staged file");
}

#[tokio::test]
async fn mime_rules() {
    let app = TestApp::builder().blobs_only().start().await;
    app.create_bucket(json!({"id": "images", "allowedMimeTypes": ["image/*", "application/pdf"]}))
        .await;
    let f = app
        .upload(&Who::Admin, "bucketId=images&name=a.png", "image/png", PNG)
        .await;
    assert_eq!(f["mimeType"], "image/png");
    let f = app
        .upload(
            &Who::Admin,
            "bucketId=images&name=a.pdf",
            "application/pdf",
            "%PDF-1.4 x",
        )
        .await;
    assert_eq!(f["mimeType"], "application/pdf");
    // Declared as an image, but the content is HTML: detection wins and the type is refused.
    let res = app
        .request(
            Method::POST,
            "/v1/files?bucketId=images&name=a.png",
            &Who::Admin,
        )
        .header("content-type", "image/png")
        .body("<html><script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 415).await, "mime_type_not_allowed");
    let res = app
        .request(
            Method::POST,
            "/v1/files?bucketId=images&name=a.txt",
            &Who::Admin,
        )
        .header("content-type", "text/plain")
        .body("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 415).await, "mime_type_not_allowed");
    assert_eq!(stored_blobs(&app).await, 2);
}

#[tokio::test]
async fn names_are_cleaned_or_refused() {
    let app = TestApp::start().await;
    let f = app
        .upload(
            &Who::Admin,
            "name=..%2F..%2Fetc%2Fpasswd",
            "text/plain",
            "x",
        )
        .await;
    assert_eq!(f["name"], "passwd");
    let f = app
        .upload(&Who::Admin, "name=C%3A%5Cwin%5Cfile.txt", "text/plain", "x")
        .await;
    assert_eq!(f["name"], "file.txt");
    let f = app
        .upload(
            &Who::Admin,
            "name=%E6%97%A5%E6%9C%AC%20%F0%9F%93%84.txt",
            "text/plain",
            "x",
        )
        .await;
    assert_eq!(f["name"], "日本 📄.txt");
    let long = "a".repeat(256);
    for q in [
        "name=a%0Ab",
        "name=a%00b",
        "name=..",
        "name=dir%2F",
        format!("name={long}").leak(),
        "bucketId=default",
    ] {
        let res = app
            .request(Method::POST, &format!("/v1/files?{q}"), &Who::Admin)
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(res, 400).await, "invalid_name", "{q}");
    }
}

#[tokio::test]
async fn upload_parameters_are_validated() {
    let app = TestApp::start().await;
    for q in [
        "name=a&bucketId=missing",
        "name=a&bucketId=Bad%20Id",
        "name=a&visibility=world",
        "name=a&access=everyone",
        "name=a&metadata=notjson",
    ] {
        let res = app
            .request(Method::POST, &format!("/v1/files?{q}"), &Who::Admin)
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(res, 400).await, "invalid_request", "{q}");
    }
    let big = format!("{{\"k\":\"{}\"}}", "x".repeat(70_000));
    let form = Form::new()
        .text("metadata", big)
        .part("file", Part::bytes(b"x".to_vec()).file_name("a"));
    let res = app
        .request(Method::POST, "/v1/files", &Who::Admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, 400).await,
        "invalid_request",
        "metadata over 64 KiB"
    );
}
