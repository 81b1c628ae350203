//! The concatenation extensions: partial and final uploads, finished or not.

use reqwest::Method;
use trove_core::tus::encode_metadata;

use super::{content, header, patch, tus, uploads_on_disk};
use crate::common::{TestApp, Who, error_code};

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
    assert_eq!(uploads_on_disk(&app).await, 0);
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
    assert_eq!(uploads_on_disk(&app).await, 0);
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
    assert_eq!(uploads_on_disk(&app).await, 0);
}
