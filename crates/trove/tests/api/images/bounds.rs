//! What an image may cost: pixels declared, bytes read.

use super::*;

#[tokio::test]
async fn a_decompression_bomb_is_refused_before_it_is_decoded() {
    let app = TestApp::start().await;
    let bomb = png_declaring(100_000, 100_000);
    assert!(bomb.len() < 100);
    let id = id_of(&upload(&app, "bomb.png", "image/png", bomb).await);
    for query in ["w=100", "format=webp", "w=10&h=10&fit=cover&blur=3"] {
        let res = app
            .get(&format!("/v1/files/{id}/content?{query}"), &Who::Admin)
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(res, 422).await, "image_too_large", "{query}");
    }
    // The server is still there for everyone else.
    let png = encode(&quadrants(40, 40), image::ImageFormat::Png);
    let ok = id_of(&upload(&app, "ok.png", "image/png", png).await);
    assert_eq!(
        get(&app, &format!("/v1/files/{ok}/content?w=20"), &[])
            .await
            .image()
            .width(),
        20
    );
}

#[tokio::test]
async fn the_pixel_and_byte_bounds_are_settings() {
    let app = TestApp::builder()
        .config(|c| {
            c.images.max_pixels = 1_000;
            c.images.max_bytes = 20_000;
        })
        .start()
        .await;
    for format in [image::ImageFormat::Png, image::ImageFormat::Jpeg] {
        let small = encode(&quadrants(40, 20), format);
        let id = id_of(&upload(&app, "s.img", format.to_mime_type(), small).await);
        assert_eq!(
            get(&app, &format!("/v1/files/{id}/content?w=10"), &[])
                .await
                .status,
            200
        );
        let large = encode(&quadrants(40, 40), format);
        let id = id_of(&upload(&app, "l.img", format.to_mime_type(), large).await);
        let res = app
            .get(&format!("/v1/files/{id}/content?w=10"), &Who::Admin)
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(res, 422).await, "image_too_large", "{format:?}");
    }
    let heavy = encode(&noise(100, 100), image::ImageFormat::Png);
    assert!(heavy.len() > 20_000);
    let id = id_of(&upload(&app, "h.png", "image/png", heavy).await);
    let res = app
        .get(&format!("/v1/files/{id}/content?w=10"), &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 422).await, "image_too_large");
}

#[tokio::test]
async fn a_full_queue_answers_busy_and_originals_do_not_wait() {
    let app = TestApp::builder()
        .local_storage()
        .blobs_only()
        .config(|c| {
            c.images.concurrency = 1;
            c.images.queue = 0;
        })
        .start()
        .await;
    let png = encode(&quadrants(40, 40), image::ImageFormat::Png);
    let held = upload(&app, "held.png", "image/png", png.clone()).await;
    let other = id_of(&upload(&app, "other.png", "image/png", png.clone()).await);
    // The held file's bytes become a named pipe: reading them waits until the test opens the
    // other end, so its transformation keeps the only place until then.
    let held_id = id_of(&held);
    let file = app
        .server
        .state
        .meta
        .get_file(trove_core::FileId::parse(&held_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let path = app
        .data_dir()
        .join("blobs")
        .join(file.current_blob_key().unwrap());
    std::fs::remove_file(&path).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());
    let first = tokio::spawn({
        let request = app.get(&format!("/v1/files/{held_id}/content?w=10"), &Who::Admin);
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let images = app.server.state.images.clone();
    crate::common::wait_until(30, "the first transformation to be admitted", || {
        images.admitted() == 1
    })
    .await;

    let res = app
        .get(&format!("/v1/files/{other}/content?w=10"), &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(error_code(res, 503).await, "busy");
    let original = get(&app, &format!("/v1/files/{other}/content"), &[]).await;
    assert_eq!(
        original.body, png,
        "originals are served while transformations are full"
    );

    // Let the first one go: its bytes are an empty pipe now, an error of the store's (the status
    // does not matter here, only that it ends and frees its place).
    tokio::task::spawn_blocking(move || std::fs::OpenOptions::new().write(true).open(path))
        .await
        .unwrap()
        .unwrap();
    let status = first.await.unwrap();
    assert!(matches!(status, 400 | 500), "{status}");
    crate::common::wait_until(30, "the place to be free", || images.admitted() == 0).await;
    assert_eq!(
        get(&app, &format!("/v1/files/{other}/content?w=10"), &[])
            .await
            .image()
            .width(),
        10
    );
}
