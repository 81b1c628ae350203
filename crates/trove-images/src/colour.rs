//! Colour: pixels described by an embedded ICC profile (Display P3, Adobe RGB…) are converted to
//! sRGB, the space a rendition without a profile is read in, so that they look the same.

use image::DynamicImage;
use moxcms::{ColorProfile, DataColorSpace, Layout, TransformOptions};

/// `img` in sRGB, given the ICC profile its file embedded. Without a profile, or with one that
/// cannot be read or is not RGB, the pixels are taken to be sRGB already.
pub(crate) fn to_srgb(img: DynamicImage, icc: Option<&[u8]>) -> DynamicImage {
    let Some(source) = icc.and_then(|bytes| ColorProfile::new_from_slice(bytes).ok()) else {
        return img;
    };
    if source.color_space != DataColorSpace::Rgb {
        return img;
    }
    let srgb = ColorProfile::new_srgb();
    let alpha = img.color().has_alpha();
    let layout = if alpha { Layout::Rgba } else { Layout::Rgb };
    let Ok(transform) =
        source.create_transform_8bit(layout, &srgb, layout, TransformOptions::default())
    else {
        return img;
    };
    if alpha {
        let pixels = img.to_rgba8();
        let mut out = pixels.clone();
        match transform.transform(pixels.as_raw(), &mut out) {
            Ok(()) => DynamicImage::ImageRgba8(out),
            Err(_) => img,
        }
    } else {
        let pixels = img.to_rgb8();
        let mut out = pixels.clone();
        match transform.transform(pixels.as_raw(), &mut out) {
            Ok(()) => DynamicImage::ImageRgb8(out),
            Err(_) => img,
        }
    }
}
