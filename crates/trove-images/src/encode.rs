//! Encoding a rendition from its pixels alone: nothing of the original's metadata is carried over.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageEncoder};
use trove_core::transform::ImageFormat;

use crate::RenderError;

/// The largest side libwebp encodes.
const WEBP_MAX_SIDE: u32 = 16_383;

fn failed(e: impl std::fmt::Display) -> RenderError {
    RenderError::Failed(e.to_string())
}

/// `img` as `format`; `quality` (1–100) for the lossy formats.
pub(crate) fn encode(
    img: &DynamicImage,
    format: ImageFormat,
    quality: u8,
) -> Result<Vec<u8>, RenderError> {
    let mut out = Vec::new();
    match format {
        ImageFormat::Jpeg => {
            let rgb = img.to_rgb8();
            JpegEncoder::new_with_quality(&mut out, quality)
                .write_image(
                    rgb.as_raw(),
                    rgb.width(),
                    rgb.height(),
                    image::ExtendedColorType::Rgb8,
                )
                .map_err(failed)?;
        }
        ImageFormat::Webp => {
            if img.width() > WEBP_MAX_SIDE || img.height() > WEBP_MAX_SIDE {
                return Err(RenderError::TooLarge {
                    pixels: u64::from(img.width()) * u64::from(img.height()),
                    max: u64::from(WEBP_MAX_SIDE) * u64::from(WEBP_MAX_SIDE),
                });
            }
            // Lossy, as thumbnails want: `image` writes only lossless WebP.
            let quality = f32::from(quality);
            let memory = if img.color().has_alpha() {
                let rgba = img.to_rgba8();
                webp::Encoder::from_rgba(rgba.as_raw(), rgba.width(), rgba.height())
                    .encode_simple(false, quality)
            } else {
                let rgb = img.to_rgb8();
                webp::Encoder::from_rgb(rgb.as_raw(), rgb.width(), rgb.height())
                    .encode_simple(false, quality)
            }
            .map_err(|e| failed(format!("{e:?}")))?;
            out.extend_from_slice(&memory);
        }
        ImageFormat::Png => write(img, image::ImageFormat::Png, &mut out)?,
        ImageFormat::Gif => write(
            &DynamicImage::ImageRgba8(img.to_rgba8()),
            image::ImageFormat::Gif,
            &mut out,
        )?,
        ImageFormat::Bmp => write(
            &DynamicImage::ImageRgb8(img.to_rgb8()),
            image::ImageFormat::Bmp,
            &mut out,
        )?,
        ImageFormat::Tiff => write(img, image::ImageFormat::Tiff, &mut out)?,
    }
    Ok(out)
}

fn write(
    img: &DynamicImage,
    format: image::ImageFormat,
    out: &mut Vec<u8>,
) -> Result<(), RenderError> {
    img.write_to(&mut Cursor::new(out), format).map_err(failed)
}
