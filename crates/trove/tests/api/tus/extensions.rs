//! The extensions besides concatenation: checksum, termination, creation-defer-length,
//! creation-with-upload and expiration.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use sha2::Digest;
use trove_core::tus::encode_metadata;

use super::{content, create, header, offset, patch, tus, uploads_on_disk};
use crate::common::{TestApp, Who, error_code, wait_for};

#[tokio::test]
async fn checksums_are_verified_and_a_mismatching_chunk_is_discarded() {
    let app = TestApp::start().await;
    let who = Who::Admin;
    let path = create(&app, &who, 12, &[("filename", "c.txt")]).await;
    let send = |offset: u64, body: &'static [u8], checksum: String| {
        tus(&app, Method::PATCH, &path, &who)
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset)
            .header("upload-checksum", checksum)
            .body(body)
            .send()
    };
    let b64 = |d: &[u8]| STANDARD.encode(d);
    let res = send(
        0,
        b"abcd",
        format!("sha1 {}", b64(&sha1::Sha1::digest(b"wxyz"))),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 460);
    assert_eq!(error_code(res, 460).await, "checksum_mismatch");
    assert_eq!(
        offset(&app, &who, &path).await,
        0,
        "the chunk was discarded"
    );
    let res = send(0, b"abcd", "crc32 AAAAAA==".into()).await.unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
    let res = send(
        0,
        b"abcd",
        format!("sha1 {}", b64(&sha1::Sha1::digest(b"abcd"))),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 204);
    let res = send(
        4,
        b"efgh",
        format!("sha256 {}", b64(&sha2::Sha256::digest(b"efgh"))),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 204);
    let res = send(
        8,
        b"ijkl",
        format!("md5 {}", b64(&md5::Md5::digest(b"ijkl"))),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 204);
    let id = header(&res, "trove-file-id");
    assert_eq!(content(&app, &id).await, b"abcdefghijkl");
}

#[tokio::test]
async fn termination_removes_the_upload_and_its_file() {
    let app = TestApp::start().await;
    let who = app.user("alice", None);
    let path = create(&app, &who, 10, &[("filename", "t.txt")]).await;
    assert_eq!(
        patch(&app, &who, &path, 0, b"hello".to_vec())
            .await
            .status(),
        204
    );
    let res = tus(&app, Method::DELETE, &path, &who).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(header(&res, "tus-resumable"), "1.0.0");
    let res = tus(&app, Method::HEAD, &path, &who).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        patch(&app, &who, &path, 5, b"world".to_vec())
            .await
            .status(),
        404
    );
    let id = path.rsplit('/').next().unwrap();
    let res = app
        .get(&format!("/v1/files/{id}"), &who)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(uploads_on_disk(&app).await, 0, "its bytes are gone");

    // Deleting the pending file, or cancelling it as a direct upload would be, ends the upload too.
    for how in ["/v1/files/", "/v1/uploads/"] {
        let path = create(&app, &who, 10, &[("filename", "t.txt")]).await;
        assert_eq!(
            patch(&app, &who, &path, 0, b"hello".to_vec())
                .await
                .status(),
            204
        );
        assert_eq!(uploads_on_disk(&app).await, 1);
        let id = path.rsplit('/').next().unwrap();
        let res = app
            .request(Method::DELETE, &format!("{how}{id}"), &who)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204, "{how}");
        assert_eq!(uploads_on_disk(&app).await, 0, "{how}");
        assert_eq!(
            patch(&app, &who, &path, 5, b"world".to_vec())
                .await
                .status(),
            404
        );
    }
}

#[tokio::test]
async fn a_deferred_length_is_announced_later_and_bounded_as_bytes_arrive() {
    let app = TestApp::start().await;
    let who = Who::Admin;
    app.create_bucket(serde_json::json!({"id": "small", "maxUploadFileSize": 8}))
        .await;
    let res = tus(&app, Method::POST, "/v1/tus", &who)
        .header("upload-defer-length", "1")
        .header("upload-metadata", encode_metadata(&[("filename", "d.txt")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let path = header(&res, "location")
        .strip_prefix(&app.url)
        .unwrap()
        .to_owned();
    let head = tus(&app, Method::HEAD, &path, &who).send().await.unwrap();
    assert_eq!(header(&head, "upload-defer-length"), "1");
    assert!(!head.headers().contains_key("upload-length"));
    assert_eq!(
        patch(&app, &who, &path, 0, b"hello ".to_vec())
            .await
            .status(),
        204
    );
    let res = tus(&app, Method::PATCH, &path, &who)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", 6)
        .header("upload-length", 11)
        .body("world")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let id = header(&res, "trove-file-id");
    assert_eq!(content(&app, &id).await, b"hello world");

    let res = tus(&app, Method::POST, "/v1/tus", &who)
        .header("upload-defer-length", "1")
        .header(
            "upload-metadata",
            encode_metadata(&[("filename", "big.txt"), ("bucketId", "small")]),
        )
        .send()
        .await
        .unwrap();
    let path = header(&res, "location")
        .strip_prefix(&app.url)
        .unwrap()
        .to_owned();
    let res = patch(&app, &who, &path, 0, b"more than eight bytes".to_vec()).await;
    assert_eq!(error_code(res, 413).await, "file_too_large");
}

#[tokio::test]
async fn creation_with_upload_can_carry_the_whole_file() {
    let app = TestApp::start().await;
    let who = Who::Admin;
    let res = tus(&app, Method::POST, "/v1/tus", &who)
        .header("upload-length", 11)
        .header("upload-metadata", encode_metadata(&[("filename", "w.txt")]))
        .header("content-type", "application/offset+octet-stream")
        .body("hello world")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(header(&res, "upload-offset"), "11");
    let id = header(&res, "trove-file-id");
    assert_eq!(content(&app, &id).await, b"hello world");
    let file = app.get_json(&format!("/v1/files/{id}"), &who).await;
    assert_eq!(file["mimeType"], "text/plain");

    let res = tus(&app, Method::POST, "/v1/tus", &who)
        .header("upload-length", 11)
        .header("content-type", "application/offset+octet-stream")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(header(&res, "upload-offset"), "5", "a first part");
    assert!(!res.headers().contains_key("trove-file-id"));
}

#[tokio::test]
async fn an_expired_upload_is_gone_and_collected() {
    let app = TestApp::builder()
        .config(|c| c.upload_expiry_secs = 0)
        .start()
        .await;
    let who = Who::Admin;
    let path = create(&app, &who, 4, &[("filename", "e.txt")]).await;
    let res = tus(&app, Method::HEAD, &path, &who).send().await.unwrap();
    assert_eq!(res.status(), 410);
    let res = patch(&app, &who, &path, 0, b"late".to_vec()).await;
    assert_eq!(error_code(res, 410).await, "upload_expired");
    let res = tus(&app, Method::POST, "/v1/tus", &who)
        .header("upload-length", 4)
        .header("upload-concat", "partial")
        .send()
        .await
        .unwrap();
    let partial = header(&res, "location")
        .strip_prefix(&app.url)
        .unwrap()
        .to_owned();
    // Bytes whose upload record is gone (a crash between the two deletions) are swept too.
    let stray = uuid::Uuid::now_v7().to_string();
    if app.server.state.config.local_storage() {
        std::fs::write(app.data_dir().join("blobs/.uploads").join(&stray), b"stray").unwrap();
    } else {
        let key = trove_blob::BlobStore::staging_key(&stray, "tail-00000000000000000005");
        app.server
            .state
            .blobs
            .put(&key, bytes::Bytes::from_static(b"stray"))
            .await
            .unwrap();
    }
    // With no expiry, a record is stale from the next millisecond on: collect until both are
    // gone, the stray bytes with them.
    wait_for(
        10,
        "the upload and the partial upload to be collected",
        || {
            let app = &app;
            let (path, partial) = (path.clone(), partial.clone());
            async move {
                trove_server::service::uploads::collect_garbage(&app.server.state)
                    .await
                    .unwrap();
                let mut gone = true;
                for p in [&path, &partial] {
                    gone &= tus(app, Method::HEAD, p, &Who::Admin)
                        .send()
                        .await
                        .unwrap()
                        .status()
                        == 404;
                }
                gone
            }
        },
    )
    .await;
    assert_eq!(uploads_on_disk(&app).await, 0);
}
