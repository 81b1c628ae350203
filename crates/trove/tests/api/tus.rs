//! tus 1.0 over HTTP: every status and header the protocol and its extensions fix, as a client
//! relies on them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, RequestBuilder, Response};
use sha2::Digest;
use trove_core::tus::encode_metadata;

use crate::common::{TestApp, Who, channel_body, error_code, wait_for};

pub fn tus(app: &TestApp, method: Method, path: &str, who: &Who) -> RequestBuilder {
    app.request(method, path, who)
        .header("tus-resumable", "1.0.0")
}

pub fn header(res: &Response, name: &str) -> String {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// Creates an upload and returns its path (`/v1/tus/{id}`).
pub async fn create(app: &TestApp, who: &Who, length: u64, metadata: &[(&str, &str)]) -> String {
    let res = tus(app, Method::POST, "/v1/tus", who)
        .header("upload-length", length)
        .header("upload-metadata", encode_metadata(metadata))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let location = header(&res, "location");
    location
        .strip_prefix(&app.url)
        .expect("an absolute upload URL on this server")
        .to_owned()
}

pub async fn patch(app: &TestApp, who: &Who, path: &str, offset: u64, body: Vec<u8>) -> Response {
    tus(app, Method::PATCH, path, who)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset)
        .body(body)
        .send()
        .await
        .unwrap()
}

pub async fn offset(app: &TestApp, who: &Who, path: &str) -> u64 {
    let res = tus(app, Method::HEAD, path, who).send().await.unwrap();
    assert_eq!(res.status(), 200);
    header(&res, "upload-offset").parse().unwrap()
}

async fn content(app: &TestApp, id: &str) -> Vec<u8> {
    let res = app
        .get(&format!("/v1/files/{id}/content"), &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap().to_vec()
}

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
    assert_eq!(uploads_on_disk(&app), 0, "its bytes are gone");

    // Deleting the pending file, or cancelling it as a direct upload would be, ends the upload too.
    for how in ["/v1/files/", "/v1/uploads/"] {
        let path = create(&app, &who, 10, &[("filename", "t.txt")]).await;
        assert_eq!(
            patch(&app, &who, &path, 0, b"hello".to_vec())
                .await
                .status(),
            204
        );
        assert_eq!(uploads_on_disk(&app), 1);
        let id = path.rsplit('/').next().unwrap();
        let res = app
            .request(Method::DELETE, &format!("{how}{id}"), &who)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204, "{how}");
        assert_eq!(uploads_on_disk(&app), 0, "{how}");
        assert_eq!(
            patch(&app, &who, &path, 5, b"world".to_vec())
                .await
                .status(),
            404
        );
    }
}

fn uploads_on_disk(app: &TestApp) -> usize {
    std::fs::read_dir(app.data_dir().join("blobs/.uploads"))
        .unwrap()
        .count()
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

/// Creates a partial upload of `len` bytes and sends it `data`; returns its URL.
async fn partial(app: &TestApp, who: &Who, len: usize, data: &[u8]) -> String {
    let res = tus(app, Method::POST, "/v1/tus", who)
        .header("upload-length", len)
        .header("upload-concat", "partial")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let url = header(&res, "location");
    let path = url.strip_prefix(&app.url).unwrap().to_owned();
    let head = tus(app, Method::HEAD, &path, who).send().await.unwrap();
    assert_eq!(header(&head, "upload-concat"), "partial");
    if !data.is_empty() {
        let done = patch(app, who, &path, 0, data.to_vec()).await;
        assert_eq!(done.status(), 204);
        assert!(
            !done.headers().contains_key("trove-file-id"),
            "a part is not a file"
        );
    }
    url
}

fn path_of<'a>(app: &TestApp, url: &'a str) -> &'a str {
    url.strip_prefix(&app.url).unwrap()
}

#[tokio::test]
async fn three_partial_uploads_concatenate_into_one_file() {
    let app = TestApp::start().await;
    let who = app.user("alice", Some("t1"));
    let mut urls = Vec::new();
    for part in [&b"first,"[..], b"second,", b"third"] {
        urls.push(partial(&app, &who, part.len(), part).await);
    }
    let listed = app.get_json("/v1/uploads", &who).await;
    assert_eq!(
        listed["uploads"].as_array().unwrap().len(),
        0,
        "parts are not listed on their own"
    );
    // Nobody may concatenate someone else's parts.
    let res = tus(&app, Method::POST, "/v1/tus", &app.user("bob", Some("t1")))
        .header("upload-concat", format!("final;{}", urls.join(" ")))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");

    let res = tus(&app, Method::POST, "/v1/tus", &who)
        .header("upload-concat", format!("final;{}", urls.join(" ")))
        .header(
            "upload-metadata",
            encode_metadata(&[("filename", "whole.txt")]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let id = header(&res, "trove-file-id");
    let path = path_of(&app, &header(&res, "location")).to_owned();
    assert_eq!(content(&app, &id).await, b"first,second,third");
    let file = app.get_json(&format!("/v1/files/{id}"), &who).await;
    assert_eq!(
        (file["name"].as_str(), file["size"].as_u64()),
        (Some("whole.txt"), Some(18))
    );
    let head = tus(&app, Method::HEAD, &path, &who).send().await.unwrap();
    assert_eq!(header(&head, "upload-offset"), "18");
    assert!(header(&head, "upload-concat").starts_with("final;"));
    let res = patch(&app, &who, &path, 18, b"more".to_vec()).await;
    assert_eq!(
        error_code(res, 403).await,
        "forbidden",
        "a final upload takes no PATCH"
    );
    for url in &urls {
        let res = tus(&app, Method::HEAD, path_of(&app, url), &who)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "parts go once concatenated");
    }
}

#[tokio::test]
async fn a_final_upload_may_name_parts_that_are_still_arriving() {
    let app = TestApp::start().await;
    let who = app.user("alice", Some("t1"));
    let one = partial(&app, &who, 4, b"abcd").await;
    let two = partial(&app, &who, 4, b"ef").await;
    let three = partial(&app, &who, 3, b"").await;
    let res = tus(&app, Method::POST, "/v1/tus", &who)
        .header("upload-concat", format!("final;{one} {two} {three}"))
        .header(
            "upload-metadata",
            encode_metadata(&[("filename", "later.txt"), ("fingerprint", "fp-final")]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert!(
        !res.headers().contains_key("trove-file-id"),
        "not a file yet"
    );
    let final_url = header(&res, "location");
    let final_path = path_of(&app, &final_url).to_owned();
    let head = tus(&app, Method::HEAD, &final_path, &who)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert!(
        !head.headers().contains_key("upload-offset"),
        "no offset before the concatenation"
    );
    assert_eq!(header(&head, "upload-length"), "11");

    // The final upload is listed, with its parts under it; the parts are not listed alone.
    let listed = app.get_json("/v1/uploads", &who).await;
    let uploads = listed["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0]["url"], final_url.as_str());
    assert_eq!(uploads[0]["fingerprint"], "fp-final");
    assert_eq!(
        (uploads[0]["offset"].as_u64(), uploads[0]["length"].as_u64()),
        (Some(6), Some(11))
    );
    let parts = uploads[0]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[1]["url"], two.as_str());
    assert_eq!(
        (parts[1]["offset"].as_u64(), parts[1]["length"].as_u64()),
        (Some(2), Some(4))
    );

    // A part already taken by a final upload cannot be taken again, nor terminated on its own.
    let res = tus(&app, Method::POST, "/v1/tus", &who)
        .header("upload-concat", format!("final;{one}"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
    let res = tus(&app, Method::DELETE, path_of(&app, &one), &who)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 409).await, "conflict");

    // The request that completes the last part makes the final upload a file.
    assert_eq!(
        patch(&app, &who, path_of(&app, &two), 2, b"gh".to_vec())
            .await
            .status(),
        204
    );
    let last = patch(&app, &who, path_of(&app, &three), 0, b"ijk".to_vec()).await;
    assert_eq!(last.status(), 204);
    let id = header(&last, "trove-file-id");
    assert_eq!(final_path.rsplit('/').next().unwrap(), id);
    assert_eq!(content(&app, &id).await, b"abcdefghijk");
    let head = tus(&app, Method::HEAD, &final_path, &who)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&head, "upload-offset"), "11");
    assert_eq!(header(&head, "trove-file-id"), id);
    assert!(
        app.get_json("/v1/uploads", &who).await["uploads"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(uploads_on_disk(&app), 0);
}

#[tokio::test]
async fn terminating_a_final_upload_takes_its_parts() {
    let app = TestApp::start().await;
    let who = Who::Admin;
    let one = partial(&app, &who, 4, b"ab").await;
    let res = tus(&app, Method::POST, "/v1/tus", &who)
        .header("upload-concat", format!("final;{one}"))
        .send()
        .await
        .unwrap();
    let final_path = path_of(&app, &header(&res, "location")).to_owned();
    let res = tus(&app, Method::DELETE, &final_path, &who)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    for p in [final_path.as_str(), path_of(&app, &one)] {
        let res = tus(&app, Method::HEAD, p, &who).send().await.unwrap();
        assert_eq!(res.status(), 404);
    }
    assert_eq!(uploads_on_disk(&app), 0);
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
    std::fs::write(
        app.data_dir()
            .join("blobs/.uploads")
            .join(uuid::Uuid::now_v7().to_string()),
        b"stray",
    )
    .unwrap();
    let (removed, _) = trove_server::service::uploads::collect_garbage(&app.server.state)
        .await
        .unwrap();
    assert!(
        removed >= 2,
        "the upload and the partial upload were collected"
    );
    for p in [&path, &partial] {
        let res = tus(&app, Method::HEAD, p, &who).send().await.unwrap();
        assert_eq!(res.status(), 404);
    }
    assert_eq!(uploads_on_disk(&app), 0);
}

#[tokio::test]
async fn concurrent_patches_never_interleave_and_a_cut_off_patch_keeps_its_bytes() {
    const MIB: usize = 1024 * 1024;
    let app = TestApp::start().await;
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
    assert_eq!(uploads_on_disk(&app), 0);
    let listed = app.get_json("/v1/uploads", &who).await;
    assert_eq!(listed["uploads"].as_array().unwrap().len(), 0);
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

#[tokio::test]
async fn parts_completing_at_once_are_concatenated_exactly_once() {
    let app = TestApp::start().await;
    let who = Who::Admin;
    for round in 0..5u8 {
        let one = partial(&app, &who, 8, b"1111").await;
        let two = partial(&app, &who, 8, b"2222").await;
        let res = tus(&app, Method::POST, "/v1/tus", &who)
            .header("upload-concat", format!("final;{one} {two}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let (a, b) = tokio::join!(
            patch(&app, &who, path_of(&app, &one), 4, vec![b'a' + round; 4]),
            patch(&app, &who, path_of(&app, &two), 4, vec![b'b' + round; 4]),
        );
        assert_eq!((a.status().as_u16(), b.status().as_u16()), (204, 204));
        let ids: Vec<String> = [&a, &b]
            .iter()
            .filter_map(|r| r.headers().get("trove-file-id"))
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 1, "one request made the file");
        let mut expected = b"1111".to_vec();
        expected.extend([b'a' + round; 4]);
        expected.extend(b"2222");
        expected.extend([b'b' + round; 4]);
        assert_eq!(content(&app, &ids[0]).await, expected);
    }
    assert_eq!(uploads_on_disk(&app), 0);
}
