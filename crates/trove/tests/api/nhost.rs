//! The Nhost Storage compatible API at `/nhost/v1`: every endpoint `@nhost/nhost-js` calls, in
//! hasura-storage's shapes, with Hasura-layout tokens and the admin secret header, decided by
//! Trove's access rules.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::auth::hs;
use crate::common::{TestApp, Who};
use crate::images::pictures::{encode, quadrants};

const NS: &str = "https://hasura.io/jwt/claims";

/// A token in the layout Nhost's auth issues.
fn hasura_token(app: &TestApp, user: &str, org: Option<&str>, roles: &[&str]) -> String {
    let secret = app.server.state.config.jwt.secret.clone().unwrap();
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": user, "iat": now, "exp": now + 600,
        NS: {
            "x-hasura-user-id": user,
            "x-hasura-allowed-roles": roles,
            "x-hasura-default-role": roles[0],
        }
    });
    if let Some(org) = org {
        claims[NS]["x-hasura-org-id"] = json!(org);
    }
    hs(&secret, &claims)
}

async fn app() -> TestApp {
    TestApp::builder()
        .config(|c| c.jwt.tenant_claim = format!("{NS}.x-hasura-org-id"))
        .start()
        .await
}

fn nhost(app: &TestApp, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    app.client
        .request(method, format!("{}/nhost/v1{path}", app.url))
        .bearer_auth(token)
}

/// A `metadata[]` part as the client sends it: a JSON blob with an empty file name.
fn meta_part(v: Value) -> Part {
    Part::bytes(v.to_string().into_bytes())
        .file_name("")
        .mime_str("application/json")
        .unwrap()
}

fn file_part(name: &str, bytes: &[u8], mime: &str) -> Part {
    Part::bytes(bytes.to_vec())
        .file_name(name.to_owned())
        .mime_str(mime)
        .unwrap()
}

/// Asserts hasura-storage's error shape and returns the message.
async fn nhost_error(res: reqwest::Response, status: u16) -> (String, Value) {
    assert_eq!(res.status().as_u16(), status);
    let header = res.headers()["x-error"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["message"], header.as_str(), "{body}");
    assert!(body["error"]["data"].is_null(), "{body}");
    (header, body)
}

#[tokio::test]
async fn uploads_take_metadata_per_file_and_a_bucket() {
    let app = app().await;
    let ann = hasura_token(&app, "ann", Some("acme"), &["user"]);
    app.request(Method::POST, "/v1/buckets", &Who::Admin)
        .json(&json!({"id": "docs"}))
        .send()
        .await
        .unwrap();
    let chosen = uuid::Uuid::new_v4().to_string();
    let form = Form::new()
        .text("bucket-id", "docs")
        .part(
            "metadata[]",
            meta_part(json!({"id": chosen, "name": "renamed.txt", "metadata": {"k": 1}})),
        )
        .part("metadata[]", meta_part(json!({})))
        .part("file[]", file_part("a.txt", b"first", "text/plain"))
        .part("file[]", file_part("b.txt", b"second file", "text/plain"));
    let res = nhost(&app, Method::POST, "/files", &ann)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let files = body["processedFiles"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["id"], chosen.as_str());
    assert_eq!(files[0]["name"], "renamed.txt");
    assert_eq!(files[0]["metadata"], json!({"k": 1}));
    assert_eq!(files[1]["name"], "b.txt");
    for (f, size) in files.iter().zip([5, 11]) {
        assert_eq!(f["bucketId"], "docs");
        assert_eq!(f["size"], size);
        assert_eq!(f["isUploaded"], true);
        assert_eq!(f["mimeType"], "text/plain");
        assert_eq!(f["uploadedByUserId"], "ann");
        for key in ["etag", "createdAt", "updatedAt"] {
            assert!(f[key].is_string(), "{key} in {f}");
        }
    }
    // What /v1 holds is the same file, owned by the Hasura user in the Hasura org.
    let stored: Value = app
        .get(&format!("/v1/files/{chosen}"), &Who::Admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["tenantId"], "acme");
    assert_eq!(stored["uploadedByUserId"], "ann");

    // The same id again is a conflict, and nothing else of that request is kept.
    let again = Form::new()
        .part("metadata[]", meta_part(json!({"id": chosen})))
        .part("file[]", file_part("c.txt", b"x", "text/plain"));
    let res = nhost(&app, Method::POST, "/files", &ann)
        .multipart(again)
        .send()
        .await
        .unwrap();
    let (_, body) = nhost_error(res, 409).await;
    assert_eq!(body["processedFiles"], json!([]));
}

#[tokio::test]
async fn a_refused_file_lists_the_files_stored_before_it() {
    let app = app().await;
    let ann = hasura_token(&app, "ann", None, &["user"]);
    app.request(Method::POST, "/v1/buckets", &Who::Admin)
        .json(&json!({"id": "small", "maxUploadFileSize": 10}))
        .send()
        .await
        .unwrap();
    let form = Form::new()
        .text("bucket-id", "small")
        .part("file[]", file_part("ok.txt", b"tiny", "text/plain"))
        .part("file[]", file_part("big.txt", &[b'x'; 100], "text/plain"));
    let res = nhost(&app, Method::POST, "/files", &ann)
        .multipart(form)
        .send()
        .await
        .unwrap();
    // hasura-storage answers 500 here; Trove says what it is.
    let (message, body) = nhost_error(res, 413).await;
    assert!(!message.is_empty());
    let processed = body["processedFiles"].as_array().unwrap();
    assert_eq!(processed.len(), 1);
    assert_eq!(processed[0]["name"], "ok.txt");

    // Metadata for some files but not all is refused.
    let form = Form::new()
        .part("metadata[]", meta_part(json!({"name": "one.txt"})))
        .part("file[]", file_part("a.txt", b"a", "text/plain"))
        .part("file[]", file_part("b.txt", b"b", "text/plain"));
    let res = nhost(&app, Method::POST, "/files", &ann)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (_, body) = nhost_error(res, 400).await;
    assert_eq!(body["processedFiles"].as_array().unwrap().len(), 1);
    // No file at all.
    let res = nhost(&app, Method::POST, "/files", &ann)
        .multipart(Form::new().text("bucket-id", "default"))
        .send()
        .await
        .unwrap();
    nhost_error(res, 400).await;
}

async fn upload_one(app: &TestApp, token: &str, name: &str, bytes: &[u8], mime: &str) -> Value {
    let form = Form::new().part("file[]", file_part(name, bytes, mime));
    let res = nhost(app, Method::POST, "/files", token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    body["processedFiles"][0].clone()
}

#[tokio::test]
async fn downloads_with_range_conditionals_and_image_parameters() {
    let app = app().await;
    let ann = hasura_token(&app, "ann", None, &["user"]);
    let text = upload_one(&app, &ann, "t.txt", b"0123456789", "text/plain").await;
    let id = text["id"].as_str().unwrap();
    let res = nhost(&app, Method::GET, &format!("/files/{id}"), &ann)
        .header("range", "bytes=2-4")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.text().await.unwrap(), "234");
    let head = nhost(&app, Method::HEAD, &format!("/files/{id}"), &ann)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "10");
    assert_eq!(
        head.headers()["etag"].to_str().unwrap(),
        text["etag"].as_str().unwrap()
    );
    let not_modified = nhost(&app, Method::GET, &format!("/files/{id}"), &ann)
        .header("if-none-match", text["etag"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);

    let png = encode(&quadrants(64, 48), image::ImageFormat::Png);
    let picture = upload_one(&app, &ann, "p.png", &png, "image/png").await;
    let pid = picture["id"].as_str().unwrap();
    let res = nhost(
        &app,
        Method::GET,
        &format!("/files/{pid}?w=16&h=12&f=webp&q=70"),
        &ann,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/webp");
    let img = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (16, 12));
    // A parameter hasura-storage does not have is refused, with the error in its shape.
    let res = nhost(&app, Method::GET, &format!("/files/{pid}?width=16"), &ann)
        .send()
        .await
        .unwrap();
    nhost_error(res, 400).await;
}

#[tokio::test]
async fn replace_delete_and_presigned_urls() {
    let app = app().await;
    let ann = hasura_token(&app, "ann", None, &["user"]);
    let f = upload_one(&app, &ann, "old.txt", b"old", "text/plain").await;
    let id = f["id"].as_str().unwrap();

    // A replacement without a name keeps the name; with metadata, sets it.
    let form = Form::new()
        .part("metadata", meta_part(json!({"metadata": {"v": 2}})))
        .part(
            "file",
            file_part("whatever.txt", b"new content", "text/plain"),
        );
    let res = nhost(&app, Method::PUT, &format!("/files/{id}"), &ann)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let replaced: Value = res.json().await.unwrap();
    assert_eq!(replaced["name"], "old.txt");
    assert_eq!(replaced["size"], 11);
    assert_eq!(replaced["metadata"], json!({"v": 2}));
    assert_ne!(replaced["etag"], f["etag"]);
    let form = Form::new()
        .part("metadata", meta_part(json!({"name": "new.txt"})))
        .part("file", file_part("x", b"newer", "text/plain"));
    let res = nhost(&app, Method::PUT, &format!("/files/{id}"), &ann)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let renamed: Value = res.json().await.unwrap();
    assert_eq!(renamed["name"], "new.txt");
    assert_eq!(renamed["metadata"], json!({"v": 2}));

    // A presigned URL works without credentials, for the bucket's expiration.
    let res = nhost(
        &app,
        Method::GET,
        &format!("/files/{id}/presignedurl"),
        &ann,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let signed: Value = res.json().await.unwrap();
    let bucket: Value = app
        .get("/v1/buckets/default", &Who::Admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(signed["expiration"], bucket["downloadExpiration"]);
    let got = app
        .client
        .get(signed["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.text().await.unwrap(), "newer");

    let res = nhost(&app, Method::DELETE, &format!("/files/{id}"), &ann)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = nhost(&app, Method::GET, &format!("/files/{id}"), &ann)
        .send()
        .await
        .unwrap();
    nhost_error(res, 404).await;

    // A bucket without signed URLs refuses them.
    app.request(Method::POST, "/v1/buckets", &Who::Admin)
        .json(&json!({"id": "closed", "presignedUrlsEnabled": false}))
        .send()
        .await
        .unwrap();
    let form = Form::new()
        .text("bucket-id", "closed")
        .part("file[]", file_part("c.txt", b"c", "text/plain"));
    let res = nhost(&app, Method::POST, "/files", &ann)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    let cid = body["processedFiles"][0]["id"].as_str().unwrap().to_owned();
    let res = nhost(
        &app,
        Method::GET,
        &format!("/files/{cid}/presignedurl"),
        &ann,
    )
    .send()
    .await
    .unwrap();
    nhost_error(res, 403).await;
}

#[tokio::test]
async fn trove_access_rules_decide_for_hasura_users_roles_and_the_admin_secret() {
    let app = app().await;
    let ann = hasura_token(&app, "ann", Some("acme"), &["user", "editor"]);
    let bob = hasura_token(&app, "bob", Some("acme"), &["user"]);
    let f = upload_one(&app, &ann, "mine.txt", b"private", "text/plain").await;
    let id = f["id"].as_str().unwrap();
    // Another user does not learn the file exists.
    let res = nhost(&app, Method::GET, &format!("/files/{id}"), &bob)
        .send()
        .await
        .unwrap();
    nhost_error(res, 404).await;
    let res = nhost(&app, Method::DELETE, &format!("/files/{id}"), &bob)
        .send()
        .await
        .unwrap();
    nhost_error(res, 404).await;
    // A role among the allowed ones may be chosen; another may not.
    let res = nhost(&app, Method::GET, &format!("/files/{id}"), &ann)
        .header("x-hasura-role", "editor")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = nhost(&app, Method::GET, &format!("/files/{id}"), &ann)
        .header("x-hasura-role", "admin")
        .send()
        .await
        .unwrap();
    nhost_error(res, 403).await;
    // The admin secret header is the admin key, here and on /v1.
    let res = app
        .client
        .get(format!("{}/nhost/v1/files/{id}", app.url))
        .header("x-hasura-admin-secret", app.admin_key())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .post(format!("{}/v1/buckets", app.url))
        .header("x-hasura-admin-secret", app.admin_key())
        .json(&json!({"id": "by-secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = app
        .client
        .get(format!("{}/nhost/v1/files/{id}", app.url))
        .header("x-hasura-admin-secret", "not the key at all")
        .send()
        .await
        .unwrap();
    nhost_error(res, 401).await;
    // Anonymous uploads are refused in the same shape.
    let res = app
        .client
        .post(format!("{}/nhost/v1/files", app.url))
        .multipart(Form::new().part("file[]", file_part("a.txt", b"a", "text/plain")))
        .send()
        .await
        .unwrap();
    nhost_error(res, 401).await;
}

#[tokio::test]
async fn version_openapi_and_cors() {
    let app = app().await;
    let v: Value = app
        .client
        .get(format!("{}/nhost/v1/version", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["buildVersion"], env!("CARGO_PKG_VERSION"));
    let doc = app
        .client
        .get(format!("{}/nhost/v1/openapi.yaml", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for op in [
        "uploadFiles",
        "getFile",
        "replaceFile",
        "deleteFile",
        "getFilePresignedURL",
        "getVersion",
    ] {
        assert!(doc.contains(&format!("operationId: {op}")), "{op}");
    }

    let preflight = app
        .client
        .request(Method::OPTIONS, format!("{}/nhost/v1/files", app.url))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,x-hasura-role,x-hasura-org-id,x-nhost-thing,x-something-else",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    let allowed: Vec<&str> = allowed.split(',').map(str::trim).collect();
    for h in [
        "authorization",
        "x-hasura-role",
        "x-hasura-org-id",
        "x-nhost-thing",
    ] {
        assert!(allowed.contains(&h), "{h} in {allowed:?}");
    }
    assert!(!allowed.contains(&"x-something-else"), "{allowed:?}");
    let res = app
        .client
        .get(format!(
            "{}/nhost/v1/files/{}",
            app.url,
            uuid::Uuid::new_v4()
        ))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    let exposed = res.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("x-error"), "{exposed}");
}
