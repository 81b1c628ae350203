//! What a browser, a link holder or an anonymous reader can get out of Trove: active content never
//! runs on the API's origin, tokens have one form, bucket settings and identities stay private,
//! and switching signed URLs off stops the ones handed out.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestApp, Who, error_code, id_of};

/// Item 19: only types on the allow-list are shown inline; anything else is an attachment under
/// `Content-Security-Policy: sandbox`, including types a deny-list forgot.
#[tokio::test]
async fn only_passive_types_are_served_inline() {
    let app = TestApp::start().await;
    app.create_bucket(json!({"id": "texts", "allowedMimeTypes": ["text/*"]}))
        .await;
    let user = app.user("u1", Some("t1"));
    let xsl = r#"<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"/>"#;
    let mut active = vec![id_of(
        &app.upload(&user, "bucketId=texts&name=page.xsl", "text/xsl", xsl)
            .await,
    )];
    for (name, ty) in [
        ("a.js", "text/jscript"),
        ("a.bin", "multipart/x-mixed-replace"),
        ("a.eml", "message/rfc822"),
    ] {
        active.push(id_of(
            &app.upload(&user, &format!("name={name}"), ty, "x = 1").await,
        ));
    }
    for id in &active {
        let res = app
            .get(&format!("/v1/files/{id}/content"), &user)
            .send()
            .await
            .unwrap();
        let h = res.headers();
        assert!(
            h["content-disposition"].to_str().unwrap().starts_with("attachment"),
            "{:?}",
            h["content-type"]
        );
        assert_eq!(h["content-security-policy"], "sandbox");
    }
    let png = id_of(
        &app.upload(&user, "name=a.png", "image/png", &b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..])
            .await,
    );
    let res = app
        .get(&format!("/v1/files/{png}/content"), &user)
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
}

/// Item 20: upload-URL tokens have exactly one accepted form, and every part of it is signed.
#[tokio::test]
async fn upload_tokens_accept_one_canonical_form_only() {
    let app = TestApp::start().await;
    let user = app.user("u1", Some("t1"));
    let created: Value = app
        .request(Method::POST, "/v1/uploads", &user)
        .json(&json!({"name": "a.txt", "contentType": "text/plain"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = created["upload"]["url"].as_str().unwrap().to_owned();
    let (base, token) = url.split_once("?token=").unwrap();
    let (exp, rest) = token.split_once('.').unwrap();
    let (flags, sig) = rest.split_once('.').unwrap();
    assert_eq!(flags, "0");
    let put = |t: String| {
        reqwest::Client::new()
            .put(format!("{base}?token={t}"))
            .header("content-type", "text/plain")
            .body("hello")
            .send()
    };
    for forged in [
        format!("{exp}.1.{sig}"),
        format!("{exp}.0.{}", sig.to_uppercase()),
        format!("+{exp}.0.{sig}"),
        format!("0{exp}.0.{sig}"),
        format!("{exp}.00.{sig}"),
    ] {
        let res = put(forged.clone()).await.unwrap();
        assert_eq!(error_code(res, 403).await, "invalid_signature", "{forged}");
    }
    assert_eq!(put(token.to_owned()).await.unwrap().status(), 200);
}

/// Item 23: reading bucket settings needs credentials through GraphQL as through REST.
#[tokio::test]
async fn anonymous_callers_read_no_bucket_settings_through_a_public_file() {
    let app = TestApp::start().await;
    let user = app.user("u1", Some("t1"));
    let id = id_of(
        &app.upload(&user, "name=a.txt&visibility=public", "text/plain", "x")
            .await,
    );
    let res: Value = app.graphql(&Who::Anonymous, &format!("{{ file(id: \"{id}\") {{ name bucket {{ id maxUploadFileSize allowedMimeTypes }} }} }}"), json!({})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "unauthorized", "{res}");
    assert!(
        !res.to_string().contains("maxUploadFileSize\":"),
        "no bucket setting in {res}"
    );
    assert_eq!(
        app.get("/v1/buckets/default", &Who::Anonymous)
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "the same rule as REST"
    );
}

/// Item 24: anonymous readers of a public file learn neither its uploader nor its tenant.
#[tokio::test]
async fn anonymous_readers_see_no_identities() {
    let app = TestApp::start().await;
    let user = app.user("alice@example.com", Some("acme"));
    let id = id_of(
        &app.upload(&user, "name=a.txt&visibility=public", "text/plain", "x")
            .await,
    );
    let rest: Value = app.get_json(&format!("/v1/files/{id}"), &Who::Anonymous).await;
    assert_eq!(rest["name"], "a.txt");
    assert!(rest["uploadedByUserId"].is_null() && rest["tenantId"].is_null(), "{rest}");
    let gql: Value = app.graphql(&Who::Anonymous, &format!("{{ file(id: \"{id}\") {{ name uploadedByUserId tenantId }} }}"), json!({})).await;
    assert_eq!(gql["data"]["file"]["name"], "a.txt");
    assert!(gql["data"]["file"]["uploadedByUserId"].is_null(), "{gql}");
    assert!(gql["data"]["file"]["tenantId"].is_null(), "{gql}");
    assert!(!gql.to_string().contains("alice@example.com"));
    let mine: Value = app.get_json(&format!("/v1/files/{id}"), &user).await;
    assert_eq!(mine["uploadedByUserId"], "alice@example.com");
}

/// Item 25: turning `presignedUrlsEnabled` off stops the signed URLs already handed out.
#[tokio::test]
async fn disabling_signed_urls_stops_those_already_issued() {
    let app = TestApp::start().await;
    app.create_bucket(json!({"id": "shared"})).await;
    let user = app.user("u1", Some("t1"));
    let id = id_of(
        &app.upload(&user, "bucketId=shared&name=a.txt", "text/plain", "x")
            .await,
    );
    let signed: Value = app
        .request(Method::POST, &format!("/v1/files/{id}/signed-url"), &user)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = signed["url"].as_str().unwrap().to_owned();
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    let res = app
        .request(Method::PATCH, "/v1/buckets/shared", &Who::Admin)
        .json(&json!({"presignedUrlsEnabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = reqwest::get(&url).await.unwrap();
    assert_eq!(error_code(res, 403).await, "presigned_urls_disabled");
}
