//! Every row of the access table, over HTTP.

use reqwest::Method;
use serde_json::json;

use crate::common::{TestApp, Who, id_of};

struct Files {
    private_owner: String,
    private_tenant: String,
    public: String,
}

async fn setup(app: &TestApp) -> Files {
    let owner = app.user("u1", Some("t1"));
    let up = |q: &'static str| {
        let owner = owner.clone();
        async move { id_of(&app.upload(&owner, q, "text/plain", "secret").await) }
    };
    Files {
        private_owner: up("name=a.txt").await,
        private_tenant: up("name=b.txt&access=tenant").await,
        public: up("name=c.txt&visibility=public").await,
    }
}

async fn status(app: &TestApp, method: Method, path: &str, who: &Who) -> u16 {
    let rb = app.request(method.clone(), path, who);
    let rb = if method == Method::PATCH {
        rb.json(&json!({"metadata": {"touched": true}}))
    } else if method == Method::PUT {
        rb.header("content-type", "text/plain").body("changed")
    } else {
        rb
    };
    rb.send().await.unwrap().status().as_u16()
}

/// Asserts read (metadata and content) and change (PATCH, PUT content) statuses for one caller.
async fn expect(app: &TestApp, who: &Who, id: &str, read: u16, change: u16) {
    assert_eq!(
        status(app, Method::GET, &format!("/v1/files/{id}"), who).await,
        read,
        "read metadata as {who:?}"
    );
    assert_eq!(
        status(app, Method::GET, &format!("/v1/files/{id}/content"), who).await,
        read,
        "read content as {who:?}"
    );
    assert_eq!(
        status(app, Method::HEAD, &format!("/v1/files/{id}/content"), who).await,
        read,
        "head content as {who:?}"
    );
    assert_eq!(
        status(app, Method::PATCH, &format!("/v1/files/{id}"), who).await,
        change,
        "patch as {who:?}"
    );
    assert_eq!(
        status(app, Method::PUT, &format!("/v1/files/{id}/content"), who).await,
        change,
        "replace as {who:?}"
    );
}

#[tokio::test]
async fn admin_key_reads_and_changes_everything() {
    let app = TestApp::start().await;
    let f = setup(&app).await;
    for id in [&f.private_owner, &f.private_tenant, &f.public] {
        expect(&app, &Who::Admin, id, 200, 200).await;
    }
    assert_eq!(
        status(
            &app,
            Method::DELETE,
            &format!("/v1/files/{}", f.private_owner),
            &Who::Admin
        )
        .await,
        204
    );
}

#[tokio::test]
async fn owner_reads_changes_and_deletes() {
    let app = TestApp::start().await;
    let f = setup(&app).await;
    let owner = app.user("u1", Some("t1"));
    for id in [&f.private_owner, &f.private_tenant, &f.public] {
        expect(&app, &owner, id, 200, 200).await;
    }
    let path = format!("/v1/files/{}", f.private_owner);
    assert_eq!(status(&app, Method::DELETE, &path, &owner).await, 204);
    assert_eq!(status(&app, Method::GET, &path, &owner).await, 404);
}

/// A user is the pair (tenant, sub): the uploader's `sub` acting in another tenant, or in none, is
/// somebody else and neither owns, reads nor lists the tenant's files.
#[tokio::test]
async fn the_same_sub_in_another_tenant_owns_nothing() {
    let app = TestApp::start().await;
    let f = setup(&app).await;
    for impostor in [
        app.user("u1", Some("t2")),
        app.user("u1", None),
        Who::AdminAs("u1".into(), Some("t2".into())),
    ] {
        expect(&app, &impostor, &f.private_owner, 404, 404).await;
        expect(&app, &impostor, &f.private_tenant, 404, 404).await;
        expect(&app, &impostor, &f.public, 200, 403).await;
        let listed: serde_json::Value = app
            .get_json("/v1/files?visibility=private", &impostor)
            .await;
        assert_eq!(listed["files"], json!([]), "{impostor:?} lists nothing");
        let path = format!("/v1/files/{}", f.private_owner);
        assert_eq!(status(&app, Method::DELETE, &path, &impostor).await, 404);
    }
}

#[tokio::test]
async fn tenant_mate_reads_tenant_files_only_and_changes_none() {
    let app = TestApp::start().await;
    let f = setup(&app).await;
    let mate = app.user("u2", Some("t1"));
    expect(&app, &mate, &f.private_owner, 404, 404).await;
    expect(&app, &mate, &f.private_tenant, 200, 403).await;
    expect(&app, &mate, &f.public, 200, 403).await;
    assert_eq!(
        status(
            &app,
            Method::DELETE,
            &format!("/v1/files/{}", f.private_tenant),
            &mate
        )
        .await,
        403
    );
    assert_eq!(
        status(
            &app,
            Method::DELETE,
            &format!("/v1/files/{}", f.private_owner),
            &mate
        )
        .await,
        404
    );
}

#[tokio::test]
async fn tenant_admin_reads_and_changes_within_the_tenant() {
    let app = TestApp::start().await;
    let f = setup(&app).await;
    let boss = app.tenant_admin("boss", "t1");
    for id in [&f.private_owner, &f.private_tenant, &f.public] {
        expect(&app, &boss, id, 200, 200).await;
    }
    let other_boss = app.tenant_admin("boss2", "t2");
    expect(&app, &other_boss, &f.private_owner, 404, 404).await;
    expect(&app, &other_boss, &f.private_tenant, 404, 404).await;
    expect(&app, &other_boss, &f.public, 200, 403).await;
    assert_eq!(
        status(
            &app,
            Method::DELETE,
            &format!("/v1/files/{}", f.private_owner),
            &boss
        )
        .await,
        204
    );
}

#[tokio::test]
async fn other_users_see_public_files_only() {
    let app = TestApp::start().await;
    let f = setup(&app).await;
    let outsider = app.user("u3", Some("t2"));
    expect(&app, &outsider, &f.private_owner, 404, 404).await;
    expect(&app, &outsider, &f.private_tenant, 404, 404).await;
    expect(&app, &outsider, &f.public, 200, 403).await;
    let tenantless = app.user("u4", None);
    expect(&app, &tenantless, &f.private_tenant, 404, 404).await;
}

#[tokio::test]
async fn anonymous_reads_public_files_only_and_changes_nothing() {
    let app = TestApp::start().await;
    let f = setup(&app).await;
    let anon = Who::Anonymous;
    assert_eq!(
        status(
            &app,
            Method::GET,
            &format!("/v1/files/{}", f.private_owner),
            &anon
        )
        .await,
        404
    );
    assert_eq!(
        status(
            &app,
            Method::GET,
            &format!("/v1/files/{}/content", f.private_tenant),
            &anon
        )
        .await,
        404
    );
    assert_eq!(
        status(&app, Method::GET, &format!("/v1/files/{}", f.public), &anon).await,
        200
    );
    assert_eq!(
        status(
            &app,
            Method::GET,
            &format!("/v1/files/{}/content", f.public),
            &anon
        )
        .await,
        200
    );
    for id in [&f.private_owner, &f.public] {
        assert_eq!(
            status(&app, Method::PATCH, &format!("/v1/files/{id}"), &anon).await,
            401
        );
        assert_eq!(
            status(&app, Method::DELETE, &format!("/v1/files/{id}"), &anon).await,
            401
        );
        assert_eq!(
            status(&app, Method::PUT, &format!("/v1/files/{id}/content"), &anon).await,
            401
        );
    }
    let res = app
        .request(Method::POST, "/v1/files?name=x.txt", &anon)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(status(&app, Method::GET, "/v1/buckets", &anon).await, 401);
    assert_eq!(
        status(&app, Method::GET, "/v1/buckets/default", &anon).await,
        401
    );
}

#[tokio::test]
async fn a_user_without_tenant_shares_nothing_by_tenant() {
    let app = TestApp::start().await;
    let loner = app.user("l1", None);
    let file = app
        .upload(&loner, "name=x.txt&access=tenant", "text/plain", "x")
        .await;
    assert_eq!(file["tenantId"], json!(null));
    assert_eq!(file["access"], "tenant");
    let id = id_of(&file);
    expect(&app, &app.user("l2", None), &id, 404, 404).await;
    expect(&app, &app.user("l2", Some("t1")), &id, 404, 404).await;
    expect(&app, &loner, &id, 200, 200).await;
}

#[tokio::test]
async fn users_upload_to_any_bucket_and_read_but_not_manage_buckets() {
    let app = TestApp::start().await;
    app.create_bucket(json!({"id": "photos"})).await;
    let user = app.user("u1", Some("t1"));
    let file = app
        .upload(&user, "bucketId=photos&name=x.txt", "text/plain", "x")
        .await;
    assert_eq!(file["bucketId"], "photos");
    assert_eq!(file["uploadedByUserId"], "u1");
    assert_eq!(file["tenantId"], "t1");
    assert_eq!(status(&app, Method::GET, "/v1/buckets", &user).await, 200);
    assert_eq!(
        status(&app, Method::GET, "/v1/buckets/photos", &user).await,
        200
    );
    let res = app
        .request(Method::POST, "/v1/buckets", &user)
        .json(&json!({"id": "mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(crate::common::error_code(res, 403).await, "forbidden");
    let res = app
        .request(Method::PATCH, "/v1/buckets/photos", &user)
        .json(&json!({"cacheControl": "no-store"}))
        .send()
        .await
        .unwrap();
    assert_eq!(crate::common::error_code(res, 403).await, "forbidden");
    let res = app
        .request(Method::DELETE, "/v1/buckets/photos?force=true", &user)
        .send()
        .await
        .unwrap();
    assert_eq!(crate::common::error_code(res, 403).await, "forbidden");
}

#[tokio::test]
async fn admin_acting_as_a_user_follows_the_users_rules() {
    let app = TestApp::start().await;
    let as_u1 = Who::AdminAs("u1".into(), Some("t1".into()));
    let file = app.upload(&as_u1, "name=x.txt", "text/plain", "x").await;
    assert_eq!(file["uploadedByUserId"], "u1");
    assert_eq!(file["tenantId"], "t1");
    let id = id_of(&file);
    expect(
        &app,
        &Who::AdminAs("u2".into(), Some("t1".into())),
        &id,
        404,
        404,
    )
    .await;
    expect(&app, &app.user("u1", Some("t1")), &id, 200, 200).await;
    // Acting as a user, the admin cannot manage buckets.
    let res = app
        .request(Method::POST, "/v1/buckets", &as_u1)
        .json(&json!({"id": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}
