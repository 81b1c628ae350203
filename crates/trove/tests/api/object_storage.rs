//! What only object storage does: direct uploads to the store's presigned PUT (the bytes never
//! pass through Trove), checks of what arrived there, and downloads redirected to the store's
//! presigned GET. Each test has a prefix of its own in the S3 server of `TROVE_TEST_S3_URL`.

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{TestApp, Who, error_code, id_of, stored_blobs};

async fn s3_app(presigned_downloads: bool) -> Option<TestApp> {
    let builder = TestApp::builder()
        .blobs_only()
        .config(move |c| c.presigned_downloads = presigned_downloads)
        .s3_storage()?;
    Some(builder.start().await)
}

async fn create(app: &TestApp, who: &Who, body: Value) -> Value {
    let res = app
        .request(Method::POST, "/v1/uploads", who)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// PUTs to an upload target as a plain HTTP client with no credentials, sending the headers the
/// target names.
async fn put(target: &Value, body: impl Into<reqwest::Body>) -> reqwest::Response {
    let mut req = reqwest::Client::new().put(target["url"].as_str().unwrap());
    for (name, value) in target["headers"].as_object().unwrap() {
        req = req.header(name.as_str(), value.as_str().unwrap());
    }
    req.body(body).send().await.unwrap()
}

async fn complete(app: &TestApp, who: &Who, id: &str) -> reqwest::Response {
    app.request(Method::POST, &format!("/v1/uploads/{id}/complete"), who)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn direct_uploads_go_straight_to_the_store_and_complete_there() {
    let Some(app) = s3_app(false).await else {
        return;
    };
    let owner = app.user("u1", Some("t1"));
    let created = create(
        &app,
        &owner,
        json!({"name": "notes.txt", "contentType": "text/plain", "size": 11}),
    )
    .await;
    let target = &created["upload"];
    let id = id_of(&created["file"]);
    let url = target["url"].as_str().unwrap();
    assert!(
        !url.starts_with(&app.url),
        "the bytes go to the store, not to Trove: {url}"
    );
    assert_eq!(target["headers"]["Content-Type"], "text/plain");
    assert_eq!(
        error_code(complete(&app, &owner, &id).await, 409).await,
        "conflict",
        "nothing arrived yet"
    );
    let res = put(target, "hello world").await;
    assert!(res.status().is_success(), "{}", res.status());
    let res = complete(&app, &owner, &id).await;
    assert_eq!(res.status(), 200);
    let file: Value = res.json().await.unwrap();
    assert_eq!(file["status"], "ready");
    assert_eq!(file["size"], 11);
    assert_eq!(file["mimeType"], "text/plain");
    let etag = file["etag"].as_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() > 2);
    let res = app
        .get(&format!("/v1/files/{id}/content"), &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(res.text().await.unwrap(), "hello world");
    let again = complete(&app, &owner, &id).await;
    assert_eq!(again.status(), 200, "completing twice is harmless");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["etag"], etag.as_str());
}

#[tokio::test]
async fn a_declared_checksum_binds_the_upload_url_to_those_bytes() {
    let Some(app) = s3_app(false).await else {
        return;
    };
    let owner = app.user("u1", Some("t1"));
    let body = b"exactly these bytes".to_vec();
    let hash = hex::encode(Sha256::digest(&body));
    let created = create(
        &app,
        &owner,
        json!({"name": "a.bin", "contentType": "application/octet-stream", "checksumSha256": hash}),
    )
    .await;
    let target = &created["upload"];
    let id = id_of(&created["file"]);
    let res = put(target, b"other bytes, same url".to_vec()).await;
    assert!(
        res.status().is_client_error(),
        "the store refuses bytes with another hash: {}",
        res.status()
    );
    let res = put(target, body.clone()).await;
    assert!(res.status().is_success(), "{}", res.status());
    let file: Value = complete(&app, &owner, &id).await.json().await.unwrap();
    assert_eq!(file["status"], "ready");
    assert_eq!(file["checksumSha256"], hash.as_str());
    assert_eq!(file["size"], body.len());

    let res = app
        .request(Method::POST, "/v1/uploads", &owner)
        .json(&json!({"name": "b.bin", "contentType": "text/plain", "checksumSha256": "abc"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
}

#[tokio::test]
async fn bytes_that_break_the_rules_are_deleted_and_the_file_marked_error() {
    let Some(app) = s3_app(false).await else {
        return;
    };
    app.create_bucket(
        json!({"id": "small", "maxUploadFileSize": 10, "allowedMimeTypes": ["text/*"]}),
    )
    .await;
    let owner = app.user("u1", Some("t1"));

    // Too large for the bucket: the upload URL cannot stop it, completion does.
    let created = create(
        &app,
        &owner,
        json!({"name": "big.txt", "contentType": "text/plain", "bucketId": "small"}),
    )
    .await;
    let id = id_of(&created["file"]);
    assert!(
        put(&created["upload"], "x".repeat(100))
            .await
            .status()
            .is_success()
    );
    let res = complete(&app, &owner, &id).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    let file = app.get_json(&format!("/v1/files/{id}"), &owner).await;
    assert_eq!(file["status"], "error");
    assert!(
        file["statusReason"].as_str().unwrap().contains("10"),
        "the reason names the limit: {file}"
    );
    assert_eq!(stored_blobs(&app).await, 0, "the refused bytes are gone");
    let res = complete(&app, &owner, &id).await;
    assert_eq!(error_code(res, 409).await, "conflict");

    // Declared as text, arrives as a PNG: the first bytes decide.
    let created = create(
        &app,
        &owner,
        json!({"name": "pic.txt", "contentType": "text/plain", "bucketId": "small"}),
    )
    .await;
    let id = id_of(&created["file"]);
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    assert!(put(&created["upload"], png).await.status().is_success());
    let res = complete(&app, &owner, &id).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    let file = app.get_json(&format!("/v1/files/{id}"), &owner).await;
    assert_eq!(file["status"], "error");
    assert_eq!(stored_blobs(&app).await, 0);

    // An announced size the bytes do not match.
    let created = create(
        &app,
        &owner,
        json!({"name": "c.txt", "contentType": "text/plain", "bucketId": "small", "size": 3}),
    )
    .await;
    let id = id_of(&created["file"]);
    assert!(put(&created["upload"], "12345").await.status().is_success());
    assert!(complete(&app, &owner, &id).await.status().is_client_error());
    let file = app.get_json(&format!("/v1/files/{id}"), &owner).await;
    assert_eq!(file["status"], "error");
}

#[tokio::test]
async fn presigned_downloads_redirect_to_the_store() {
    let Some(app) = s3_app(true).await else {
        return;
    };
    let owner = app.user("u1", Some("t1"));
    let file = app
        .upload(&owner, "name=r.txt", "text/plain", "redirected bytes")
        .await;
    let id = id_of(&file);
    let res = app
        .request(Method::POST, &format!("/v1/files/{id}/signed-url"), &owner)
        .json(&json!({"expiresIn": 20}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let signed: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{signed}");
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = no_follow
        .get(signed["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 307);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(!location.starts_with(&app.url), "{location}");
    // The store serves the bytes to anyone holding the redirect, without credentials.
    let res = reqwest::get(&location).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "redirected bytes");

    // Public URLs redirect too; the authenticated API still streams through Trove.
    let public: Value = app
        .request(Method::POST, &format!("/v1/files/{id}/public"), &owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = no_follow
        .get(public["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 307);
    let res = reqwest::get(res.headers()["location"].to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "redirected bytes");
    let res = app
        .get(&format!("/v1/files/{id}/content"), &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// An S3 server of the test's own (the `s3s-fs` binary CI installs), so it can be stopped.
struct OwnS3 {
    child: std::process::Child,
    port: u16,
    root: tempfile::TempDir,
}

impl OwnS3 {
    fn start(port: u16, root: tempfile::TempDir) -> Option<Self> {
        let Ok(bin) = std::env::var("S3S_FS_BIN") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the S3 outage test: set S3S_FS_BIN"
            );
            return None;
        };
        std::fs::create_dir_all(root.path().join("outage")).unwrap();
        let child = std::process::Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--access-key",
                "outage-key",
                "--secret-key",
                "outage-secret-0123456789",
            ])
            .arg(root.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Some(Self { child, port, root })
    }

    async fn wait_ready(&self) {
        let url = format!("http://127.0.0.1:{}/", self.port);
        crate::common::wait_for(10, "the S3 server to answer", || async {
            reqwest::get(&url).await.is_ok()
        })
        .await;
    }

    fn stop(mut self) -> (u16, tempfile::TempDir) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        (self.port, self.root)
    }
}

#[tokio::test]
async fn a_store_that_goes_away_gives_503s_and_comes_back_without_a_restart() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Some(s3) = OwnS3::start(port, tempfile::tempdir().unwrap()) else {
        return;
    };
    s3.wait_ready().await;
    let app = TestApp::builder()
        .blobs_only()
        .config(move |c| {
            c.storage_url = "s3://outage".into();
            c.s3.endpoint = Some(format!("http://127.0.0.1:{port}"));
            c.s3.access_key_id = Some("outage-key".into());
            c.s3.secret_access_key = Some("outage-secret-0123456789".into());
            c.s3.force_path_style = true;
        })
        .start()
        .await;
    let owner = app.user("u1", Some("t1"));
    let before = app
        .upload(&owner, "name=a.txt", "text/plain", "stored before")
        .await;
    let (port, root) = s3.stop();

    let res = app
        .request(Method::POST, "/v1/files?name=b.txt", &owner)
        .header("content-type", "text/plain")
        .body("x".repeat(100_000))
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(error_code(res, 503).await, "unavailable");
    let res = app
        .get(&format!("/v1/files/{}/content", id_of(&before)), &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 503).await, "unavailable");
    let res = app.get("/readyz", &Who::Anonymous).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let listed = app.get_json("/v1/files?status=ready", &owner).await;
    assert_eq!(
        listed["files"].as_array().unwrap().len(),
        1,
        "no ready row for bytes the store never took: {listed}"
    );

    let s3 = OwnS3::start(port, root).unwrap();
    s3.wait_ready().await;
    let res = app.get("/readyz", &Who::Anonymous).send().await.unwrap();
    assert_eq!(res.status(), 200, "ready again without a restart");
    let res = app
        .get(&format!("/v1/files/{}/content", id_of(&before)), &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "stored before");
    app.upload(&owner, "name=c.txt", "text/plain", "stored after")
        .await;
    drop(s3.stop());
}

/// A body of a declared length above one part goes to the store as it arrives, as one object; one
/// cut off before its end leaves neither an object nor a file.
#[tokio::test]
async fn declared_lengths_stream_to_the_store_and_cut_off_bodies_leave_nothing() {
    let Some(app) = s3_app(false).await else {
        return;
    };
    let owner = app.user("u1", Some("t1"));
    let body: Vec<u8> = (0..(9 << 20) + 5).map(|i| (i % 253) as u8).collect();
    let file = app
        .upload(
            &owner,
            "name=big.bin",
            "application/octet-stream",
            body.clone(),
        )
        .await;
    let res = app
        .request(
            Method::GET,
            &format!("/v1/files/{}/content", id_of(&file)),
            &owner,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.bytes().await.unwrap() == body, "the same bytes");
    assert_eq!(stored_blobs(&app).await, 1);

    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async { rx.recv().await.map(|c| (c, rx)) });
    let cut = tokio::spawn(
        app.request(Method::POST, "/v1/files?name=cut.bin", &owner)
            .header("content-type", "application/octet-stream")
            .header("content-length", (12u64 << 20).to_string())
            .body(reqwest::Body::wrap_stream(stream))
            .send(),
    );
    for _ in 0..9 {
        tx.send(Ok(vec![1u8; 1 << 20])).await.unwrap();
    }
    tx.send(Err(std::io::Error::other("the client goes away")))
        .await
        .unwrap();
    drop(tx);
    let outcome = cut.await.unwrap();
    assert!(
        outcome.is_err() || outcome.is_ok_and(|r| !r.status().is_success()),
        "a cut-off upload is not acknowledged"
    );
    crate::common::wait_for(
        10,
        "no file and no object left of the cut-off upload",
        || async {
            let page: Value = app
                .get_json("/v1/files?status=upload_pending", &Who::Admin)
                .await;
            page["files"].as_array().unwrap().is_empty() && stored_blobs(&app).await == 1
        },
    )
    .await;
}
