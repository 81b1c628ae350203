//! Downloads: headers, the Range and conditional matrix, disposition, caching, active content.

use reqwest::Method;
use serde_json::json;

use crate::common::{TestApp, Who, error_code, id_of};

const BODY: &str = "0123456789abcdefghij";

async fn file(app: &TestApp, query: &str) -> (String, String) {
    let f = app.upload(&Who::Admin, query, "text/plain", BODY).await;
    (id_of(&f), f["etag"].as_str().unwrap().to_owned())
}

async fn get(app: &TestApp, id: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut rb = app.get(&format!("/v1/files/{id}/content"), &Who::Admin);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    rb.send().await.unwrap()
}

#[tokio::test]
async fn full_download_headers() {
    let app = TestApp::start().await;
    let (id, etag) = file(&app, "name=r%C3%A9sum%C3%A9.txt").await;
    let res = get(&app, &id, &[]).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["etag"], etag.as_str());
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "strong ETag"
    );
    assert!(h.contains_key("last-modified"));
    assert_eq!(h["content-type"], "text/plain");
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["content-length"], "20");
    assert!(!h.contains_key("transfer-encoding"), "never chunked");
    assert_eq!(h["cache-control"], "private, max-age=3600");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(
        h["content-disposition"],
        "inline; filename=\"r_sum_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"
    );
    assert!(!h.contains_key("content-security-policy"));
    assert_eq!(res.text().await.unwrap(), BODY);

    let res = app
        .get(&format!("/v1/files/{id}/content?download=1"), &Who::Admin)
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );

    let head = app
        .request(
            Method::HEAD,
            &format!("/v1/files/{id}/content"),
            &Who::Admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "20");
    assert_eq!(head.headers()["etag"], etag.as_str());
    assert_eq!(head.bytes().await.unwrap().len(), 0);
}

#[tokio::test]
async fn cache_control_follows_visibility_and_bucket() {
    let app = TestApp::start().await;
    app.create_bucket(json!({"id": "cdn", "cacheControl": "public, max-age=86400"}))
        .await;
    app.create_bucket(json!({"id": "nostore", "cacheControl": "no-store"}))
        .await;
    let (public, _) = file(&app, "name=a.txt&visibility=public&bucketId=cdn").await;
    let (private, _) = file(&app, "name=a.txt&bucketId=cdn").await;
    let (nostore, _) = file(&app, "name=a.txt&bucketId=nostore").await;
    assert_eq!(
        get(&app, &public, &[]).await.headers()["cache-control"],
        "public, max-age=86400"
    );
    // What a shared cache may do with a private file: nothing. `private` leads, and nothing
    // (`public`, `s-maxage`) contradicts it.
    let cc = get(&app, &private, &[]).await.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    let directives: Vec<String> = cc
        .split(',')
        .map(|d| d.split('=').next().unwrap().trim().to_ascii_lowercase())
        .collect();
    assert_eq!(directives[0], "private", "{cc}");
    assert!(
        !directives.iter().any(|d| d == "public" || d == "s-maxage"),
        "{cc}"
    );
    let cc = get(&app, &nostore, &[]).await.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cc.split(',').any(|d| d.trim() == "no-store"), "{cc}");
}

#[tokio::test]
async fn ranges() {
    let app = TestApp::start().await;
    let (id, _) = file(&app, "name=a.txt").await;
    for (range, status, content_range, body) in [
        ("bytes=0-4", 206, "bytes 0-4/20", "01234"),
        ("bytes=10-", 206, "bytes 10-19/20", "abcdefghij"),
        ("bytes=-3", 206, "bytes 17-19/20", "hij"),
        ("bytes=15-100", 206, "bytes 15-19/20", "fghij"),
        ("bytes=-100", 206, "bytes 0-19/20", BODY),
    ] {
        let res = get(&app, &id, &[("range", range)]).await;
        assert_eq!(res.status(), status, "{range}");
        assert_eq!(res.headers()["content-range"], content_range, "{range}");
        assert_eq!(
            res.headers()["content-length"],
            body.len().to_string().as_str()
        );
        assert_eq!(res.text().await.unwrap(), body, "{range}");
    }
    for range in ["bytes=20-", "bytes=25-30", "bytes=-0"] {
        let res = get(&app, &id, &[("range", range)]).await;
        assert_eq!(res.headers()["content-range"], "bytes */20", "{range}");
        assert_eq!(error_code(res, 416).await, "range_not_satisfiable");
    }
    for range in ["bytes=0-1,4-5", "items=0-3", "bytes=5-2", "nonsense"] {
        let res = get(&app, &id, &[("range", range)]).await;
        assert_eq!(res.status(), 200, "{range} falls back to the whole file");
        assert_eq!(res.text().await.unwrap(), BODY);
    }
}

#[tokio::test]
async fn conditionals() {
    let app = TestApp::start().await;
    let (id, etag) = file(&app, "name=a.txt").await;
    let res = get(&app, &id, &[]).await;
    let last_modified = res.headers()["last-modified"].to_str().unwrap().to_owned();
    let weak = format!("W/{etag}");
    let list = format!("\"nope\", {etag}");
    let long_ago = "Mon, 01 Jan 2001 00:00:00 GMT";
    let future = "Fri, 01 Jan 2100 00:00:00 GMT";
    let cases: Vec<(Vec<(&str, &str)>, u16)> = vec![
        (vec![("if-none-match", etag.as_str())], 304),
        (vec![("if-none-match", weak.as_str())], 304),
        (vec![("if-none-match", list.as_str())], 304),
        (vec![("if-none-match", "*")], 304),
        (vec![("if-none-match", "\"other\"")], 200),
        (vec![("if-match", etag.as_str())], 200),
        (vec![("if-match", list.as_str())], 200),
        (vec![("if-match", "*")], 200),
        (vec![("if-match", weak.as_str())], 412),
        (vec![("if-match", "\"other\"")], 412),
        (vec![("if-modified-since", last_modified.as_str())], 304),
        (vec![("if-modified-since", future)], 304),
        (vec![("if-modified-since", long_ago)], 200),
        (vec![("if-unmodified-since", long_ago)], 412),
        (vec![("if-unmodified-since", last_modified.as_str())], 200),
        // If-None-Match wins over If-Modified-Since; If-Match over If-Unmodified-Since.
        (
            vec![
                ("if-none-match", "\"other\""),
                ("if-modified-since", last_modified.as_str()),
            ],
            200,
        ),
        (
            vec![
                ("if-match", etag.as_str()),
                ("if-unmodified-since", long_ago),
            ],
            200,
        ),
        (
            vec![("if-match", "\"other\""), ("if-none-match", etag.as_str())],
            412,
        ),
    ];
    for (headers, expected) in cases {
        let res = get(&app, &id, &headers).await;
        assert_eq!(res.status().as_u16(), expected, "{headers:?}");
        if expected == 304 {
            assert_eq!(res.headers()["etag"], etag.as_str());
            assert!(res.bytes().await.unwrap().is_empty());
        } else if expected == 412 {
            assert_eq!(error_code(res, 412).await, "precondition_failed");
        }
    }
    // If-Range: a matching validator honours the range, another one sends the whole file.
    let res = get(
        &app,
        &id,
        &[("range", "bytes=0-1"), ("if-range", etag.as_str())],
    )
    .await;
    assert_eq!(res.status(), 206);
    let res = get(
        &app,
        &id,
        &[("range", "bytes=0-1"), ("if-range", "\"other\"")],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), BODY);
    let res = get(
        &app,
        &id,
        &[("range", "bytes=0-1"), ("if-range", last_modified.as_str())],
    )
    .await;
    assert_eq!(res.status(), 206);
    let res = get(&app, &id, &[("range", "bytes=0-1"), ("if-range", long_ago)]).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn replaced_content_gets_a_new_etag_and_old_validators_stop_matching() {
    let app = TestApp::builder().blobs_only().start().await;
    let (id, etag) = file(&app, "name=a.txt").await;
    let res = app
        .request(Method::PUT, &format!("/v1/files/{id}/content"), &Who::Admin)
        .header("content-type", "text/plain")
        .body("new content")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let updated: serde_json::Value = res.json().await.unwrap();
    assert_ne!(updated["etag"].as_str().unwrap(), etag);
    assert_eq!(updated["size"], 11);
    assert_eq!(updated["id"].as_str().unwrap(), id);
    let res = get(&app, &id, &[("if-none-match", etag.as_str())]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "new content");
    // The old revision's blob is gone from the store.
    assert_eq!(
        crate::common::stored_blobs(&app).await,
        1,
        "only the current revision is stored"
    );
}

#[tokio::test]
async fn active_content_is_sandboxed_and_downloaded() {
    let app = TestApp::start().await;
    for (name, body) in [
        ("page.txt", "<!DOCTYPE html><script>alert(1)</script>"),
        (
            "image.svg",
            "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        ),
        ("data.xml", "<?xml version='1.0'?><a/>"),
        ("app.js", "alert(1)"),
    ] {
        let f = app
            .upload(
                &Who::Admin,
                &format!("name={name}"),
                "application/octet-stream",
                body,
            )
            .await;
        let res = get(&app, &id_of(&f), &[]).await;
        let h = res.headers();
        assert_eq!(h["content-security-policy"], "sandbox", "{name}");
        assert!(
            h["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment;"),
            "{name}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
    }
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_not_found() {
    let app = TestApp::start().await;
    for path in [
        "/v1/files/00000000-0000-7000-8000-000000000000",
        "/v1/files/not-a-uuid",
        "/v1/files/00000000-0000-7000-8000-000000000000/content",
    ] {
        let res = app.get(path, &Who::Admin).send().await.unwrap();
        assert_eq!(error_code(res, 404).await, "not_found", "{path}");
    }
}

/// Blobs stored before keys were fanned out (`{bucket}/{fileId}/{revision}`) are still served.
#[tokio::test]
async fn blobs_under_the_key_layout_before_the_fan_out_are_still_served() {
    let app = TestApp::builder()
        .blobs_only()
        .local_storage()
        .start()
        .await;
    let file = app
        .upload(&Who::Admin, "name=old.txt", "text/plain", "stored long ago")
        .await;
    let id = crate::common::id_of(&file);
    let folder = crate::common::file_folder(&app, "default", &id);
    let legacy = app.data_dir().join("blobs/default").join(&id);
    std::fs::rename(&folder, &legacy).unwrap();
    let res = app
        .get(&format!("/v1/files/{id}/content"), &Who::Admin)
        .header("range", "bytes=7-")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.text().await.unwrap(), "long ago");
}
