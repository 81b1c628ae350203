//! Small contents kept in the database (`TROVE_INLINE_MAX_BYTES`) behave exactly like contents in
//! the blob store: the same bytes, ranges, validators, links, replacement and deletion, on both
//! sides of the threshold and across replacements that move a file from one side to the other.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestApp, Who, id_of, stored_blobs};

const THRESHOLD: usize = 64;

async fn app() -> TestApp {
    TestApp::builder()
        .config(|c| c.inline_max_bytes = THRESHOLD as u64)
        .start()
        .await
}

fn body_of(len: usize) -> String {
    (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect()
}

/// Everything a reader may rely on about `body` served at `path`.
async fn serves(app: &TestApp, path: &str, body: &str) {
    let get = |headers: &[(&str, &str)]| {
        let mut req = app.get(path, &Who::Admin);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send()
    };
    let res = get(&[]).await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    assert_eq!(res.headers()["content-length"], body.len().to_string());
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(res.text().await.unwrap(), body);
    let start = usize::from(body.len() > 1);
    let end = (start + 3).min(body.len() - 1);
    let res = get(&[("range", &format!("bytes={start}-{end}"))])
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes {start}-{end}/{}", body.len())
    );
    assert_eq!(res.text().await.unwrap(), &body[start..=end]);
    let res = get(&[("range", "bytes=-3")]).await.unwrap();
    assert_eq!(
        res.text().await.unwrap(),
        &body[body.len().saturating_sub(3)..]
    );
    let res = get(&[("range", &format!("bytes={}-", body.len()))])
        .await
        .unwrap();
    assert_eq!(res.status(), 416);
    let res = get(&[("if-none-match", &etag)]).await.unwrap();
    assert_eq!(res.status(), 304);
    let res = get(&[("if-range", "\"other\""), ("range", "bytes=0-0")])
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a stale If-Range gets the whole content");
    let res = app
        .request(Method::HEAD, path, &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-length"], body.len().to_string());
    assert_eq!(res.headers()["etag"].to_str().unwrap(), etag);
}

#[tokio::test]
async fn both_sides_of_the_threshold_serve_alike() {
    let app = app().await;
    for len in [1, THRESHOLD - 1, THRESHOLD, THRESHOLD + 1, 4 * THRESHOLD] {
        let body = body_of(len);
        let f = app
            .upload(&Who::Admin, "name=a.txt", "text/plain", body.clone())
            .await;
        assert_eq!(f["size"], len);
        assert_eq!(f["isUploaded"], true);
        serves(&app, &format!("/v1/files/{}/content", id_of(&f)), &body).await;
    }
    assert_eq!(
        stored_blobs(&app).await,
        2,
        "only the contents above the threshold are in the blob store"
    );
}

#[tokio::test]
async fn links_replacement_and_deletion_work_on_inline_contents() {
    let app = app().await;
    let small = body_of(10);
    let f = app
        .upload(
            &Who::Admin,
            "name=a.txt&visibility=public",
            "text/plain",
            small.clone(),
        )
        .await;
    let id = id_of(&f);
    let anon = reqwest::Client::new();
    let public = f["url"].as_str().expect("a public URL");
    assert_eq!(
        anon.get(public).send().await.unwrap().text().await.unwrap(),
        small
    );
    let signed: Value = app
        .request(
            Method::POST,
            &format!("/v1/files/{id}/signed-url"),
            &Who::Admin,
        )
        .json(&json!({"expiresIn": 20}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = anon
        .get(signed["url"].as_str().unwrap())
        .header("range", "bytes=0-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.text().await.unwrap(), &small[..2]);

    // Inline → blob → inline: each revision serves its own bytes, and nothing is left over.
    let content = format!("/v1/files/{id}/content");
    for body in [body_of(THRESHOLD * 3), body_of(5)] {
        let res = app
            .request(Method::PUT, &content, &Who::Admin)
            .header("content-type", "text/plain")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        serves(&app, &content, &body).await;
    }
    crate::common::wait_for(10, "the replaced blob to be deleted", || async {
        stored_blobs(&app).await == 0
    })
    .await;

    let res = app
        .request(Method::DELETE, &format!("/v1/files/{id}"), &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app.get(&content, &Who::Admin).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(anon.get(public).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn direct_and_multipart_uploads_keep_small_contents_inline() {
    // Through Trove's own upload URL; on S3 a direct upload's bytes go to the store instead.
    let app = TestApp::builder()
        .local_storage()
        .config(|c| c.inline_max_bytes = THRESHOLD as u64)
        .start()
        .await;
    let created: Value = app
        .request(Method::POST, "/v1/uploads", &Who::Admin)
        .json(&json!({"name": "d.txt", "contentType": "text/plain", "size": 7}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = reqwest::Client::new()
        .put(created["upload"]["url"].as_str().unwrap())
        .header("content-type", "text/plain")
        .body("direct!")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    serves(
        &app,
        &format!("/v1/files/{}/content", id_of(&created["file"])),
        "direct!",
    )
    .await;

    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::text("one").file_name("1.txt"),
        )
        .part(
            "file",
            reqwest::multipart::Part::text("second").file_name("2.txt"),
        );
    let res = app.post_multipart(&Who::Admin, form).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let files = body["files"].as_array().expect("files");
    serves(
        &app,
        &format!("/v1/files/{}/content", id_of(&files[0])),
        "one",
    )
    .await;
    serves(
        &app,
        &format!("/v1/files/{}/content", id_of(&files[1])),
        "second",
    )
    .await;
    assert_eq!(stored_blobs(&app).await, 0);
}
