//! Categories: management, and their rules applied on top of the bucket's.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::common::{TestApp, Who, error_code, id_of};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde";

async fn create(app: &TestApp, body: Value) -> Value {
    let res = app
        .request(Method::POST, "/v1/categories", &Who::Admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

#[tokio::test]
async fn management_by_admins_reading_by_users() {
    let app = TestApp::start().await;
    app.create_bucket(json!({"id": "docs"})).await;
    let c = create(&app, json!({"key": "invoices", "name": "Invoices", "bucketId": "docs", "maxSize": 1000, "allowedMimeTypes": ["application/pdf"], "defaultVisibility": "private", "defaultAccess": "tenant"})).await;
    assert_eq!(c["key"], "invoices");
    assert_eq!(c["bucketId"], "docs");
    let user = app.user("u1", Some("t1"));
    let list: Value = app
        .get("/v1/categories", &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["categories"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get("/v1/categories/invoices", &user)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.get("/v1/categories", &Who::Anonymous)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let res = app
        .request(Method::POST, "/v1/categories", &user)
        .json(&json!({"key": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 403).await, "forbidden");
    let res = app
        .request(Method::POST, "/v1/categories", &Who::Admin)
        .json(&json!({"key": "invoices"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 409).await, "conflict");
    let res = app
        .request(Method::POST, "/v1/categories", &Who::Admin)
        .json(&json!({"key": "x", "bucketId": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
    let res = app
        .request(Method::PATCH, "/v1/categories/invoices", &Who::Admin)
        .json(&json!({"maxSize": null, "name": "Bills"}))
        .send()
        .await
        .unwrap();
    let patched: Value = res.json().await.unwrap();
    assert_eq!(patched["maxSize"], Value::Null);
    assert_eq!(patched["name"], "Bills");
    assert_eq!(patched["allowedMimeTypes"], json!(["application/pdf"]));
    assert_eq!(
        app.get("/v1/categories/nope", &user)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn category_rules_win_over_bucket_rules() {
    let app = TestApp::start().await;
    app.create_bucket(json!({"id": "media", "maxUploadFileSize": 1000, "allowedMimeTypes": ["image/*", "text/plain"]})).await;
    create(&app, json!({"key": "avatars", "bucketId": "media", "maxSize": 50, "allowedMimeTypes": ["image/png"], "defaultVisibility": "public", "defaultAccess": "tenant"})).await;
    let user = app.user("u1", Some("t1"));
    // The category's bucket is used when none is given, and its defaults apply.
    let f = app
        .upload(&user, "name=me.png&category=avatars", "image/png", PNG)
        .await;
    assert_eq!(f["bucketId"], "media");
    assert_eq!(f["category"], "avatars");
    assert_eq!(f["visibility"], "public");
    assert_eq!(f["access"], "tenant");
    // Explicit values win over the category's defaults.
    let f = app
        .upload(
            &user,
            "name=me.png&category=avatars&visibility=private",
            "image/png",
            PNG,
        )
        .await;
    assert_eq!(f["visibility"], "private");
    let send = |q: &'static str, ct: &'static str, body: Vec<u8>| {
        app.request(Method::POST, &format!("/v1/files?{q}"), &user)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let res = send(
        "name=big.png&category=avatars",
        "image/png",
        [PNG, &[0u8; 100]].concat(),
    )
    .await
    .unwrap();
    assert_eq!(
        error_code(res, 413).await,
        "file_too_large",
        "the category's maxSize is stricter"
    );
    let res = send(
        "name=a.txt&category=avatars",
        "text/plain",
        b"hello".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(
        error_code(res, 415).await,
        "mime_type_not_allowed",
        "the bucket allows it, the category does not"
    );
    let res = send(
        "name=a.png&category=avatars&bucketId=default",
        "image/png",
        PNG.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(
        error_code(res, 400).await,
        "invalid_request",
        "another explicit bucket"
    );
    let res = send("name=a.png&category=nope", "image/png", PNG.to_vec())
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "unknown_category");
    let form = Form::new()
        .text("category", "avatars")
        .part("file", Part::bytes(PNG.to_vec()).file_name("m.png"));
    let res = app.post_multipart(&user, form).await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn changing_a_files_category_checks_the_stored_file() {
    let app = TestApp::start().await;
    create(&app, json!({"key": "tiny", "maxSize": 3})).await;
    create(
        &app,
        json!({"key": "pdfs", "allowedMimeTypes": ["application/pdf"]}),
    )
    .await;
    create(
        &app,
        json!({"key": "texts", "allowedMimeTypes": ["text/*"]}),
    )
    .await;
    let f = app
        .upload(&Who::Admin, "name=a.txt", "text/plain", "hello")
        .await;
    let path = format!("/v1/files/{}", id_of(&f));
    let patch = |c: Value| {
        app.request(Method::PATCH, &path, &Who::Admin)
            .json(&json!({"category": c}))
            .send()
    };
    assert_eq!(
        error_code(patch(json!("tiny")).await.unwrap(), 413).await,
        "file_too_large"
    );
    assert_eq!(
        error_code(patch(json!("pdfs")).await.unwrap(), 415).await,
        "mime_type_not_allowed"
    );
    assert_eq!(
        error_code(patch(json!("nope")).await.unwrap(), 400).await,
        "unknown_category"
    );
    let ok: Value = patch(json!("texts")).await.unwrap().json().await.unwrap();
    assert_eq!(ok["category"], "texts");
    let cleared: Value = patch(Value::Null).await.unwrap().json().await.unwrap();
    assert_eq!(cleared["category"], Value::Null);
}

#[tokio::test]
async fn a_category_in_use_is_deleted_only_by_force_which_clears_it() {
    let app = TestApp::start().await;
    create(&app, json!({"key": "docs"})).await;
    let f = app
        .upload(&Who::Admin, "name=a.txt&category=docs", "text/plain", "x")
        .await;
    let res = app
        .request(Method::DELETE, "/v1/categories/docs", &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 409).await, "category_in_use");
    let res = app
        .request(
            Method::DELETE,
            "/v1/categories/docs?force=true",
            &Who::Admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let after: Value = app
        .get(&format!("/v1/files/{}", id_of(&f)), &Who::Admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after["category"], Value::Null);
    let res = app
        .request(Method::DELETE, "/v1/categories/docs", &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 404).await, "not_found");
}
