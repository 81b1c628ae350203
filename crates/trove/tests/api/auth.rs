//! Authentication: admin key, HS256, RS256 and ES256 keys, JWKS with rotation, issuer and audience,
//! and every way a token can be bad.

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::common::{TestApp, Who, error_code};

pub(crate) const RSA1: &str = include_str!("../fixtures/rsa1.key.pem");
const RSA1_PUB: &str = include_str!("../fixtures/rsa1.pub.pem");
pub(crate) const RSA2: &str = include_str!("../fixtures/rsa2.key.pem");
const EC1: &str = include_str!("../fixtures/ec1.key.pem");
const EC1_PUB: &str = include_str!("../fixtures/ec1.pub.pem");

pub(crate) fn claims(sub: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": sub, "exp": now + 600, "iat": now, "tenant_id": "t1", "roles": ["user"]})
}

pub(crate) fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(Into::into);
    encode(&header, claims, key).unwrap()
}

pub(crate) fn hs(secret: &str, claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(secret.as_bytes()),
        claims,
    )
}

pub(crate) async fn buckets_status(app: &TestApp, token: &str) -> u16 {
    app.get("/v1/buckets", &Who::Bearer(token.into()))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn hs256_tokens_and_their_failures() {
    let app = TestApp::start().await;
    let secret = app.server.state.config.jwt.secret.clone().unwrap();
    assert_eq!(buckets_status(&app, &hs(&secret, &claims("u1"))).await, 200);
    assert_eq!(
        buckets_status(&app, &hs("another-secret", &claims("u1"))).await,
        401,
        "wrong key"
    );

    let mut expired = claims("u1");
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    assert_eq!(
        buckets_status(&app, &hs(&secret, &expired)).await,
        401,
        "expired"
    );

    let mut no_exp = claims("u1");
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        buckets_status(&app, &hs(&secret, &no_exp)).await,
        401,
        "exp is required"
    );

    let mut no_sub = claims("u1");
    no_sub.as_object_mut().unwrap().remove("sub");
    assert_eq!(
        buckets_status(&app, &hs(&secret, &no_sub)).await,
        401,
        "sub is required"
    );

    let mut bad_roles = claims("u1");
    bad_roles["roles"] = json!({"not": "a list"});
    assert_eq!(
        buckets_status(&app, &hs(&secret, &bad_roles)).await,
        401,
        "roles must be strings"
    );

    // alg: none, with and without a signature part.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims("u1").to_string());
    assert_eq!(
        buckets_status(&app, &format!("{header}.{body}.")).await,
        401,
        "alg none"
    );
    assert_eq!(
        buckets_status(&app, &format!("{header}.{body}")).await,
        401,
        "alg none, no dot"
    );

    // A token whose signature is cut or altered.
    let good = hs(&secret, &claims("u1"));
    let tampered = format!("{}x", &good[..good.len() - 1]);
    assert_eq!(buckets_status(&app, &tampered).await, 401, "tampered");
    assert_eq!(buckets_status(&app, "garbage").await, 401);

    // RS256 is not configured here, so an RS256 token is refused.
    let rs = sign(
        Algorithm::RS256,
        None,
        &EncodingKey::from_rsa_pem(RSA1.as_bytes()).unwrap(),
        &claims("u1"),
    );
    assert_eq!(
        buckets_status(&app, &rs).await,
        401,
        "unconfigured algorithm"
    );

    let res = app
        .client
        .get(format!("{}/v1/buckets", app.url))
        .header("authorization", "Basic dTpw")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 401).await, "unauthorized");
    let res = app
        .client
        .get(format!("{}/v1/buckets", app.url))
        .header("x-trove-admin-key", "wrong-key-wrong-key")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 401).await, "unauthorized");
}

#[tokio::test]
async fn rs256_public_key_accepts_only_its_own_signatures() {
    let app = TestApp::builder()
        .config(|c| c.jwt.public_key_pem = Some(RSA1_PUB.into()))
        .start()
        .await;
    assert!(
        app.server.state.config.jwt.secret.is_none(),
        "no HS256 secret when a key is configured"
    );
    let rs1 = sign(
        Algorithm::RS256,
        None,
        &EncodingKey::from_rsa_pem(RSA1.as_bytes()).unwrap(),
        &claims("u1"),
    );
    let rs2 = sign(
        Algorithm::RS256,
        None,
        &EncodingKey::from_rsa_pem(RSA2.as_bytes()).unwrap(),
        &claims("u1"),
    );
    assert_eq!(buckets_status(&app, &rs1).await, 200);
    assert_eq!(buckets_status(&app, &rs2).await, 401, "other key");
    // HS256 signed with the public key's text: the classic algorithm-confusion attack.
    assert_eq!(
        buckets_status(&app, &hs(RSA1_PUB, &claims("u1"))).await,
        401,
        "algorithm confusion"
    );
}

#[tokio::test]
async fn es256_public_key() {
    let app = TestApp::builder()
        .config(|c| c.jwt.public_key_pem = Some(EC1_PUB.into()))
        .start()
        .await;
    let es = sign(
        Algorithm::ES256,
        None,
        &EncodingKey::from_ec_pem(EC1.as_bytes()).unwrap(),
        &claims("u1"),
    );
    assert_eq!(buckets_status(&app, &es).await, 200);
    let rs = sign(
        Algorithm::RS256,
        None,
        &EncodingKey::from_rsa_pem(RSA1.as_bytes()).unwrap(),
        &claims("u1"),
    );
    assert_eq!(buckets_status(&app, &rs).await, 401);
}

/// A JWKS endpoint whose document the test can swap.
async fn jwks_server(doc: Arc<Mutex<String>>) -> String {
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move {
                let body = doc.lock().unwrap().clone();
                ([("content-type", "application/json")], body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/jwks.json")
}

#[tokio::test]
async fn jwks_keys_are_fetched_and_refreshed_for_unknown_kids() {
    let doc = Arc::new(Mutex::new(
        include_str!("../fixtures/jwks-rsa1.json").to_owned(),
    ));
    let url = jwks_server(doc.clone()).await;
    let app = TestApp::builder()
        .config(move |c| {
            c.jwt.jwks_url = Some(url);
            c.jwt.jwks_min_refresh_secs = 0;
        })
        .start()
        .await;
    let rsa1 = EncodingKey::from_rsa_pem(RSA1.as_bytes()).unwrap();
    let rsa2 = EncodingKey::from_rsa_pem(RSA2.as_bytes()).unwrap();
    assert_eq!(
        buckets_status(
            &app,
            &sign(Algorithm::RS256, Some("rsa1"), &rsa1, &claims("u1"))
        )
        .await,
        200
    );
    assert_eq!(
        buckets_status(
            &app,
            &sign(Algorithm::RS256, Some("rsa1"), &rsa2, &claims("u1"))
        )
        .await,
        401,
        "wrong key under a known kid"
    );
    assert_eq!(
        buckets_status(&app, &sign(Algorithm::RS256, None, &rsa1, &claims("u1"))).await,
        401,
        "no kid"
    );

    // Rotation: the identity provider now publishes rsa2 and EC keys.
    *doc.lock().unwrap() = include_str!("../fixtures/jwks-rsa2.json").to_owned();
    assert_eq!(
        buckets_status(
            &app,
            &sign(Algorithm::RS256, Some("rsa2"), &rsa2, &claims("u1"))
        )
        .await,
        200
    );
    *doc.lock().unwrap() = include_str!("../fixtures/jwks-ec1.json").to_owned();
    let ec = EncodingKey::from_ec_pem(EC1.as_bytes()).unwrap();
    assert_eq!(
        buckets_status(
            &app,
            &sign(Algorithm::ES256, Some("ec1"), &ec, &claims("u1"))
        )
        .await,
        200
    );
    assert_eq!(
        buckets_status(
            &app,
            &sign(Algorithm::RS256, Some("ec1"), &rsa1, &claims("u1"))
        )
        .await,
        401,
        "algorithm must match the key"
    );
}

#[tokio::test]
async fn issuer_and_audience_are_checked_when_configured() {
    let app = TestApp::builder()
        .config(|c| {
            c.jwt.secret = Some("a-test-secret-that-is-long-enough".into());
            c.jwt.issuer = Some("https://auth.example.com".into());
            c.jwt.audience = Some("trove".into());
        })
        .start()
        .await;
    let secret = "a-test-secret-that-is-long-enough";
    let mut good = claims("u1");
    good["iss"] = json!("https://auth.example.com");
    good["aud"] = json!("trove");
    assert_eq!(buckets_status(&app, &hs(secret, &good)).await, 200);
    let mut wrong_iss = good.clone();
    wrong_iss["iss"] = json!("https://evil.example.com");
    assert_eq!(buckets_status(&app, &hs(secret, &wrong_iss)).await, 401);
    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("other");
    assert_eq!(buckets_status(&app, &hs(secret, &wrong_aud)).await, 401);
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("iss");
    assert_eq!(buckets_status(&app, &hs(secret, &missing)).await, 401);
}

#[tokio::test]
async fn custom_tenant_and_roles_claims() {
    let app = TestApp::builder()
        .config(|c| {
            c.jwt.tenant_claim = "org".into();
            c.jwt.roles_claim = "groups".into();
        })
        .start()
        .await;
    let secret = app.server.state.config.jwt.secret.clone().unwrap();
    let mut owner = claims("u1");
    owner["org"] = json!("acme");
    let file = app
        .upload(
            &Who::Bearer(hs(&secret, &owner)),
            "name=a.txt",
            "text/plain",
            "x",
        )
        .await;
    assert_eq!(file["tenantId"], "acme");
    let mut boss = claims("boss");
    boss["org"] = json!("acme");
    boss["groups"] = json!(["admin"]);
    let path = format!("/v1/files/{}", file["id"].as_str().unwrap());
    let res = app
        .request(
            reqwest::Method::PATCH,
            &path,
            &Who::Bearer(hs(&secret, &boss)),
        )
        .json(&json!({"name": "b.txt"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the roles claim makes a tenant admin");
}
