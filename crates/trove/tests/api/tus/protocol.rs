//! The core protocol: discovery, creation, HEAD and PATCH with their errors, CORS for browsers,
//! and the file an upload becomes.

use reqwest::Method;
use sha2::Digest;
use trove_core::tus::encode_metadata;

use super::{content, create, header, patch, tus};
use crate::common::{TestApp, Who, error_code};

#[tokio::test]
async fn options_announces_the_protocol_without_credentials() {
    let app = TestApp::start().await;
    let res = app
        .request(Method::OPTIONS, "/v1/tus", &Who::Anonymous)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(header(&res, "tus-version"), "1.0.0");
    let extensions = header(&res, "tus-extension");
    for ext in [
        "creation",
        "creation-with-upload",
        "creation-defer-length",
        "expiration",
        "checksum",
        "termination",
        "concatenation",
    ] {
        assert!(extensions.split(',').any(|e| e == ext), "{ext}");
    }
    let bucket = app.get_json("/v1/buckets/default", &Who::Admin).await;
    assert_eq!(
        header(&res, "tus-max-size"),
        bucket["maxUploadFileSize"].to_string()
    );
    assert_eq!(header(&res, "tus-checksum-algorithm"), "sha1,sha256,md5");
    assert!(!res.headers().contains_key("tus-resumable"));
}

#[tokio::test]
async fn an_upload_in_chunks_becomes_a_ready_file() {
    let app = TestApp::start().await;
    let alice = app.user("alice", Some("t1"));
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let res = tus(&app, Method::POST, "/v1/tus", &alice)
        .header("upload-length", data.len())
        .header(
            "upload-metadata",
            encode_metadata(&[
                ("filename", "scan.bin"),
                ("filetype", "application/octet-stream"),
                ("metadata", r#"{"page": 3}"#),
                (
                    "associations",
                    r#"[{"entityName":"invoice","entityReference":"42"}]"#,
                ),
                ("visibility", "private"),
                ("relativePath", "ignored/by/trove"),
            ]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(header(&res, "tus-resumable"), "1.0.0");
    let expires = httpdate::parse_http_date(&header(&res, "upload-expires")).unwrap();
    assert!(expires > std::time::SystemTime::now());
    let path = header(&res, "location")
        .strip_prefix(&app.url)
        .unwrap()
        .to_owned();
    let id = path.rsplit('/').next().unwrap().to_owned();
    let pending = app.get_json(&format!("/v1/files/{id}"), &alice).await;
    assert_eq!(
        pending["status"], "upload_pending",
        "the upload id is the file id"
    );

    let head = tus(&app, Method::HEAD, &path, &alice).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "upload-offset"), "0");
    assert_eq!(header(&head, "upload-length"), data.len().to_string());
    assert_eq!(header(&head, "cache-control"), "no-store");
    assert!(header(&head, "upload-metadata").contains("filename "));

    let first = patch(&app, &alice, &path, 0, data[..100_000].to_vec()).await;
    assert_eq!(first.status(), 204);
    assert_eq!(header(&first, "upload-offset"), "100000");
    assert!(first.headers().contains_key("upload-expires"));
    assert!(!first.headers().contains_key("trove-file-id"));
    let last = patch(&app, &alice, &path, 100_000, data[100_000..].to_vec()).await;
    assert_eq!(last.status(), 204);
    assert_eq!(header(&last, "upload-offset"), data.len().to_string());
    assert_eq!(header(&last, "trove-file-id"), id);

    let file = app.get_json(&format!("/v1/files/{id}"), &alice).await;
    assert_eq!(file["status"], "ready");
    assert_eq!(file["name"], "scan.bin");
    assert_eq!(file["size"], data.len());
    assert_eq!(file["metadata"]["page"], 3);
    assert_eq!(file["associations"][0]["entityReference"], "42");
    assert_eq!(
        file["checksumSha256"],
        hex::encode(sha2::Sha256::digest(&data))
    );
    assert_eq!(content(&app, &id).await, data);
    // A finished upload still answers HEAD, so a resuming client sees that it is done.
    let head = tus(&app, Method::HEAD, &path, &alice).send().await.unwrap();
    assert_eq!(header(&head, "upload-offset"), data.len().to_string());
    assert_eq!(header(&head, "trove-file-id"), id);
}

#[tokio::test]
async fn protocol_errors_have_the_statuses_tus_fixes() {
    let app = TestApp::start().await;
    let who = Who::Admin;
    let path = create(&app, &who, 10, &[("filename", "a.txt")]).await;

    let res = app.request(Method::HEAD, &path, &who).send().await.unwrap();
    assert_eq!(res.status(), 412, "no Tus-Resumable");
    assert_eq!(header(&res, "tus-version"), "1.0.0");
    let res = app
        .request(Method::POST, "/v1/tus", &who)
        .header("tus-resumable", "0.2.2")
        .header("upload-length", 1)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 412).await, "unsupported_version");

    let res = tus(&app, Method::PATCH, &path, &who)
        .header("content-type", "application/octet-stream")
        .header("upload-offset", 0)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert!(res.headers().contains_key("tus-resumable"));
    assert_eq!(
        error_code(patch(&app, &who, &path, 3, b"x".to_vec()).await, 409).await,
        "conflict"
    );
    let res = tus(&app, Method::PATCH, &path, &who)
        .header("content-type", "application/offset+octet-stream")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, 400).await,
        "invalid_request",
        "no Upload-Offset"
    );

    // Creation needs a length, or says it defers it; not both.
    for headers in [
        vec![],
        vec![("upload-length", "1"), ("upload-defer-length", "1")],
    ] {
        let mut rb = tus(&app, Method::POST, "/v1/tus", &who);
        for (k, v) in headers {
            rb = rb.header(k, v);
        }
        assert_eq!(
            error_code(rb.send().await.unwrap(), 400).await,
            "invalid_request"
        );
    }
    let max = app.get_json("/v1/buckets/default", &who).await["maxUploadFileSize"]
        .as_u64()
        .unwrap();
    let res = tus(&app, Method::POST, "/v1/tus", &who)
        .header("upload-length", max + 1)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 413).await, "file_too_large");
    let res = tus(&app, Method::POST, "/v1/tus", &who)
        .header("upload-length", 5)
        .header("upload-metadata", "filename !!notbase64")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");

    // X-HTTP-Method-Override: a POST that means PATCH.
    let res = tus(&app, Method::POST, &path, &who)
        .header("x-http-method-override", "PATCH")
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", 0)
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(header(&res, "upload-offset"), "5");
    let res = tus(&app, Method::GET, &path, &who).send().await.unwrap();
    assert_eq!(error_code(res, 405).await, "method_not_allowed");
}

#[tokio::test]
async fn browsers_may_send_and_read_the_tus_headers() {
    let app = TestApp::builder()
        .config(|c| c.cors_origins = vec!["https://app.example.com".into()])
        .start()
        .await;
    let sent = [
        "upload-length",
        "upload-offset",
        "tus-resumable",
        "upload-metadata",
        "upload-defer-length",
        "upload-concat",
        "upload-checksum",
        "x-http-method-override",
        "x-request-id",
        "authorization",
    ];
    let res = app
        .request(Method::OPTIONS, "/v1/tus/some-upload", &Who::Anonymous)
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PATCH")
        .header("access-control-request-headers", sent.join(","))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let allowed = header(&res, "access-control-allow-headers").to_lowercase();
    for h in sent {
        assert!(allowed.split(',').any(|a| a.trim() == h), "{h} may be sent");
    }
    assert!(header(&res, "access-control-allow-methods").contains("PATCH"));

    let res = tus(&app, Method::POST, "/v1/tus", &Who::Admin)
        .header("origin", "https://app.example.com")
        .header("upload-length", 1)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let exposed = header(&res, "access-control-expose-headers").to_lowercase();
    for h in [
        "upload-offset",
        "location",
        "upload-length",
        "tus-version",
        "tus-resumable",
        "tus-max-size",
        "tus-extension",
        "upload-metadata",
        "upload-defer-length",
        "upload-concat",
        "upload-expires",
        "trove-file-id",
    ] {
        assert!(exposed.split(',').any(|e| e.trim() == h), "{h} may be read");
    }
}

#[tokio::test]
async fn upload_metadata_sets_every_field_of_the_file() {
    let app = TestApp::start().await;
    let who = app.user("alice", Some("t1"));
    let res = app
        .request(Method::POST, "/v1/categories", &Who::Admin)
        .json(&serde_json::json!({"key": "invoices", "name": "Invoices", "defaultVisibility": "public"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = tus(&app, Method::POST, "/v1/tus", &who)
        .header("upload-length", 5)
        .header(
            "upload-metadata",
            // The alternative names some clients send: `name` and `contentType`.
            encode_metadata(&[
                ("name", "inv.txt"),
                ("contentType", "text/plain"),
                ("category", "invoices"),
                ("access", "tenant"),
            ]),
        )
        .header("content-type", "application/offset+octet-stream")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let id = header(&res, "trove-file-id");
    let file = app.get_json(&format!("/v1/files/{id}"), &who).await;
    assert_eq!(file["name"], "inv.txt");
    assert_eq!(file["mimeType"], "text/plain");
    assert_eq!(file["category"], "invoices");
    assert_eq!(file["visibility"], "public", "the category's default");
    assert_eq!(file["access"], "tenant");
    let bob = app.user("bob", Some("t1"));
    let res = app
        .get(&format!("/v1/files/{id}"), &bob)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "shared with the tenant");

    for (key, value) in [
        ("visibility", "everyone"),
        ("access", "world"),
        ("metadata", "[1,2]"),
        ("associations", "{}"),
        ("category", "no-such-category"),
        ("bucketId", "no-such-bucket"),
    ] {
        let res = tus(&app, Method::POST, "/v1/tus", &who)
            .header("upload-length", 5)
            .header("upload-metadata", encode_metadata(&[(key, value)]))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{key}={value}");
    }
}
