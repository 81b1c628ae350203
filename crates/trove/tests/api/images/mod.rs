//! Image previews: renditions by query parameters, their headers and validators, their bounds,
//! their cache, and the links that serve them.

mod bounds;
mod cache;
mod links;
pub(crate) mod pictures;

use image::GenericImageView;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::common::{TestApp, Who, error_code, id_of};
use pictures::*;

async fn upload(app: &TestApp, name: &str, mime: &str, bytes: Vec<u8>) -> Value {
    app.upload(&Who::Admin, &format!("name={name}"), mime, bytes)
        .await
}

struct Got {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn image(&self) -> image::DynamicImage {
        assert_eq!(self.status, 200, "{}", String::from_utf8_lossy(&self.body));
        image::load_from_memory(&self.body).expect("the rendition decodes")
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap()
    }
}

/// Every `Vary` header of a response, lower-cased and joined.
fn vary(got: &Got) -> String {
    got.headers
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Got {
    let mut rb = app.get(path, &Who::Admin);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let res = rb.send().await.unwrap();
    Got {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.bytes().await.unwrap().to_vec(),
    }
}

#[tokio::test]
async fn a_rendition_has_its_own_type_length_etag_and_name() {
    let app = TestApp::builder().blobs_only().start().await;
    let jpeg = encode(&quadrants(1200, 800), image::ImageFormat::Jpeg);
    let file = upload(&app, "photo.jpeg", "image/jpeg", jpeg).await;
    let id = id_of(&file);
    let original = get(&app, &format!("/v1/files/{id}/content"), &[]).await;
    let path = format!("/v1/files/{id}/content?w=256&h=256&fit=cover&format=webp");
    let got = get(&app, &path, &[]).await;
    let img = got.image();
    assert_eq!(img.dimensions(), (256, 256));
    assert_eq!(got.header("content-type"), "image/webp");
    assert_eq!(got.header("content-length"), got.body.len().to_string());
    let etag = got.header("etag").to_owned();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "strong: {etag}"
    );
    assert_ne!(etag, file["etag"].as_str().unwrap());
    assert_eq!(
        got.header("cache-control"),
        original.header("cache-control")
    );
    assert_eq!(
        got.header("last-modified"),
        original.header("last-modified")
    );
    assert!(
        got.header("content-disposition")
            .contains("filename=\"photo.webp\"")
    );
    assert!(!vary(&got).contains("accept"), "{}", vary(&got));
    // Centred crop of the quadrants.
    assert_eq!(nearest(&img, 20, 20), RED);
    assert_eq!(nearest(&img, 235, 235), WHITE);

    // The same parameters in another order and with short names are the same rendition.
    let again = get(
        &app,
        &format!("/v1/files/{id}/content?f=webp&fit=cover&h=256&w=256"),
        &[],
    )
    .await;
    assert_eq!(again.header("etag"), etag);
    assert_eq!(again.body, got.body);
    let not_modified = get(&app, &path, &[("if-none-match", &etag)]).await;
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    let range = get(&app, &path, &[("range", "bytes=0-9")]).await;
    assert_eq!(range.status, 206);
    assert_eq!(range.body, got.body[..10]);
    assert_eq!(
        range.header("content-range"),
        format!("bytes 0-9/{}", got.body.len())
    );
    let stale = get(&app, &path, &[("if-match", "\"something-else\"")]).await;
    assert_eq!(stale.status, 412);
    let head = app
        .request(reqwest::Method::HEAD, &path, &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        got.body.len().to_string().as_str()
    );
    assert_eq!(head.headers()["etag"], etag.as_str());
}

#[tokio::test]
async fn each_fit_places_the_pixels_as_named() {
    let app = TestApp::start().await;
    let png = encode(&quadrants(400, 200), image::ImageFormat::Png);
    let id = id_of(&upload(&app, "q.png", "image/png", png).await);
    let size = |q: &'static str| {
        let app = &app;
        let id = id.clone();
        async move {
            let got = get(app, &format!("/v1/files/{id}/content?{q}"), &[]).await;
            assert_eq!(got.header("content-type"), "image/png", "{q}");
            got.image()
        }
    };
    assert_eq!(size("w=100&h=100").await.dimensions(), (100, 50));
    assert_eq!(size("w=100&h=100&fit=inside").await.dimensions(), (100, 50));
    assert_eq!(size("w=100&h=100&fit=fill").await.dimensions(), (100, 100));
    let cover = size("w=100&h=100&fit=cover").await;
    assert_eq!(cover.dimensions(), (100, 100));
    // The middle of the picture: red and green meet at the top.
    assert_eq!(nearest(&cover, 5, 5), RED);
    assert_eq!(nearest(&cover, 95, 5), GREEN);
    let contain = size("w=100&h=100&fit=contain").await;
    assert_eq!(contain.dimensions(), (100, 100));
    assert_eq!(contain.get_pixel(50, 2).0[3], 0, "padded with transparency");
    assert_eq!(nearest(&contain, 10, 40), RED);
    assert_eq!(size("h=50").await.dimensions(), (100, 50));
    // Never enlarged unless asked.
    assert_eq!(size("w=800").await.dimensions(), (400, 200));
    assert_eq!(size("w=800&enlarge=true").await.dimensions(), (800, 400));
    assert_eq!(size("w=100&blur=2").await.dimensions(), (100, 50));
}

#[tokio::test]
async fn formats_and_quality_are_as_asked() {
    let app = TestApp::start().await;
    let bytes = encode(&noise(300, 200), image::ImageFormat::Png);
    let id = id_of(&upload(&app, "n.png", "image/png", bytes).await);
    for (format, mime) in [
        ("jpeg", "image/jpeg"),
        ("png", "image/png"),
        ("webp", "image/webp"),
    ] {
        let got = get(
            &app,
            &format!("/v1/files/{id}/content?w=150&format={format}"),
            &[],
        )
        .await;
        assert_eq!(got.header("content-type"), mime);
        assert_eq!(got.image().dimensions(), (150, 100));
    }
    let low = get(
        &app,
        &format!("/v1/files/{id}/content?format=jpeg&q=5"),
        &[],
    )
    .await;
    let high = get(
        &app,
        &format!("/v1/files/{id}/content?format=jpeg&q=95"),
        &[],
    )
    .await;
    assert!(
        low.body.len() * 2 < high.body.len(),
        "{} vs {}",
        low.body.len(),
        high.body.len()
    );
    assert_ne!(low.header("etag"), high.header("etag"));
    // `same` keeps the original's format; so does leaving the format out.
    let same = get(
        &app,
        &format!("/v1/files/{id}/content?w=10&format=same"),
        &[],
    )
    .await;
    assert_eq!(same.header("content-type"), "image/png");
    let gif = encode(&quadrants(40, 40), image::ImageFormat::Gif);
    let gif_id = id_of(&upload(&app, "g.gif", "image/gif", gif).await);
    let got = get(&app, &format!("/v1/files/{gif_id}/content?w=20"), &[]).await;
    assert_eq!(got.header("content-type"), "image/gif");
    assert_eq!(got.image().dimensions(), (20, 20));
}

#[tokio::test]
async fn format_auto_is_webp_only_for_clients_that_accept_it() {
    let app = TestApp::start().await;
    let jpeg = encode(&quadrants(200, 100), image::ImageFormat::Jpeg);
    let id = id_of(&upload(&app, "a.jpg", "image/jpeg", jpeg).await);
    let path = format!("/v1/files/{id}/content?w=100&format=auto");
    let browser = get(
        &app,
        &path,
        &[("accept", "image/avif,image/webp,image/*,*/*;q=0.8")],
    )
    .await;
    assert_eq!(browser.header("content-type"), "image/webp");
    assert!(vary(&browser).contains("accept"));
    assert!(browser.header("content-disposition").contains("a.webp"));
    let other = get(&app, &path, &[("accept", "*/*")]).await;
    assert_eq!(other.header("content-type"), "image/jpeg");
    assert!(vary(&other).contains("accept"));
    assert_ne!(browser.header("etag"), other.header("etag"));
    let none = get(&app, &path, &[]).await;
    assert_eq!(none.header("content-type"), "image/jpeg");
}

#[tokio::test]
async fn exif_orientation_is_applied_and_no_metadata_is_kept() {
    let app = TestApp::start().await;
    let stored = encode(&quadrants(64, 32), image::ImageFormat::Jpeg);
    // For each EXIF orientation: the stored quadrants seen at the upright top-left and top-right.
    let expected = [
        (1, RED, GREEN),
        (2, GREEN, RED),
        (3, WHITE, BLUE),
        (4, BLUE, WHITE),
        (5, RED, BLUE),
        (6, BLUE, RED),
        (7, WHITE, GREEN),
        (8, GREEN, WHITE),
    ];
    for (orientation, top_left, top_right) in expected {
        let original = with_exif(&stored, orientation);
        assert!(contains(&original, GPS_SECRET));
        let id = id_of(&upload(&app, "o.jpg", "image/jpeg", original).await);
        for format in ["png", "jpeg", "webp"] {
            let got = get(
                &app,
                &format!("/v1/files/{id}/content?format={format}"),
                &[],
            )
            .await;
            assert!(
                !contains(&got.body, GPS_SECRET),
                "{orientation} {format}: GPS kept"
            );
            assert!(
                !contains(&got.body, b"Exif"),
                "{orientation} {format}: EXIF kept"
            );
            let img = got.image();
            let (w, h) = img.dimensions();
            let upright = if orientation >= 5 { (32, 64) } else { (64, 32) };
            assert_eq!((w, h), upright, "orientation {orientation}");
            assert_eq!(
                nearest(&img, 3, 3),
                top_left,
                "orientation {orientation}, {format}"
            );
            assert_eq!(
                nearest(&img, w - 4, 3),
                top_right,
                "orientation {orientation}, {format}"
            );
        }
    }
}

#[tokio::test]
async fn bad_parameters_are_named_and_change_nothing() {
    let app = TestApp::start().await;
    let png = encode(&quadrants(40, 40), image::ImageFormat::Png);
    let id = id_of(&upload(&app, "p.png", "image/png", png).await);
    for (query, name) in [
        ("w=0", "`w`"),
        ("w=4097", "`w`"),
        ("h=x", "`h`"),
        ("q=101", "`q`"),
        ("fit=crop", "`fit`"),
        ("format=avif", "`format`"),
        ("f=tiff", "`f`"),
        ("blur=0.1", "`blur`"),
        ("b=1000", "`b`"),
        ("enlarge=maybe", "`enlarge`"),
        ("width=10", "`width`"),
        ("w=10&w=20", "`w`"),
        ("download=1&download=0", "`download`"),
    ] {
        let res = app
            .get(&format!("/v1/files/{id}/content?{query}"), &Who::Admin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{query}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_request", "{query}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(name), "{query}: {message}");
    }
    let text = app
        .upload(&Who::Admin, "name=t.txt", "text/plain", "hello")
        .await;
    let res = app
        .get(
            &format!("/v1/files/{}/content?w=10", id_of(&text)),
            &Who::Admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "not_an_image");
    let mut broken = encode(&quadrants(40, 40), image::ImageFormat::Png);
    broken.truncate(70);
    let broken = upload(&app, "b.png", "image/png", broken).await;
    let res = app
        .get(
            &format!("/v1/files/{}/content?w=10", id_of(&broken)),
            &Who::Admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "not_an_image");
    // The original is unchanged and still served whole.
    let whole = get(&app, &format!("/v1/files/{id}/content"), &[]).await;
    assert_eq!(whole.image().dimensions(), (40, 40));
}

#[tokio::test]
async fn a_private_file_is_not_found_for_others_whatever_the_parameters() {
    let app = TestApp::start().await;
    let owner = app.user("owner", None);
    let png = encode(&quadrants(40, 40), image::ImageFormat::Png);
    let id = id_of(&app.upload(&owner, "name=p.png", "image/png", png).await);
    let stranger = app.user("stranger", None);
    for query in ["w=10", "w=10&format=webp", "format=auto"] {
        let res = app
            .get(&format!("/v1/files/{id}/content?{query}"), &stranger)
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(res, 404).await, "not_found", "{query}");
    }
    let res = app
        .get(&format!("/v1/files/{id}/content?w=10"), &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
