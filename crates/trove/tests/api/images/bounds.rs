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
