use std::io::Cursor;
use std::time::{Duration, Instant};

use image::{DynamicImage, GenericImageView, Rgb, RgbImage, Rgba, RgbaImage};
use trove_core::transform::{ImageFormat, Transform};

use crate::{Bounds, RenderError, detect, render};

fn bounds() -> Bounds {
    Bounds {
        max_pixels: 50_000_000,
        deadline: Instant::now() + Duration::from_secs(30),
    }
}

fn transform(q: &str) -> Transform {
    let pairs: Vec<(&str, &str)> = q
        .split('&')
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    Transform::from_query(pairs, &[]).unwrap().unwrap()
}

fn encoded(img: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

/// Left half red, right half blue, so a crop or a stretch shows in the pixels.
fn halves(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, _| {
        if x < w / 2 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    }))
}

fn decoded(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory(bytes).unwrap()
}

#[test]
fn a_large_jpeg_becomes_a_cover_thumbnail_in_webp() {
    let original = encoded(&halves(2400, 1600), image::ImageFormat::Jpeg);
    let out = render(
        &original,
        &transform("w=256&h=256&fit=cover&format=webp"),
        ImageFormat::Webp,
        &bounds(),
    )
    .unwrap();
    assert_eq!(detect(&out), Some(ImageFormat::Webp));
    let img = decoded(&out);
    assert_eq!(img.dimensions(), (256, 256));
    // Centred crop: red on the left, blue on the right.
    let left = img.get_pixel(10, 128).0;
    let right = img.get_pixel(245, 128).0;
    assert!(left[0] > 200 && left[2] < 60, "{left:?}");
    assert!(right[2] > 200 && right[0] < 60, "{right:?}");
}

#[test]
fn every_output_format_decodes_to_the_asked_size() {
    let original = encoded(&halves(300, 200), image::ImageFormat::Png);
    for format in [
        ImageFormat::Jpeg,
        ImageFormat::Png,
        ImageFormat::Webp,
        ImageFormat::Gif,
        ImageFormat::Bmp,
        ImageFormat::Tiff,
    ] {
        let out = render(&original, &transform("w=150"), format, &bounds()).unwrap();
        assert_eq!(detect(&out), Some(format));
        assert_eq!(decoded(&out).dimensions(), (150, 100), "{format:?}");
    }
}

#[test]
fn contain_pads_with_transparency_or_white() {
    let original = encoded(&halves(200, 100), image::ImageFormat::Png);
    let t = transform("w=100&h=100&fit=contain");
    let png = decoded(&render(&original, &t, ImageFormat::Png, &bounds()).unwrap());
    assert_eq!(png.dimensions(), (100, 100));
    assert_eq!(png.get_pixel(50, 5).0[3], 0, "transparent padding");
    assert_eq!(png.get_pixel(5, 50).0, [255, 0, 0, 255]);
    let jpeg = decoded(&render(&original, &t, ImageFormat::Jpeg, &bounds()).unwrap());
    assert!(
        jpeg.get_pixel(50, 5).0.iter().take(3).all(|&c| c > 240),
        "white padding"
    );
}

#[test]
fn transparency_is_flattened_on_white_for_jpeg() {
    let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(40, 40, Rgba([0, 0, 0, 0])));
    let original = encoded(&clear, image::ImageFormat::Png);
    let out = render(&original, &transform("w=20"), ImageFormat::Jpeg, &bounds()).unwrap();
    assert!(
        decoded(&out)
            .get_pixel(10, 10)
            .0
            .iter()
            .take(3)
            .all(|&c| c > 240)
    );
}

#[test]
fn blur_softens_an_edge() {
    let original = encoded(&halves(100, 10), image::ImageFormat::Png);
    let sharp =
        decoded(&render(&original, &transform("q=80"), ImageFormat::Png, &bounds()).unwrap());
    let soft =
        decoded(&render(&original, &transform("blur=5"), ImageFormat::Png, &bounds()).unwrap());
    assert_eq!(sharp.get_pixel(49, 5).0[2], 0);
    assert!(
        soft.get_pixel(49, 5).0[2] > 30,
        "{:?}",
        soft.get_pixel(49, 5)
    );
}

#[test]
fn what_is_not_an_image_or_too_large_is_refused() {
    let t = transform("w=10");
    assert_eq!(
        render(b"%PDF-1.7 not an image", &t, ImageFormat::Png, &bounds()),
        Err(RenderError::NotAnImage)
    );
    let mut broken = encoded(&halves(64, 64), image::ImageFormat::Png);
    broken.truncate(60);
    assert_eq!(
        render(&broken, &t, ImageFormat::Png, &bounds()),
        Err(RenderError::NotAnImage)
    );
    let small = Bounds {
        max_pixels: 1000,
        ..bounds()
    };
    for format in [image::ImageFormat::Png, image::ImageFormat::Jpeg] {
        let original = encoded(&halves(64, 64), format);
        assert!(matches!(
            render(&original, &t, ImageFormat::Png, &small),
            Err(RenderError::TooLarge { .. })
        ));
    }
}

#[test]
fn a_passed_deadline_stops_the_work() {
    let original = encoded(&halves(64, 64), image::ImageFormat::Png);
    let late = Bounds {
        deadline: Instant::now() - Duration::from_secs(1),
        ..bounds()
    };
    assert_eq!(
        render(&original, &transform("w=10"), ImageFormat::Png, &late),
        Err(RenderError::TimedOut)
    );
}

#[test]
fn colours_described_by_a_profile_come_out_in_srgb() {
    // A muted red in Display P3 is a more saturated red in sRGB (P3's gamut is wider).
    let p3 = [180u8, 80, 80];
    let img = RgbImage::from_pixel(32, 32, Rgb(p3));
    let mut tagged = Vec::new();
    let mut encoder = image::codecs::png::PngEncoder::new(&mut tagged);
    image::ImageEncoder::set_icc_profile(
        &mut encoder,
        moxcms::ColorProfile::new_display_p3().encode().unwrap(),
    )
    .unwrap();
    image::ImageEncoder::write_image(
        encoder,
        img.as_raw(),
        32,
        32,
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    let untagged = encoded(&DynamicImage::ImageRgb8(img), image::ImageFormat::Png);
    let t = transform("w=16");
    let plain = decoded(&render(&untagged, &t, ImageFormat::Png, &bounds()).unwrap());
    assert_eq!(
        plain.get_pixel(8, 8).0[..3],
        p3,
        "no profile: taken as sRGB"
    );
    let converted = decoded(&render(&tagged, &t, ImageFormat::Png, &bounds()).unwrap());
    let [r, g, b, _] = converted.get_pixel(8, 8).0;
    assert!(r > p3[0] + 5 && g < p3[1] && b < p3[2], "{:?}", (r, g, b));
}

#[test]
fn every_input_format_is_read() {
    let picture = halves(120, 80);
    for format in [
        image::ImageFormat::Jpeg,
        image::ImageFormat::Png,
        image::ImageFormat::WebP,
        image::ImageFormat::Gif,
        image::ImageFormat::Bmp,
        image::ImageFormat::Tiff,
    ] {
        let original = encoded(&picture, format);
        assert!(detect(&original).is_some(), "{format:?}");
        let out = render(&original, &transform("w=60"), ImageFormat::Png, &bounds()).unwrap();
        let img = decoded(&out);
        assert_eq!(img.dimensions(), (60, 40), "{format:?}");
        let [r, _, b, _] = img.get_pixel(5, 20).0;
        assert!(r > 200 && b < 60, "{format:?}: left half red");
    }
}

#[test]
fn a_webp_beyond_its_format_is_refused_not_panicked_over() {
    let original = encoded(&halves(16_384, 2), image::ImageFormat::Png);
    assert!(matches!(
        render(
            &original,
            &transform("format=webp"),
            ImageFormat::Webp,
            &bounds()
        ),
        Err(RenderError::TooLarge { .. })
    ));
}
