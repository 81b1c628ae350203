//! What an upload may rely on: nobody else sees it, requests never interleave, a broken request
//! keeps what arrived, and the bucket's rules hold at the last byte.

use reqwest::Method;
use trove_core::tus::encode_metadata;

use super::{content, create, offset, patch, tus, uploads_on_disk};
use crate::common::{TestApp, Who, channel_body, error_code, wait_for};

#[tokio::test]
async fn only_its_creator_sees_an_upload() {
    let app = TestApp::start().await;
    let alice = app.user("alice", Some("t1"));
    let path = create(&app, &alice, 4, &[("filename", "mine.txt")]).await;
    for other in [
        app.user("bob", Some("t1")),
        app.tenant_admin("carol", "t1"),
        app.user("alice", Some("t2")),
    ] {
        let res = tus(&app, Method::HEAD, &path, &other).send().await.unwrap();
        assert_eq!(res.status(), 404);
        assert_eq!(
            error_code(patch(&app, &other, &path, 0, b"evil".to_vec()).await, 404).await,
            "not_found"
        );
        let res = tus(&app, Method::DELETE, &path, &other)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
    }
    let res = tus(&app, Method::HEAD, &path, &Who::Anonymous)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        offset(&app, &Who::Admin, &path).await,
        0,
        "the admin key sees all"
    );
    assert_eq!(
        patch(&app, &alice, &path, 0, b"mine".to_vec())
            .await
            .status(),
        204
    );
}

#[tokio::test]
async fn concurrent_patches_never_interleave_and_a_cut_off_patch_keeps_its_bytes() {
    const MIB: usize = 1024 * 1024;
    // It watches the first request's bytes arrive in the local upload file.
    let app = TestApp::builder().local_storage().start().await;
    let who = Who::Admin;
    let path = create(&app, &who, 3 * MIB as u64, &[("filename", "race.bin")]).await;
    let id = path.rsplit('/').next().unwrap().to_owned();
    let on_disk = app.data_dir().join("blobs/.uploads").join(&id);

    let (tx, body) = channel_body();
    let first = tokio::spawn(
        tus(&app, Method::PATCH, &path, &who)
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", 0)
            .body(body)
            .send(),
    );
    tx.send(Ok(vec![1u8; 2 * MIB])).await.unwrap();
    wait_for(30, "the first request's bytes on disk", || {
        let p = on_disk.clone();
        async move { std::fs::metadata(&p).is_ok_and(|m| m.len() >= MIB as u64) }
    })
    .await;
    // The first request holds the upload: a second one at the same offset is refused.
    let second = patch(&app, &who, &path, 0, vec![2u8; 10]).await;
    assert_eq!(error_code(second, 423).await, "upload_locked");

    // The client's connection breaks off: the bytes that arrived (at least those seen on disk) are
    // kept and reported, and the upload continues from there.
    tx.send(Err(std::io::Error::other("connection lost")))
        .await
        .unwrap();
    // How the broken request ends for its client is not the point; what the server kept is.
    let _ = first.await.unwrap();
    wait_for(30, "the broken request's bytes to be kept", || {
        let app = &app;
        let path = path.clone();
        async move { offset(app, &Who::Admin, &path).await >= MIB as u64 }
    })
    .await;
    let kept = offset(&app, &who, &path).await as usize;
    assert!(kept <= 2 * MIB);
    let mut expected = vec![1u8; 2 * MIB];
    expected.extend(vec![3u8; MIB]);
    let rest = patch(&app, &who, &path, kept as u64, expected[kept..].to_vec()).await;
    assert_eq!(rest.status(), 204);
    assert!(
        content(&app, &id).await == expected,
        "no byte of the refused request"
    );
}

#[tokio::test]
async fn the_buckets_rules_run_when_the_last_byte_arrives() {
    let app = TestApp::start().await;
    let who = app.user("alice", Some("t1"));
    app.create_bucket(serde_json::json!({"id": "images", "allowedMimeTypes": ["image/png"]}))
        .await;
    let res = tus(&app, Method::POST, "/v1/tus", &who)
        .header("upload-length", 4)
        .header(
            "upload-metadata",
            encode_metadata(&[
                ("filename", "x.txt"),
                ("filetype", "text/plain"),
                ("bucketId", "images"),
            ]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, 415).await,
        "mime_type_not_allowed",
        "a declared type is checked at once"
    );

    // Declared as PNG, but the bytes are a PDF: refused at the end, and nothing stays.
    let path = create(
        &app,
        &who,
        11,
        &[
            ("filename", "x.png"),
            ("filetype", "image/png"),
            ("bucketId", "images"),
        ],
    )
    .await;
    assert_eq!(
        patch(&app, &who, &path, 0, b"%PDF-".to_vec())
            .await
            .status(),
        204
    );
    let res = patch(&app, &who, &path, 5, b"1.7\n%x".to_vec()).await;
    assert_eq!(error_code(res, 415).await, "mime_type_not_allowed");
    let id = path.rsplit('/').next().unwrap();
    let res = app
        .get(&format!("/v1/files/{id}"), &who)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(uploads_on_disk(&app).await, 0);
    let listed = app.get_json("/v1/uploads", &who).await;
    assert_eq!(listed["uploads"].as_array().unwrap().len(), 0);
}
