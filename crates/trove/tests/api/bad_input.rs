//! Malformed requests get clear errors with stable codes and change nothing.

use reqwest::Method;
use serde_json::Value;

use crate::common::{TestApp, Who, error_code};

#[tokio::test]
async fn malformed_json_and_wrong_content_types() {
    let app = TestApp::start().await;
    let res = app
        .request(Method::POST, "/v1/buckets", &Who::Admin)
        .header("content-type", "application/json")
        .body("{\"id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
    let res = app
        .request(Method::POST, "/v1/buckets", &Who::Admin)
        .header("content-type", "text/plain")
        .body("{\"id\": \"x\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 415).await, "unsupported_media_type");
    let res = app
        .request(Method::POST, "/v1/buckets", &Who::Admin)
        .header("content-type", "application/json")
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
    let list: Value = app.get("/v1/buckets", &Who::Admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["buckets"].as_array().unwrap().len(), 1, "nothing was created");
}

#[tokio::test]
async fn oversized_json_bodies_are_refused() {
    let app = TestApp::start().await;
    let huge = format!("{{\"id\":\"x\",\"cacheControl\":\"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let res = app
        .request(Method::POST, "/v1/buckets", &Who::Admin)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn huge_headers_are_refused() {
    let app = TestApp::start().await;
    let res = app
        .get("/v1/buckets", &Who::Admin)
        .header("x-padding", "a".repeat(512 * 1024))
        .send()
        .await;
    match res {
        Ok(res) => assert_eq!(res.status(), 431),
        // The server may also close the connection before the client finishes sending.
        Err(e) => assert!(e.is_request() || e.is_connect() || e.is_body(), "{e}"),
    }
    // The server is still healthy afterwards.
    assert_eq!(app.get("/healthz", &Who::Anonymous).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_json() {
    let app = TestApp::start().await;
    let res = app.get("/v1/nothing", &Who::Admin).send().await.unwrap();
    assert_eq!(error_code(res, 404).await, "not_found");
    let res = app.request(Method::PUT, "/v1/buckets", &Who::Admin).send().await.unwrap();
    assert_eq!(error_code(res, 405).await, "method_not_allowed");
}

#[tokio::test]
async fn bad_query_parameters_and_headers() {
    let app = TestApp::start().await;
    let res = app.request(Method::DELETE, "/v1/buckets/default?force=maybe", &Who::Admin).send().await.unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
    let res = app
        .get("/v1/buckets", &Who::Anonymous)
        .header("x-trove-admin-key", app.admin_key())
        .header("x-trove-user-id", "")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
}

#[tokio::test]
async fn health_readiness_version_and_request_ids() {
    let app = TestApp::start().await;
    let res = app.get("/healthz", &Who::Anonymous).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36);
    let res = app.get("/readyz", &Who::Anonymous).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.get("/version", &Who::Anonymous).send().await.unwrap();
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    // A client's own request id is echoed.
    let res = app.get("/healthz", &Who::Anonymous).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
}

#[tokio::test]
async fn readiness_fails_when_storage_is_gone() {
    let app = TestApp::start().await;
    std::fs::remove_dir_all(app.data_dir().join("blobs")).unwrap();
    let res = app.get("/readyz", &Who::Anonymous).send().await.unwrap();
    assert_eq!(res.status(), 503);
}

#[tokio::test]
async fn cors_exposes_the_documented_headers_for_configured_origins() {
    let app = TestApp::builder()
        .config(|c| c.cors_origins = vec!["https://app.example.com".into()])
        .start()
        .await;
    let res = app
        .request(Method::OPTIONS, "/v1/files", &Who::Anonymous)
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example.com");
    let res = app
        .get("/healthz", &Who::Anonymous)
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    let exposed = res.headers()["access-control-expose-headers"].to_str().unwrap().to_owned();
    for h in ["etag", "content-range", "content-disposition", "x-request-id"] {
        assert!(exposed.contains(h), "{h} exposed");
    }
    let res = app
        .get("/healthz", &Who::Anonymous)
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}
