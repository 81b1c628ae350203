//! Links without credentials: permanent public URLs and signed, expiring download URLs.

use reqwest::Method;
use serde_json::{Value, json};
use trove_core::{FileId, RevisionId};
use trove_server::signing::Grant;

use crate::common::{TestApp, Who, error_code, id_of};

#[tokio::test]
async fn public_urls_follow_visibility() {
    let app = TestApp::start().await;
    let owner = app.user("u1", Some("t1"));
    let f = app
        .upload(
            &owner,
            "name=r%C3%A9sum%C3%A9%201.txt",
            "text/plain",
            "0123456789",
        )
        .await;
    assert_eq!(f["url"], Value::Null, "private files have no public URL");
    let id = id_of(&f);
    let public: Value = app
        .request(Method::POST, &format!("/v1/files/{id}/public"), &owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(public["visibility"], "public");
    let url = public["url"].as_str().unwrap().to_owned();
    assert_eq!(
        url,
        format!("{}/public/{id}/r%C3%A9sum%C3%A9%201.txt", app.url)
    );

    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = anon.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "max-age=3600");
    assert!(res.headers().contains_key("etag"));
    assert_eq!(res.text().await.unwrap(), "0123456789");
    let res = anon
        .get(&url)
        .header("range", "bytes=2-4")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.text().await.unwrap(), "234");
    let res = anon.head(&url).send().await.unwrap();
    assert_eq!(res.headers()["content-length"], "10");
    let res = anon
        .get(format!("{}/public/{id}/wrong.txt", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(
        res.headers()["location"],
        format!("/public/{id}/r%C3%A9sum%C3%A9%201.txt").as_str()
    );

    let private: Value = app
        .request(Method::POST, &format!("/v1/files/{id}/private"), &owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(private["url"], Value::Null);
    assert_eq!(
        error_code(anon.get(&url).send().await.unwrap(), 404).await,
        "not_found"
    );
    assert_eq!(
        anon.get(format!("{}/public/{}/x", app.url, FileId::new()))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let res = app
        .request(
            Method::POST,
            &format!("/v1/files/{id}/public"),
            &app.user("u2", Some("t1")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, 404).await,
        "not_found",
        "the same rules as changing the file"
    );
}

async fn sign(app: &TestApp, who: &Who, id: &str, body: Value) -> reqwest::Response {
    app.request(Method::POST, &format!("/v1/files/{id}/signed-url"), who)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn signed_urls_work_without_credentials_until_they_expire() {
    let app = TestApp::start().await;
    let owner = app.user("u1", Some("t1"));
    let f = app
        .upload(
            &owner,
            "name=a.txt&access=tenant",
            "text/plain",
            "0123456789",
        )
        .await;
    let id = id_of(&f);
    let res = sign(
        &app,
        &app.user("u2", Some("t1")),
        &id,
        json!({"expiresIn": 20}),
    )
    .await;
    assert_eq!(res.status(), 200, "whoever may read the file may sign it");
    let signed: Value = res.json().await.unwrap();
    let url = signed["url"].as_str().unwrap().to_owned();
    assert!(signed["expiresAt"].is_string());
    let anon = reqwest::Client::new();
    let res = anon.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cc = res.headers()["cache-control"].to_str().unwrap().to_owned();
    let max_age: u32 = cc
        .strip_prefix("private, max-age=")
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&max_age), "{cc}");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    assert_eq!(res.text().await.unwrap(), "0123456789");
    let res = anon
        .get(&url)
        .header("range", "bytes=-3")
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "789");
    let etag = f["etag"].as_str().unwrap();
    assert_eq!(
        anon.get(&url)
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap()
            .status(),
        304
    );

    let dl: Value = sign(&app, &owner, &id, json!({"download": true}))
        .await
        .json()
        .await
        .unwrap();
    let res = anon.get(dl["url"].as_str().unwrap()).send().await.unwrap();
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );

    // Tampering: another expiry, another file, a flipped download flag.
    let tampered = url.replacen("token=", "token=9", 1);
    assert_eq!(
        error_code(anon.get(&tampered).send().await.unwrap(), 403).await,
        "invalid_signature"
    );
    let other = id_of(&app.upload(&owner, "name=b.txt", "text/plain", "x").await);
    let foreign = url.replace(&id, &other);
    assert_eq!(
        error_code(anon.get(&foreign).send().await.unwrap(), 403).await,
        "invalid_signature"
    );
    let flipped = dl["url"].as_str().unwrap().replace(".1.", ".0.");
    assert_eq!(
        error_code(anon.get(&flipped).send().await.unwrap(), 403).await,
        "invalid_signature"
    );
    let res = anon
        .get(format!("{}/v1/signed/{id}?token=garbage", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 403).await, "invalid_signature");

    // Expired: a token signed by the server for a moment already past.
    let file = app
        .server
        .state
        .meta
        .get_file(FileId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let past = chrono::Utc::now().timestamp() - 5;
    let token = app.server.state.signer.sign(
        file.id,
        file.revision.unwrap(),
        Grant::Download { attachment: false },
        past,
    );
    let res = anon
        .get(format!("{}/v1/signed/{id}?token={token}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 410).await, "url_expired");
    let wrong_revision = app.server.state.signer.sign(
        file.id,
        RevisionId::new(),
        Grant::Download { attachment: false },
        past + 100,
    );
    let res = anon
        .get(format!("{}/v1/signed/{id}?token={wrong_revision}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 403).await, "invalid_signature");

    // Replacing the content invalidates URLs signed for the old revision.
    let res = app
        .request(Method::PUT, &format!("/v1/files/{id}/content"), &owner)
        .header("content-type", "text/plain")
        .body("new")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        error_code(anon.get(&url).send().await.unwrap(), 403).await,
        "invalid_signature"
    );
}

#[tokio::test]
async fn signing_follows_the_bucket_rules() {
    let app = TestApp::start().await;
    app.create_bucket(json!({"id": "nosign", "presignedUrlsEnabled": false}))
        .await;
    let owner = app.user("u1", Some("t1"));
    let f = app
        .upload(&owner, "name=a.txt&bucketId=nosign", "text/plain", "x")
        .await;
    assert_eq!(
        error_code(sign(&app, &owner, &id_of(&f), json!({})).await, 403).await,
        "presigned_urls_disabled"
    );
    let f = app.upload(&owner, "name=a.txt", "text/plain", "x").await;
    let id = id_of(&f);
    assert_eq!(
        error_code(sign(&app, &owner, &id, json!({"expiresIn": 31})).await, 400).await,
        "invalid_request"
    );
    assert_eq!(
        error_code(sign(&app, &owner, &id, json!({"expiresIn": 0})).await, 400).await,
        "invalid_request"
    );
    let ok: Value = sign(&app, &owner, &id, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(ok["expiresAt"].as_str().unwrap()).unwrap();
    let left = expires.timestamp() - chrono::Utc::now().timestamp();
    assert!(
        (1..=30).contains(&left),
        "defaults to downloadExpiration: {left}"
    );
    assert_eq!(
        error_code(
            sign(&app, &app.user("x", Some("t2")), &id, json!({})).await,
            404
        )
        .await,
        "not_found"
    );
    let res = app
        .request(Method::POST, &format!("/v1/files/{id}/signed-url"), &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the body is optional");
}
