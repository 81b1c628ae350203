//! Every input has a bound: nesting, offsets, query cost, body and header sizes, ranges, part
//! counts, connections. Each test sends what used to cost the server dearly (or kill it) and then
//! finds it healthy.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{TestApp, Who, error_code, id_of};
use crate::database::Database;

async fn healthy(app: &TestApp) {
    let res = app.get("/healthz", &Who::Anonymous).send().await.unwrap();
    assert_eq!(res.status(), 200, "the server survived");
}

async fn graphql_post(app: &TestApp, who: &Who, body: String) -> reqwest::Response {
    app.request(Method::POST, "/graphql", who)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Item 8: inputs nested 100,000 levels deep, anonymous, over every parser that recurses.
#[tokio::test]
async fn deeply_nested_input_is_refused_and_the_server_stays_up() {
    let app = TestApp::start().await;
    let levels = 100_000;
    let objects = format!(
        "{{ files(where: {}1{}) {{ nodes {{ id }} }} }}",
        "{q: ".repeat(levels),
        "}".repeat(levels)
    );
    let lists = format!(
        "{{ files(where: {{q: {}1{}}}) {{ nodes {{ id }} }} }}",
        "[".repeat(levels),
        "]".repeat(levels)
    );
    for query in [objects, lists] {
        let res = graphql_post(&app, &Who::Anonymous, json!({ "query": query }).to_string()).await;
        assert_eq!(error_code(res, 400).await, "invalid_request");
        healthy(&app).await;
    }
    // In the variables, too.
    let variables = format!(
        "{{\"query\": \"query($w: FileWhere) {{ files(where: $w) {{ nodes {{ id }} }} }}\", \"variables\": {{\"w\": {}1{}}}}}",
        "{\"q\": ".repeat(levels),
        "}".repeat(levels)
    );
    let res = graphql_post(&app, &Who::Anonymous, variables).await;
    assert_eq!(error_code(res, 400).await, "invalid_request");
    healthy(&app).await;
    // Over GET (the URL bounds the size; 5,000 levels used to be far past the crash).
    let get_levels = 5_000;
    let query = format!(
        "%7B%20files(where%3A%20{}1{})%20%7B%20nodes%20%7B%20id%20%7D%20%7D%20%7D",
        "%7Bq%3A".repeat(get_levels),
        "%7D".repeat(get_levels)
    );
    let res = app
        .get(&format!("/graphql?query={query}"), &Who::Anonymous)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
    healthy(&app).await;
    // JSON bodies and metadata.
    let user = app.user("u1", Some("t1"));
    let id = id_of(&app.upload(&user, "name=a.txt", "text/plain", "x").await);
    let deep_json = format!(
        "{{\"metadata\": {{\"a\": {}1{}}}}}",
        "[".repeat(levels),
        "]".repeat(levels)
    );
    let res = app
        .request(Method::PATCH, &format!("/v1/files/{id}"), &user)
        .header("content-type", "application/json")
        .body(deep_json.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
    healthy(&app).await;
    let form = reqwest::multipart::Form::new()
        .text(
            "metadata",
            format!("{{\"a\": {}1{}}}", "[".repeat(levels), "]".repeat(levels)),
        )
        .part(
            "file",
            reqwest::multipart::Part::text("x").file_name("x.txt"),
        );
    let res = app.post_multipart(&user, form).await;
    assert_eq!(error_code(res, 400).await, "invalid_request");
    // Metadata may nest, but not without end: 17 levels are refused, 16 accepted.
    let nest = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    for (levels, status) in [(15, 200), (16, 400)] {
        let res = app
            .request(Method::PATCH, &format!("/v1/files/{id}"), &user)
            .header("content-type", "application/json")
            .body(format!("{{\"metadata\": {{\"a\": {}}}}}", nest(levels)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "metadata {} levels deep", levels + 1);
    }
    healthy(&app).await;
}

/// Item 9: `offset` is capped in the query parser REST and GraphQL share; deep pages use `cursor`.
#[tokio::test]
async fn offset_is_capped_and_points_to_the_cursor() {
    let app = TestApp::start().await;
    for offset in ["9223372036854775807", "10001", "18446744073709551616"] {
        let res = app
            .get(&format!("/v1/files?offset={offset}"), &Who::Admin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{offset}");
        let body: Value = res.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cursor"),
            "{body}"
        );
    }
    let res = app
        .get("/v1/files?offset=10000", &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let gql: Value = graphql_post(
        &app,
        &Who::Admin,
        json!({"query": "{ files(offset: 2000000000) { nodes { id } } }"}).to_string(),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        gql["errors"][0]["extensions"]["code"], "invalid_request",
        "{gql}"
    );
}

/// Item 10: a list field costs its `limit` times what it selects, so nested listings are refused
/// before they run.
#[tokio::test]
async fn nested_listings_cost_their_limits() {
    let app = TestApp::start().await;
    let query = "{ files(limit:1000){nodes{bucket{files(limit:1000){nodes{bucket{files(limit:1000){nodes{id}}}}}}}}}";
    for who in [Who::Anonymous, Who::Admin] {
        let res: Value = graphql_post(&app, &who, json!({ "query": query }).to_string())
            .await
            .json()
            .await
            .unwrap();
        assert!(res["data"].is_null(), "{res}");
        assert!(
            res["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("complex"),
            "{res}"
        );
    }
    let res: Value = graphql_post(
        &app,
        &Who::Admin,
        json!({"query": "{ files(limit: 1000) { nodes { id name size mimeType metadata createdAt } nextCursor } }"})
            .to_string(),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(
        res["errors"].is_null(),
        "a plain page of 1000 stays allowed: {res}"
    );
}

/// Item 11: JSON bodies are bounded on every route, `DELETE /v1/files` included, and error answers
/// made below the handlers are JSON too.
#[tokio::test]
async fn json_bodies_are_bounded_everywhere() {
    let app = TestApp::builder()
        .config(|c| c.max_json_body = 64 * 1024)
        .start()
        .await;
    let big = json!({ "ids": vec!["x".repeat(100); 1000] }).to_string();
    assert!(big.len() > 64 * 1024);
    let res = app
        .request(Method::DELETE, "/v1/files", &Who::Admin)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 413).await, "payload_too_large");
    let res = graphql_post(
        &app,
        &Who::Admin,
        json!({ "query": format!("{{ buckets {{ id }} }} #{}", "x".repeat(100_000)) }).to_string(),
    )
    .await;
    assert_eq!(error_code(res, 413).await, "payload_too_large");
    // A rejection made by the framework (a path that is not UTF-8) is a JSON error as well.
    let res = app
        .get("/v1/files/%FF%FE", &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16() / 100, 4);
    let body: Value = res.json().await.expect("a JSON error body");
    assert!(body["error"]["code"].is_string(), "{body}");
}

/// Item 11: headers and ranges are bounded.
#[tokio::test]
async fn headers_and_ranges_are_bounded() {
    let app = TestApp::start().await;
    let res = app
        .get("/healthz", &Who::Anonymous)
        .header("x-padding", "a".repeat(100 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 431).await, "headers_too_large");
    healthy(&app).await;
    let user = app.user("u1", Some("t1"));
    let id = id_of(
        &app.upload(&user, "name=a.txt", "text/plain", "0123456789")
            .await,
    );
    let many: Vec<String> = (0..5000)
        .map(|i| format!("{}-{}", i % 10, i % 10))
        .collect();
    let res = app
        .get(&format!("/v1/files/{id}/content"), &user)
        .header("range", format!("bytes={}", many.join(",")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "many ranges get the whole file, once");
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"0123456789");
}

/// Item 12: unlinking an object's files is scoped to what the caller may change before anything is
/// limited, so another tenant's 10,000 links neither block the caller's unlink nor leak.
#[tokio::test]
async fn unlinking_an_entity_is_scoped_before_it_is_limited() {
    let app = TestApp::start().await;
    let db = Database::of(&app).await;
    db.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) \
         INSERT INTO files (id, bucket_id, name, mime_type, size, etag, status, metadata, \
         visibility, access, tenant_id, uploaded_by_user_id, created_at, updated_at) \
         SELECT printf('00000000-0000-7000-8000-%012d', i), 'default', 'theirs.txt', \
         'text/plain', 1, '\"e\"', 'ready', '{}', 'private', 'owner', 'other', 'mallory', \
         1700000000000, 1700000000000 FROM n; \
         INSERT INTO file_associations (id, file_id, entity_name, entity_reference, created_at) \
         SELECT 'a' || substr(id, 2), id, 'deal', '42', created_at FROM files \
         WHERE tenant_id = 'other'",
        "WITH theirs AS (INSERT INTO files (id, bucket_id, name, mime_type, size, etag, status, \
         metadata, visibility, access, tenant_id, uploaded_by_user_id, created_at, updated_at) \
         SELECT gen_random_uuid(), 'default', 'theirs.txt', 'text/plain', 1, '\"e\"', 'ready', \
         '{}', 'private', 'owner', 'other', 'mallory', date_trunc('milliseconds', now()), \
         date_trunc('milliseconds', now()) FROM generate_series(1, 10000) RETURNING id, created_at) \
         INSERT INTO file_associations (id, file_id, entity_name, entity_reference, created_at) \
         SELECT gen_random_uuid(), id, 'deal', '42', created_at FROM theirs",
    )
    .await;
    let alice = app.user("alice", Some("acme"));
    let form = reqwest::multipart::Form::new()
        .text(
            "associations",
            r#"[{"entityName":"deal","entityReference":"42"}]"#,
        )
        .part(
            "file",
            reqwest::multipart::Part::text("mine").file_name("mine.txt"),
        );
    let res = app.post_multipart(&alice, form).await;
    assert_eq!(res.status(), 201);
    let res: Value = app
        .request(
            Method::DELETE,
            "/v1/associations?entityName=deal&entityReference=42",
            &alice,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["removed"], 1, "{res}");
    let theirs = db
        .count(
            "SELECT COUNT(*) FROM file_associations \
             WHERE entity_name = 'deal' AND entity_reference = '42'",
        )
        .await;
    assert_eq!(theirs, 10_000, "another tenant's links are untouched");
}

/// Item 13: a connection that never finishes its headers, or sits idle, is closed after the header
/// timeout; the connection cap holds, and the server keeps serving.
#[tokio::test]
async fn stalled_and_idle_connections_are_closed() {
    let app = TestApp::builder()
        .config(|c| {
            c.limits.header_timeout_secs = 1;
            c.limits.max_connections = 4;
        })
        .start()
        .await;
    let addr = app.server.addr;
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: trove\r\n")
            .await
            .unwrap();
        stalled.push(s);
    }
    // Served once a slot frees up: the stalled connections do not hold it for ever.
    healthy(&app).await;
    for mut s in stalled {
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut rest))
            .await
            .expect("the server closes a connection that never finishes its headers")
            .unwrap();
    }
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: trove\r\n\r\n")
        .await
        .unwrap();
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), idle.read_to_end(&mut all))
        .await
        .expect("an idle keep-alive connection is closed")
        .unwrap();
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 200"));
}

/// Item 14: one multipart request carries at most `TROVE_MAX_FILES_PER_REQUEST` files.
#[tokio::test]
async fn multipart_uploads_are_capped_in_files() {
    let app = TestApp::builder()
        .config(|c| c.max_files_per_request = 5)
        .start()
        .await;
    let user = app.user("u1", Some("t1"));
    let mut form = reqwest::multipart::Form::new();
    for i in 0..6 {
        form = form.part(
            "file",
            reqwest::multipart::Part::text("x").file_name(format!("{i}.txt")),
        );
    }
    let res = app.post_multipart(&user, form).await;
    assert_eq!(res.status(), 413);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 5 files")
    );
    let mut form = reqwest::multipart::Form::new();
    for _ in 0..40 {
        form = form.text("bucketId", "default");
    }
    let res = app.post_multipart(&user, form).await;
    assert_eq!(
        error_code(res, 413).await,
        "payload_too_large",
        "parts of any kind count"
    );
    let form = reqwest::multipart::Form::new()
        .text("bucketId", "x".repeat(300 * 1024))
        .part(
            "file",
            reqwest::multipart::Part::text("x").file_name("a.txt"),
        );
    let res = app.post_multipart(&user, form).await;
    assert_eq!(res.status(), 400, "a text field is at most 256 KiB");
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too large"),
        "{body}"
    );
}
