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
    let list: Value = app
        .get("/v1/buckets", &Who::Admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["buckets"].as_array().unwrap().len(),
        1,
        "nothing was created"
    );
}

#[tokio::test]
async fn oversized_json_bodies_are_refused() {
    let app = TestApp::start().await;
    let huge = format!(
        "{{\"id\":\"x\",\"cacheControl\":\"{}\"}}",
        "a".repeat(2 * 1024 * 1024)
    );
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::start().await;
    for request in [
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
            "a".repeat(512 * 1024)
        ),
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\n{}\r\n",
            (0..200)
                .map(|i| format!("X-H{i}: a\r\n"))
                .collect::<String>()
        ),
    ] {
        let mut socket = tokio::net::TcpStream::connect(app.server.addr)
            .await
            .unwrap();
        // The server may answer and close before it has read everything we send.
        let _ = socket.write_all(request.as_bytes()).await;
        let mut answer = vec![0u8; 64];
        let n = socket.read(&mut answer).await.unwrap();
        let head = String::from_utf8_lossy(&answer[..n]).to_string();
        assert!(head.starts_with("HTTP/1.1 431"), "{head}");
    }
    // The server is still healthy afterwards.
    assert_eq!(
        app.get("/healthz", &Who::Anonymous)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_json() {
    let app = TestApp::start().await;
    let res = app.get("/v1/nothing", &Who::Admin).send().await.unwrap();
    assert_eq!(error_code(res, 404).await, "not_found");
    let res = app
        .request(Method::PUT, "/v1/buckets", &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 405).await, "method_not_allowed");
}

#[tokio::test]
async fn bad_query_parameters_and_headers() {
    let app = TestApp::start().await;
    let res = app
        .request(
            Method::DELETE,
            "/v1/buckets/default?force=maybe",
            &Who::Admin,
        )
        .send()
        .await
        .unwrap();
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
    assert!(!id.is_empty());
    let res = app.get("/readyz", &Who::Anonymous).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_ne!(
        res.headers()["x-request-id"].to_str().unwrap(),
        id,
        "every request gets its own id"
    );
    let res = app.get("/version", &Who::Anonymous).send().await.unwrap();
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    // A client's own request id is echoed.
    let res = app
        .get("/healthz", &Who::Anonymous)
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
}

#[tokio::test]
async fn readiness_fails_when_storage_is_gone() {
    let app = TestApp::builder().local_storage().start().await;
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
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let res = app
        .get("/healthz", &Who::Anonymous)
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    let exposed = res.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    for h in [
        "etag",
        "content-range",
        "content-disposition",
        "x-request-id",
    ] {
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

/// Names that display in another order than they are (`invoice\u{202E}fdp.exe` reads as
/// `invoiceexe.pdf`) are refused on every way in.
#[tokio::test]
async fn names_with_bidirectional_controls_are_refused() {
    let app = TestApp::start().await;
    let user = app.user("u1", Some("t1"));
    for name in ["invoice%E2%80%AEfdp.exe", "a%E2%81%A6b.txt"] {
        let res = app
            .request(
                reqwest::Method::POST,
                &format!("/v1/files?name={name}"),
                &user,
            )
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(res, 400).await, "invalid_name", "{name}");
    }
    let id = crate::common::id_of(&app.upload(&user, "name=ok.txt", "text/plain", "x").await);
    let res = app
        .request(reqwest::Method::PATCH, &format!("/v1/files/{id}"), &user)
        .json(&serde_json::json!({"name": "report\u{202E}txt.exe"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_name");
}
