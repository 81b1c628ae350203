//! Tokens that are not valid yet, and JWKS key sets: a withdrawn key stops being trusted, redirects
//! to other hosts are not followed, and oversized key sets are refused.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey};

use crate::auth::{RSA1, RSA2, buckets_status, claims, hs, sign};
use crate::common::TestApp;

/// Item 15: a token whose `nbf` is in the future is refused.
#[tokio::test]
async fn tokens_not_valid_yet_are_refused() {
    let app = TestApp::start().await;
    let secret = app.server.state.config.jwt.secret.clone().unwrap();
    let mut early = claims("u1");
    early["nbf"] = (chrono::Utc::now().timestamp() + 3600).into();
    assert_eq!(buckets_status(&app, &hs(&secret, &early)).await, 401);
    let mut now = claims("u1");
    now["nbf"] = chrono::Utc::now().timestamp().into();
    assert_eq!(buckets_status(&app, &hs(&secret, &now)).await, 200);
}

/// Serves `doc` at `/jwks.json` with `Cache-Control: max-age=1`, and at `/elsewhere` a redirect to
/// the same document under another host name.
async fn key_set_server(doc: Arc<Mutex<String>>) -> (String, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new()
        .route(
            "/jwks.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move {
                    let body = doc.lock().unwrap().clone();
                    (
                        [
                            ("content-type", "application/json"),
                            ("cache-control", "max-age=1"),
                        ],
                        body,
                    )
                }
            }),
        )
        .route(
            "/elsewhere",
            axum::routing::get(move || async move {
                axum::response::Redirect::temporary(&format!("http://localhost:{port}/jwks.json"))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (
        format!("http://127.0.0.1:{port}/jwks.json"),
        format!("http://127.0.0.1:{port}/elsewhere"),
    )
}

async fn app_with_jwks(url: String) -> TestApp {
    TestApp::builder()
        .config(move |c| {
            c.jwt.secret = None;
            c.jwt.jwks_url = Some(url);
            c.jwt.jwks_min_refresh_secs = 1;
        })
        .start()
        .await
}

/// Item 16: a key the identity provider withdraws stops working once the key set's max-age has
/// passed, even for a token verified (and cached) before.
#[tokio::test]
async fn a_withdrawn_jwks_key_stops_being_trusted() {
    let doc = Arc::new(Mutex::new(
        include_str!("../fixtures/jwks-rsa1.json").to_owned(),
    ));
    let (url, _) = key_set_server(doc.clone()).await;
    let app = app_with_jwks(url).await;
    let rsa1 = EncodingKey::from_rsa_pem(RSA1.as_bytes()).unwrap();
    let token = sign(Algorithm::RS256, Some("rsa1"), &rsa1, &claims("u1"));
    assert_eq!(buckets_status(&app, &token).await, 200);
    *doc.lock().unwrap() = include_str!("../fixtures/jwks-rsa2.json").to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut poll = tokio::time::interval(Duration::from_millis(100));
    loop {
        poll.tick().await;
        if buckets_status(&app, &token).await == 401 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the withdrawn key is still trusted"
        );
    }
    let rsa2 = EncodingKey::from_rsa_pem(RSA2.as_bytes()).unwrap();
    let fresh = sign(Algorithm::RS256, Some("rsa2"), &rsa2, &claims("u1"));
    assert_eq!(buckets_status(&app, &fresh).await, 200, "the new key works");
}

/// Item 16: the key set is not fetched from another host through a redirect, and an oversized key
/// set is refused.
#[tokio::test]
async fn key_sets_come_from_the_configured_host_and_are_bounded() {
    let doc = Arc::new(Mutex::new(
        include_str!("../fixtures/jwks-rsa1.json").to_owned(),
    ));
    let (_, elsewhere) = key_set_server(doc.clone()).await;
    let rsa1 = EncodingKey::from_rsa_pem(RSA1.as_bytes()).unwrap();
    let token = sign(Algorithm::RS256, Some("rsa1"), &rsa1, &claims("u1"));
    let redirected = app_with_jwks(elsewhere).await;
    assert_eq!(buckets_status(&redirected, &token).await, 401);

    let padded = include_str!("../fixtures/jwks-rsa1.json").replacen(
        "{",
        &format!("{{\"padding\": \"{}\", ", "x".repeat(1024 * 1024)),
        1,
    );
    let big = Arc::new(Mutex::new(padded));
    let (url, _) = key_set_server(big).await;
    let bounded = app_with_jwks(url).await;
    assert_eq!(buckets_status(&bounded, &token).await, 401);
}
