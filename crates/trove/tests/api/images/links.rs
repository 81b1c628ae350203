//! Renditions through links that need no credentials: public URLs and signed URLs.

use reqwest::Method;
use serde_json::json;

use super::*;

async fn anonymous(url: &str) -> reqwest::Response {
    reqwest::Client::new().get(url).send().await.unwrap()
}

#[tokio::test]
async fn a_public_url_serves_renditions_to_anyone() {
    let app = TestApp::start().await;
    let png = encode(&quadrants(200, 100), image::ImageFormat::Png);
    let id = id_of(&upload(&app, "pub.png", "image/png", png).await);
    let public: Value = app
        .request(Method::POST, &format!("/v1/files/{id}/public"), &Who::Admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = public["url"].as_str().unwrap().to_owned();
    let res = anonymous(&format!("{url}?w=50&format=webp")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/webp");
    // Cached as the public original is.
    let original = anonymous(&url).await;
    assert_eq!(
        res.headers()["cache-control"],
        original.headers()["cache-control"]
    );
    assert!(
        !original.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("private")
    );
    let img = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(img.dimensions(), (50, 25));
    let res = anonymous(&format!("{url}?w=0")).await;
    assert_eq!(error_code(res, 400).await, "invalid_request");
    // A wrong name redirects with the parameters kept.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/public/{id}/other.png?w=50", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 308);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/pub.png?w=50")
    );
    // Private again: nothing, whatever the parameters.
    app.request(
        Method::POST,
        &format!("/v1/files/{id}/private"),
        &Who::Admin,
    )
    .send()
    .await
    .unwrap();
    let res = anonymous(&format!("{url}?w=50")).await;
    assert_eq!(error_code(res, 404).await, "not_found");
}

async fn sign(app: &TestApp, id: &str, body: Value) -> reqwest::Response {
    app.request(
        Method::POST,
        &format!("/v1/files/{id}/signed-url"),
        &Who::Admin,
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn a_signed_url_for_a_rendition_covers_its_parameters() {
    let app = TestApp::start().await;
    let png = encode(&quadrants(200, 100), image::ImageFormat::Png);
    let id = id_of(&upload(&app, "s.png", "image/png", png).await);
    let signed: Value = sign(
        &app,
        &id,
        json!({"transform": {"w": 100, "format": "webp"}}),
    )
    .await
    .json()
    .await
    .unwrap();
    let url = signed["url"].as_str().unwrap().to_owned();
    let res = anonymous(&url).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/webp");
    let img = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(img.dimensions(), (100, 50));

    // Another rendition, or the original, is not what was signed.
    for tampered in [
        url.replace("w=100", "w=101"),
        url.replace("format=webp", "format=png"),
        url.replace("w=100&", ""),
        format!("{url}&blur=5"),
    ] {
        let res = anonymous(&tampered).await;
        assert_eq!(
            error_code(res, 403).await,
            "invalid_signature",
            "{tampered}"
        );
    }
    let plain: Value = sign(&app, &id, json!({})).await.json().await.unwrap();
    let plain = plain["url"].as_str().unwrap().to_owned();
    assert_eq!(anonymous(&plain).await.status(), 200);
    let res = anonymous(&format!("{plain}&w=10")).await;
    assert_eq!(error_code(res, 403).await, "invalid_signature");

    // The same checks as a download's query when signing.
    for (transform, name) in [
        (json!({"w": 0}), "`w`"),
        (json!({"size": 3}), "`size`"),
        (json!({"fit": ["cover"]}), "fit"),
    ] {
        let res = sign(&app, &id, json!({ "transform": transform })).await;
        assert_eq!(res.status(), 400);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_request");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(name),
            "{body}"
        );
    }
}
