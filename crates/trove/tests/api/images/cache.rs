//! Renditions are stored once, beside their original, and go with it.

use futures_util::TryStreamExt;
use reqwest::Method;

use super::*;

/// The stored renditions of the file `id`'s current content.
async fn stored(app: &TestApp, id: &str) -> Vec<String> {
    let state = &app.server.state;
    let file = state
        .meta
        .get_file(trove_core::FileId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let key = file.current_blob_key().unwrap();
    stored_under(app, &key).await
}

async fn stored_under(app: &TestApp, blob_key: &str) -> Vec<String> {
    app.server
        .state
        .blobs
        .list(&trove_server::images::renditions_of(blob_key))
        .map_ok(|i| i.key)
        .try_collect()
        .await
        .unwrap()
}

async fn sweep(app: &TestApp) {
    trove_server::service::uploads::collect_garbage(&app.server.state)
        .await
        .unwrap();
}

fn large_jpeg() -> Vec<u8> {
    let bytes = encode(&noise(400, 300), image::ImageFormat::Jpeg);
    assert!(bytes.len() as u64 > trove_server::config::DEFAULT_INLINE_MAX_BYTES);
    bytes
}

#[tokio::test]
async fn identical_first_requests_compute_the_rendition_once() {
    let app = TestApp::start().await;
    let id = id_of(&upload(&app, "n.jpg", "image/jpeg", large_jpeg()).await);
    let path = format!("/v1/files/{id}/content?w=120&h=120&fit=cover&format=webp");
    let before = app.server.state.images.computed();
    let requests = (0..8).map(|_| get(&app, &path, &[]));
    let answers = futures_util::future::join_all(requests).await;
    for got in &answers {
        assert_eq!(got.image().dimensions(), (120, 120));
        assert_eq!(got.body, answers[0].body);
        assert_eq!(got.header("etag"), answers[0].header("etag"));
    }
    assert_eq!(app.server.state.images.computed() - before, 1);
    assert_eq!(stored(&app, &id).await.len(), 1);
    // Served from the store afterwards.
    let again = get(&app, &path, &[]).await;
    assert_eq!(again.body, answers[0].body);
    assert_eq!(app.server.state.images.computed() - before, 1);
}

#[tokio::test]
async fn replacing_or_deleting_a_file_drops_its_renditions() {
    let app = TestApp::start().await;
    let id = id_of(&upload(&app, "n.jpg", "image/jpeg", large_jpeg()).await);
    let first = get(&app, &format!("/v1/files/{id}/content?w=50"), &[]).await;
    get(
        &app,
        &format!("/v1/files/{id}/content?w=60&format=png"),
        &[],
    )
    .await;
    let old = stored(&app, &id).await;
    assert_eq!(old.len(), 2);
    let old_key = trove_server::images::original_of(&old[0])
        .unwrap()
        .to_owned();

    let replaced = app
        .request(Method::PUT, &format!("/v1/files/{id}/content"), &Who::Admin)
        .header("content-type", "image/jpeg")
        .body(encode(&noise(300, 300), image::ImageFormat::Jpeg))
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), 200);
    let second = get(&app, &format!("/v1/files/{id}/content?w=50"), &[]).await;
    assert_eq!(second.image().dimensions(), (50, 50));
    assert_ne!(second.header("etag"), first.header("etag"));
    sweep(&app).await;
    assert!(
        stored_under(&app, &old_key).await.is_empty(),
        "old renditions dropped"
    );
    let current = stored(&app, &id).await;
    assert_eq!(current.len(), 1);
    let current_key = trove_server::images::original_of(&current[0])
        .unwrap()
        .to_owned();

    let deleted = app
        .request(Method::DELETE, &format!("/v1/files/{id}"), &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    sweep(&app).await;
    assert!(
        stored_under(&app, &current_key).await.is_empty(),
        "renditions dropped with the file"
    );
}

#[tokio::test]
async fn without_the_cache_every_rendition_is_computed_and_nothing_stored() {
    let app = TestApp::builder()
        .config(|c| c.images.cache = false)
        .start()
        .await;
    let id = id_of(&upload(&app, "n.jpg", "image/jpeg", large_jpeg()).await);
    let path = format!("/v1/files/{id}/content?w=40");
    let before = app.server.state.images.computed();
    let a = get(&app, &path, &[]).await;
    let b = get(&app, &path, &[]).await;
    assert_eq!(a.body, b.body);
    assert_eq!(a.header("etag"), b.header("etag"));
    assert_eq!(app.server.state.images.computed() - before, 2);
    assert!(stored(&app, &id).await.is_empty());
}

#[tokio::test]
async fn renditions_of_contents_kept_inline_are_not_stored() {
    let app = TestApp::start().await;
    let small = encode(&quadrants(64, 64), image::ImageFormat::Png);
    assert!((small.len() as u64) < trove_server::config::DEFAULT_INLINE_MAX_BYTES);
    let id = id_of(&upload(&app, "s.png", "image/png", small).await);
    assert_eq!(
        get(&app, &format!("/v1/files/{id}/content?w=32"), &[])
            .await
            .image()
            .width(),
        32
    );
    assert!(stored(&app, &id).await.is_empty());
}
