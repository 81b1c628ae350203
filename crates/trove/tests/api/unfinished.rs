//! Resumable uploads across restarts and crashes, and `GET /v1/uploads`, the server's list of
//! unfinished uploads.

use reqwest::Method;
use serde_json::{Value, json};
use sha2::Digest;
use trove_core::tus::encode_metadata;

use crate::common::{ServerProcess, TestApp, Who, error_code};
use crate::tus::{create, header, offset, patch, tus};

/// SIGKILL right after a PATCH's 204, restart on the same data: HEAD reports at least what was
/// acknowledged, and the upload completes byte-identical.
#[tokio::test]
async fn an_acknowledged_offset_survives_sigkill_and_the_upload_completes_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(7) % 253) as u8)
        .collect();
    let client = reqwest::Client::new();
    let server = ServerProcess::spawn(dir.path(), &[]);
    let key = server.admin_key.clone();
    let req = |m: Method, url: String| {
        client
            .request(m, url)
            .header("x-trove-admin-key", &key)
            .header("tus-resumable", "1.0.0")
    };
    let res = req(Method::POST, format!("{}/v1/tus", server.url))
        .header("upload-length", data.len())
        .header(
            "upload-metadata",
            encode_metadata(&[("filename", "crash.bin")]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let location = header(&res, "location");
    let path = location.strip_prefix(&server.url).unwrap().to_owned();
    let res = req(Method::PATCH, location.clone())
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", 0)
        .body(data[..2_000_000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let acknowledged: u64 = header(&res, "upload-offset").parse().unwrap();
    server.kill();

    let server = ServerProcess::spawn(dir.path(), &[]);
    let url = format!("{}{path}", server.url);
    let req = |m: Method| {
        client
            .request(m, url.clone())
            .header("x-trove-admin-key", &server.admin_key)
            .header("tus-resumable", "1.0.0")
    };
    let res = req(Method::HEAD).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let at: u64 = header(&res, "upload-offset").parse().unwrap();
    assert!(at >= acknowledged, "{at} < acknowledged {acknowledged}");
    let res = req(Method::PATCH)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", at)
        .body(data[at as usize..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let id = header(&res, "trove-file-id");
    let body = server.content(&client, &id).await;
    assert_eq!(sha2::Sha256::digest(&body), sha2::Sha256::digest(&data));
}

fn ids(listing: &Value) -> Vec<String> {
    listing["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["file"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_server_lists_each_callers_unfinished_uploads() {
    let app = TestApp::start().await;
    app.create_bucket(json!({"id": "docs"})).await;
    let alice = app.user("alice", Some("t1"));
    let bob = app.user("bob", Some("t1"));

    let tus_path = create(
        &app,
        &alice,
        10,
        &[("filename", "a.txt"), ("fingerprint", "fp-a")],
    )
    .await;
    assert_eq!(
        patch(&app, &alice, &tus_path, 0, b"12345".to_vec())
            .await
            .status(),
        204
    );
    let direct: Value = app
        .request(Method::POST, "/v1/uploads", &alice)
        .json(
            &json!({"name": "b.txt", "contentType": "text/plain", "size": 3,
                      "bucketId": "docs", "fingerprint": "fp-b"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let direct_id = direct["file"]["id"].as_str().unwrap().to_owned();
    let bobs = create(&app, &bob, 4, &[("filename", "bob.txt")]).await;
    let tus_id = tus_path.rsplit('/').next().unwrap().to_owned();
    let bob_id = bobs.rsplit('/').next().unwrap().to_owned();

    let mine = app.get_json("/v1/uploads", &alice).await;
    assert_eq!(
        ids(&mine),
        vec![direct_id.clone(), tus_id.clone()],
        "own, newest first"
    );
    let first = &mine["uploads"][1];
    assert_eq!(first["protocol"], "tus");
    assert_eq!(
        (first["offset"].as_u64(), first["length"].as_u64()),
        (Some(5), Some(10))
    );
    assert_eq!(first["fingerprint"], "fp-a");
    assert_eq!(first["url"], format!("{}{tus_path}", app.url));
    assert!(first["expiresAt"].as_str().unwrap().ends_with('Z'));
    let second = &mine["uploads"][0];
    assert_eq!(second["protocol"], "direct");
    assert_eq!(
        (second["offset"].as_u64(), second["length"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(second["headers"], direct["upload"]["headers"]);
    let listed_url = second["url"].as_str().unwrap().to_owned();
    let listed_headers = second["headers"].as_object().unwrap().clone();

    // The URL given is where to continue.
    let url = first["url"]
        .as_str()
        .unwrap()
        .strip_prefix(&app.url)
        .unwrap();
    assert_eq!(offset(&app, &alice, url).await, 5);

    for (query, expected) in [
        ("protocol=tus", vec![tus_id.clone()]),
        ("protocol=direct", vec![direct_id.clone()]),
        ("fingerprint=fp-b", vec![direct_id.clone()]),
        ("bucketId=docs", vec![direct_id.clone()]),
    ] {
        let got = app.get_json(&format!("/v1/uploads?{query}"), &alice).await;
        assert_eq!(ids(&got), expected, "{query}");
    }
    let page = app.get_json("/v1/uploads?limit=1", &alice).await;
    assert_eq!(ids(&page), vec![direct_id.clone()]);
    let cursor = page["nextCursor"].as_str().unwrap();
    let page = app
        .get_json(&format!("/v1/uploads?limit=1&cursor={cursor}"), &alice)
        .await;
    assert_eq!(ids(&page), vec![tus_id.clone()]);
    assert!(page["nextCursor"].is_null());

    assert_eq!(
        ids(&app.get_json("/v1/uploads", &bob).await),
        vec![bob_id.clone()]
    );
    let all = app.get_json("/v1/uploads", &Who::Admin).await;
    assert_eq!(
        ids(&all),
        vec![bob_id.clone(), direct_id.clone(), tus_id.clone()]
    );
    let filtered = app
        .get_json("/v1/uploads?uploadedByUserId=bob", &Who::Admin)
        .await;
    assert_eq!(ids(&filtered), vec![bob_id.clone()]);
    let res = app
        .get("/v1/uploads?uploadedByUserId=bob", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 403).await, "forbidden");
    for bad in ["limit=0", "limit=1001", "protocol=ftp", "cursor=nope"] {
        let res = app
            .get(&format!("/v1/uploads?{bad}"), &alice)
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(res, 400).await, "invalid_request", "{bad}");
    }
    let res = app
        .get("/v1/uploads", &Who::Anonymous)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // Gone once completed, or terminated.
    assert_eq!(
        patch(&app, &alice, &tus_path, 5, b"67890".to_vec())
            .await
            .status(),
        204
    );
    let res = tus(&app, Method::DELETE, &bobs, &bob).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        ids(&app.get_json("/v1/uploads", &alice).await),
        vec![direct_id.clone()]
    );
    assert!(ids(&app.get_json("/v1/uploads", &bob).await).is_empty());

    // The listed URL is as good as the one given at creation: the bytes go through it.
    let mut put = reqwest::Client::new().put(&listed_url);
    for (name, value) in &listed_headers {
        put = put.header(name.as_str(), value.as_str().unwrap());
    }
    let res = put.body("abc").send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let res = app
        .request(
            Method::POST,
            &format!("/v1/uploads/{direct_id}/complete"),
            &alice,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(ids(&app.get_json("/v1/uploads", &alice).await).is_empty());
}
