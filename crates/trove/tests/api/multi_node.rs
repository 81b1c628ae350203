//! Two Trove processes sharing one PostgreSQL database and one S3 store, as behind a load
//! balancer: whatever one node starts, the other reads, continues or finishes, including a
//! resumable upload whose first node was killed mid-way.

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{ReceiverStream, ServerProcess};

/// The environment both nodes share: database, store, and the secrets that make one node's
/// tokens, keys and signed URLs good on the other. `None` without the test servers (a
/// developer's machine); a failure under CI.
fn shared_env() -> Option<Vec<(String, String)>> {
    let (Ok(pg), Ok(s3)) = (
        std::env::var("TROVE_TEST_POSTGRES_URL"),
        std::env::var("TROVE_TEST_S3_URL"),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the multi-node tests: set TROVE_TEST_POSTGRES_URL and TROVE_TEST_S3_URL"
        );
        return None;
    };
    let aws = |k: &str| std::env::var(k).unwrap_or_default();
    let secret = |n: usize| {
        (0..n)
            .map(|_| format!("{:x}", rand_nibble()))
            .collect::<String>()
    };
    Some(vec![
        (
            "TROVE_DATABASE_URL".into(),
            trove_meta::postgres::scratch_schema_url(&pg),
        ),
        (
            "TROVE_STORAGE_URL".into(),
            format!("{}/{}", s3.trim_end_matches('/'), uuid::Uuid::new_v4()),
        ),
        ("TROVE_S3_ENDPOINT".into(), aws("AWS_ENDPOINT_URL")),
        ("TROVE_S3_REGION".into(), aws("AWS_REGION")),
        ("TROVE_S3_ACCESS_KEY_ID".into(), aws("AWS_ACCESS_KEY_ID")),
        (
            "TROVE_S3_SECRET_ACCESS_KEY".into(),
            aws("AWS_SECRET_ACCESS_KEY"),
        ),
        ("TROVE_S3_FORCE_PATH_STYLE".into(), "true".into()),
        ("TROVE_ADMIN_KEY".into(), secret(32)),
        ("TROVE_JWT_SECRET".into(), secret(48)),
        ("TROVE_SIGNING_KEY".into(), secret(48)),
    ])
}

fn rand_nibble() -> u8 {
    uuid::Uuid::new_v4().as_bytes()[0] & 0xf
}

struct Node {
    process: ServerProcess,
    _dir: tempfile::TempDir,
}

fn start_node(env: &[(String, String)]) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Node {
        process: ServerProcess::spawn(dir.path(), &pairs),
        _dir: dir,
    }
}

fn token(env: &[(String, String)], user: &str, tenant: &str) -> String {
    let secret = &env.iter().find(|(k, _)| k == "TROVE_JWT_SECRET").unwrap().1;
    trove_server::auth::token::issue(
        secret,
        &trove_server::auth::token::TokenRequest {
            user: user.into(),
            tenant: Some(tenant.into()),
            roles: Vec::new(),
            ttl: std::time::Duration::from_secs(3600),
        },
        "tenant_id",
        "roles",
        None,
        None,
    )
    .unwrap()
}

/// `url` (made by one node) pointed at another node's base URL.
fn on(node: &Node, url: &str, made_by: &Node) -> String {
    url.replacen(&made_by.process.url, &node.process.url, 1)
}

async fn send(client: &Client, rb: reqwest::RequestBuilder) -> reqwest::Response {
    let req = rb.build().unwrap();
    client.execute(req).await.unwrap()
}

#[tokio::test]
async fn two_nodes_share_files_uploads_and_links() {
    let Some(env) = shared_env() else {
        return;
    };
    let a = start_node(&env);
    let b = start_node(&env);
    let client = Client::new();
    let alice = format!("Bearer {}", token(&env, "alice", "acme"));
    let req = |node: &Node, method: Method, path: &str| {
        client
            .request(method, format!("{}{path}", node.process.url))
            .header("authorization", &alice)
    };

    // Uploaded on A, read, replaced and listed on B.
    let res = send(
        &client,
        req(&a, Method::POST, "/v1/files?name=notes.txt")
            .header("content-type", "text/plain")
            .body("written on a"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let file: Value = res.json().await.unwrap();
    let id = file["id"].as_str().unwrap().to_owned();
    let content = format!("/v1/files/{id}/content");
    let res = send(&client, req(&b, Method::GET, &content)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "written on a");
    let res = send(
        &client,
        req(&b, Method::PUT, &content)
            .header("content-type", "text/plain")
            .body("replaced on b"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = send(&client, req(&a, Method::GET, &content)).await;
    assert_eq!(res.text().await.unwrap(), "replaced on b");

    // A signed URL made by A works on B, without credentials.
    let res = send(
        &client,
        req(&a, Method::POST, &format!("/v1/files/{id}/signed-url"))
            .json(&json!({"expiresIn": 30})),
    )
    .await;
    let status = res.status();
    let signed: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{signed}");
    let url = on(&b, signed["url"].as_str().unwrap(), &a);
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{url}");
    assert_eq!(res.text().await.unwrap(), "replaced on b");

    // A direct upload created on A, its bytes sent to the store, completed on B.
    let res = send(
        &client,
        req(&a, Method::POST, "/v1/uploads")
            .json(&json!({"name": "scan.txt", "contentType": "text/plain", "size": 12})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    let direct_id = created["file"]["id"].as_str().unwrap().to_owned();
    let target = &created["upload"];
    let mut put = client.put(target["url"].as_str().unwrap());
    for (name, value) in target["headers"].as_object().unwrap() {
        put = put.header(name.as_str(), value.as_str().unwrap());
    }
    let res = put.body("scanned page").send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let res = send(
        &client,
        req(
            &b,
            Method::POST,
            &format!("/v1/uploads/{direct_id}/complete"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = send(
        &client,
        req(&a, Method::GET, &format!("/v1/files/{direct_id}/content")),
    )
    .await;
    assert_eq!(res.text().await.unwrap(), "scanned page");

    // Both nodes list the same files.
    let list = |node: &Node| {
        let rb = req(node, Method::GET, "/v1/files?orderBy=name&order=asc");
        let client = client.clone();
        async move {
            let page: Value = send(&client, rb).await.json().await.unwrap();
            page["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| (f["id"].clone(), f["etag"].clone()))
                .collect::<Vec<_>>()
        }
    };
    let on_a = list(&a).await;
    assert_eq!(on_a.len(), 2);
    assert_eq!(on_a, list(&b).await);

    // Deleted on B, gone on A.
    let res = send(&client, req(&b, Method::DELETE, &format!("/v1/files/{id}"))).await;
    assert!(res.status().is_success());
    let res = send(&client, req(&a, Method::GET, &content)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_resumable_upload_begun_on_a_killed_node_completes_on_another() {
    let Some(env) = shared_env() else {
        return;
    };
    let a = start_node(&env);
    let b = start_node(&env);
    let client = Client::new();
    let alice = format!("Bearer {}", token(&env, "alice", "acme"));
    // Larger than one 8 MiB part, so both the parts and the staged tail cross nodes.
    let body: Vec<u8> = (0..(20 * 1024 * 1024 + 12345))
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let first = 9 * 1024 * 1024 + 77;
    let tus = |rb: reqwest::RequestBuilder| {
        rb.header("authorization", &alice)
            .header("tus-resumable", "1.0.0")
    };

    let res = tus(client.post(format!("{}/v1/tus", a.process.url)))
        .header("upload-length", body.len().to_string())
        .header("upload-metadata", "filename YmlnLmJpbg==")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let res = tus(client.patch(&location))
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "0")
        .body(body[..first].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let acked: usize = res.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(acked, first);
    let url_on_b = on(&b, &location, &a);
    a.process.kill();

    let res = tus(client.head(&url_on_b)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["upload-offset"].to_str().unwrap(),
        first.to_string(),
        "B knows every byte A acknowledged"
    );
    let res = tus(client.patch(&url_on_b))
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", first.to_string())
        .body(body[first..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let id = res.headers()["trove-file-id"].to_str().unwrap().to_owned();
    let res = client
        .get(format!("{}/v1/files/{id}/content", b.process.url))
        .header("authorization", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let got = res.bytes().await.unwrap();
    assert_eq!(got.len(), body.len());
    assert_eq!(
        hex::encode(Sha256::digest(&got)),
        hex::encode(Sha256::digest(&body)),
        "byte-identical"
    );
}

#[tokio::test]
async fn one_node_at_a_time_writes_an_upload() {
    let Some(env) = shared_env() else {
        return;
    };
    let a = start_node(&env);
    let b = start_node(&env);
    let client = Client::new();
    let alice = format!("Bearer {}", token(&env, "alice", "acme"));
    let body: Vec<u8> = (0..(3 * 1024 * 1024 + 99))
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let tus = |rb: reqwest::RequestBuilder| {
        rb.header("authorization", &alice)
            .header("tus-resumable", "1.0.0")
            .header("content-type", "application/offset+octet-stream")
    };
    let res = tus(client.post(format!("{}/v1/tus", a.process.url)))
        .header("upload-length", body.len().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let url_on_b = on(&b, &location, &a);

    // A's request stays open while the test holds the rest of its body.
    let (feed, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let writing_on_a = tokio::spawn(
        tus(client.patch(&location))
            .header("upload-offset", "0")
            .body(reqwest::Body::wrap_stream(ReceiverStream(rx)))
            .send(),
    );
    feed.send(Ok(body[..64 * 1024].to_vec())).await.unwrap();

    // The test waits until A's request holds the upload (its lease is in the shared database),
    // so that what follows does not depend on which request reached the database first.
    let db_url = &env
        .iter()
        .find(|(k, _)| k == "TROVE_DATABASE_URL")
        .unwrap()
        .1;
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(db_url)
        .await
        .unwrap();
    let lease = format!("upload:{}", location.rsplit('/').next().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(10));
    loop {
        let held: i64 = sqlx::query_scalar("SELECT count(*) FROM leases WHERE name = $1")
            .bind(&lease)
            .fetch_one(&mut db)
            .await
            .unwrap();
        if held == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "A never took the upload"
        );
        tick.tick().await;
    }

    // B is refused for as long as A writes, with or without bytes.
    let res = tus(client.patch(&url_on_b))
        .header("upload-offset", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::LOCKED);
    let refusal: Value = res.json().await.unwrap();
    assert_eq!(refusal["error"]["code"], "upload_locked", "{refusal}");
    let res = tus(client.patch(&url_on_b))
        .header("upload-offset", "0")
        .body(body[..1024].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::LOCKED, "not even with bytes");

    for chunk in body[64 * 1024..].chunks(256 * 1024) {
        feed.send(Ok(chunk.to_vec())).await.unwrap();
    }
    drop(feed);
    let res = writing_on_a.await.unwrap().unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let id = res.headers()["trove-file-id"].to_str().unwrap().to_owned();

    // Once A is done, B may ask at once and finds the upload finished.
    let res = tus(client.patch(&url_on_b))
        .header("upload-offset", body.len().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers()["trove-file-id"].to_str().unwrap(), id);
    let got = client
        .get(format!("{}/v1/files/{id}/content", b.process.url))
        .header("authorization", &alice)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(&got)),
        hex::encode(Sha256::digest(&body)),
        "byte-identical"
    );
}
