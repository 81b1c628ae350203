//! GraphQL: the Rolebase query verbatim, listings and tenant isolation, mutations, limits.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestApp, Who, id_of};

async fn gql(app: &TestApp, who: &Who, query: &str, variables: Value) -> Value {
    app.graphql(who, query, variables).await
}

fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn the_rolebase_query_runs_unchanged() {
    let app = TestApp::start().await;
    let owner = app.user("u1", Some("t1"));
    let f = app
        .upload(
            &owner,
            "name=a.txt&metadata=%7B%22k%22%3A1%7D",
            "text/plain",
            "hello",
        )
        .await;
    let q =
        "query GetFile($id: uuid!) { file(id: $id) { id name mimeType size createdAt metadata } }";
    let res = gql(&app, &owner, q, json!({"id": id_of(&f)})).await;
    let file = &res["data"]["file"];
    assert_eq!(file["id"], f["id"]);
    assert_eq!(file["name"], "a.txt");
    assert_eq!(file["mimeType"], "text/plain");
    assert_eq!(file["size"], 5, "sizes are JSON numbers");
    assert_eq!(file["metadata"], json!({"k": 1}));
    assert_eq!(file["createdAt"], f["createdAt"]);
    // Null for callers who may not read it, anonymous ones included.
    for who in [app.user("u2", Some("t2")), Who::Anonymous] {
        let res = gql(&app, &who, q, json!({"id": id_of(&f)})).await;
        assert_eq!(res["data"]["file"], Value::Null);
        assert!(res.get("errors").is_none());
    }
}

#[tokio::test]
async fn files_query_shares_filters_scope_and_loads_relations() {
    let app = TestApp::start().await;
    let u1 = app.user("u1", Some("t1"));
    let assoc = "associations=%5B%7B%22entityName%22%3A%22contract%22%2C%22entityReference%22%3A%2242%22%7D%5D";
    app.upload(&u1, &format!("name=a.txt&{assoc}"), "text/plain", "x")
        .await;
    app.upload(&u1, "name=b.txt", "text/plain", "x").await;
    app.upload(
        &app.user("o", Some("t2")),
        &format!("name=c.txt&{assoc}"),
        "text/plain",
        "x",
    )
    .await;
    let q = r#"query($w: FileWhere) { files(where: $w, orderBy: "name", order: "asc", count: true) {
        nodes { name bucket { id maxUploadFileSize } associations { entityName entityReference } url }
        nextCursor totalCount } }"#;
    let res = gql(
        &app,
        &u1,
        q,
        json!({"w": {"entityName": "contract", "entityReference": "42"}}),
    )
    .await;
    let page = &res["data"]["files"];
    assert_eq!(page["totalCount"], 1, "never another tenant's: {res}");
    assert_eq!(page["nodes"][0]["name"], "a.txt");
    assert_eq!(page["nodes"][0]["bucket"]["id"], "default");
    assert_eq!(page["nodes"][0]["bucket"]["maxUploadFileSize"], 50_000_000);
    assert_eq!(page["nodes"][0]["associations"][0]["entityReference"], "42");
    assert_eq!(page["nextCursor"], Value::Null);
    let res = gql(&app, &Who::Admin, q, json!({})).await;
    assert_eq!(res["data"]["files"]["totalCount"], 3);
    let res = gql(
        &app,
        &u1,
        r#"{ files(limit: 5000) { nodes { id } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(code(&res), "invalid_request");
    let res = gql(
        &app,
        &u1,
        r#"{ bucket(id: "default") { files(limit: 1) { nodes { name } nextCursor } } }"#,
        json!({}),
    )
    .await;
    assert!(res["data"]["bucket"]["files"]["nextCursor"].is_string());
    let res = gql(
        &app,
        &Who::Anonymous,
        "{ files { nodes { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&res), "unauthorized");
}

#[tokio::test]
async fn mutations_follow_the_same_rules_as_rest() {
    let app = TestApp::start().await;
    let u1 = app.user("u1", Some("t1"));
    let created = gql(
        &app,
        &u1,
        r#"mutation { createFileUpload(input: {name: "a.txt", contentType: "text/plain", associations: [{entityName: "deal", entityReference: "1"}]}) {
            file { id status associations { entityName } } upload { method url headers expiresAt } } }"#,
        json!({}),
    )
    .await;
    let upload = &created["data"]["createFileUpload"];
    assert_eq!(upload["file"]["status"], "upload_pending");
    let id = upload["file"]["id"].as_str().unwrap().to_owned();
    // Sent as any client sends it, with the headers the target names (Trove's URL, or the
    // object store's presigned one).
    let mut put = reqwest::Client::new().put(upload["upload"]["url"].as_str().unwrap());
    for (name, value) in upload["upload"]["headers"].as_object().unwrap() {
        put = put.header(name.as_str(), value.as_str().unwrap());
    }
    let res = put.body("hello").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let done = gql(
        &app,
        &u1,
        "mutation($id: uuid!) { completeFileUpload(id: $id) { status size } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(done["data"]["completeFileUpload"]["status"], "ready");

    let public = gql(
        &app,
        &u1,
        "mutation($id: uuid!) { makeFilePublic(id: $id) { visibility url } }",
        json!({"id": id}),
    )
    .await;
    assert!(
        public["data"]["makeFilePublic"]["url"]
            .as_str()
            .unwrap()
            .contains("/public/")
    );
    let private = gql(
        &app,
        &u1,
        "mutation($id: uuid!) { makeFilePrivate(id: $id) { url } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(private["data"]["makeFilePrivate"]["url"], Value::Null);
    let updated = gql(
        &app,
        &u1,
        r#"mutation($id: uuid!) { updateFile(id: $id, input: {name: "b.txt", metadata: {x: 1}, access: "tenant"}) { name metadata access } }"#,
        json!({"id": id}),
    )
    .await;
    assert_eq!(updated["data"]["updateFile"]["metadata"], json!({"x": 1}));
    let signed = gql(
        &app,
        &u1,
        "mutation($id: uuid!) { createSignedUrl(fileId: $id, expiresIn: 10) { url expiresAt } }",
        json!({"id": id}),
    )
    .await;
    let url = signed["data"]["createSignedUrl"]["url"].as_str().unwrap();
    assert_eq!(
        reqwest::get(url).await.unwrap().text().await.unwrap(),
        "hello"
    );
    let assoc = gql(&app, &u1, r#"mutation($id: uuid!) { createFileAssociation(fileId: $id, entityName: "deal", entityReference: "2") { entityReference } }"#, json!({"id": id})).await;
    assert_eq!(
        assoc["data"]["createFileAssociation"]["entityReference"],
        "2"
    );

    // A tenant mate may read but not change; an outsider sees nothing.
    let mate = app.user("u2", Some("t1"));
    let res = gql(
        &app,
        &mate,
        r#"mutation($id: uuid!) { updateFile(id: $id, input: {name: "x"}) { name } }"#,
        json!({"id": id}),
    )
    .await;
    assert_eq!(code(&res), "forbidden");
    let res = gql(
        &app,
        &app.user("o", Some("t2")),
        "mutation($id: uuid!) { makeFilePublic(id: $id) { id } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(code(&res), "not_found");
    let res = gql(
        &app,
        &u1,
        r#"mutation { createBucket(input: {id: "mine"}) { id } }"#,
        json!({}),
    )
    .await;
    assert_eq!(code(&res), "forbidden", "admin-only");

    let del = gql(&app, &u1, "mutation($ids: [String!]!) { deleteFileAssociations(entityName: \"deal\", entityReference: \"1\") { removed } deleteFiles(ids: $ids) { deleted notFound forbidden } }", json!({"ids": [id, "nope"]})).await;
    assert_eq!(del["data"]["deleteFileAssociations"]["removed"], 1);
    assert_eq!(del["data"]["deleteFiles"]["deleted"], json!([id]));
    assert_eq!(del["data"]["deleteFiles"]["notFound"], json!(["nope"]));
}

#[tokio::test]
async fn admin_mutations_manage_buckets_and_categories() {
    let app = TestApp::start().await;
    let q = r#"mutation {
        createBucket(input: {id: "docs", maxUploadFileSize: 10000000000}) { id maxUploadFileSize }
        createCategory(input: {key: "invoices", bucketId: "docs", maxSize: 100, allowedMimeTypes: ["application/pdf"]}) { key bucketId maxSize }
    }"#;
    let res = gql(&app, &Who::Admin, q, json!({})).await;
    assert_eq!(
        res["data"]["createBucket"]["maxUploadFileSize"],
        10_000_000_000u64
    );
    assert_eq!(res["data"]["createCategory"]["maxSize"], 100);
    let res = gql(&app, &Who::Admin, r#"mutation { updateCategory(key: "invoices", input: {maxSize: null}) { maxSize } updateBucket(id: "docs", input: {cacheControl: "no-store"}) { cacheControl } }"#, json!({})).await;
    assert_eq!(res["data"]["updateCategory"]["maxSize"], Value::Null);
    assert_eq!(res["data"]["updateBucket"]["cacheControl"], "no-store");
    let user = app.user("u", None);
    let res = gql(
        &app,
        &user,
        "{ buckets { id } categories { key } category(key: \"invoices\") { name } }",
        json!({}),
    )
    .await;
    assert_eq!(res["data"]["buckets"].as_array().unwrap().len(), 2);
    assert_eq!(res["data"]["category"]["name"], "invoices");
    let res = gql(
        &app,
        &Who::Admin,
        r#"mutation { deleteCategory(key: "invoices") deleteBucket(id: "docs") }"#,
        json!({}),
    )
    .await;
    assert_eq!(res["data"]["deleteCategory"], true);
    assert_eq!(res["data"]["deleteBucket"], true);
}

#[tokio::test]
async fn limits_get_and_no_third_party_page() {
    let app = TestApp::start().await;
    let deep = "{ files(limit: 1) { nodes { bucket { files(limit: 1) { nodes { bucket { files(limit: 1) { nodes { bucket { files(limit: 1) { nodes { id } } } } } } } } } } } }";
    let res = gql(&app, &Who::Admin, deep, json!({})).await;
    assert!(
        res["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{res}"
    );
    let wide: String = (0..600)
        .map(|i| format!("a{i}: buckets {{ id }} "))
        .collect();
    let res = gql(&app, &Who::Admin, &format!("{{ {wide} }}"), json!({})).await;
    assert!(
        res["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("complex"),
        "{res}"
    );
    let res = app
        .get(
            "/graphql?query=%7B%20buckets%20%7B%20id%20%7D%20%7D",
            &Who::Admin,
        )
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["buckets"][0]["id"], "default");
    let res = app
        .get(
            "/graphql?query=mutation%20%7B%20deleteBucket(id%3A%20%22x%22)%20%7D",
            &Who::Admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    // No page that loads code from a CDN: a browser gets the API's JSON error like anyone else.
    let res = app
        .get("/graphql", &Who::Anonymous)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(!res.text().await.unwrap().contains("<script"));
    let res = app
        .request(Method::POST, "/graphql", &Who::Bearer("bad".into()))
        .json(&json!({"query": "{ buckets { id } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "bad credentials are refused as in REST");
}
