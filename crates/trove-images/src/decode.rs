//! Decoding within bounds, upright. JPEG goes through `jpeg-decoder`, which shrinks by 1/2, 1/4 or
//! 1/8 while decoding (in the DCT domain) when the rendition is that much smaller, so a thumbnail
//! of a 24-megapixel photo never holds its full-size pixels; the other formats go through `image`.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageReader};
use trove_core::transform::{ImageFormat, Transform};

use crate::{Bounds, RenderError};

/// The format of an original, from its first bytes (not from what its name or type claims).
pub fn detect(bytes: &[u8]) -> Option<ImageFormat> {
    Some(match image::guess_format(bytes).ok()? {
        image::ImageFormat::Jpeg => ImageFormat::Jpeg,
        image::ImageFormat::Png => ImageFormat::Png,
        image::ImageFormat::WebP => ImageFormat::Webp,
        image::ImageFormat::Gif => ImageFormat::Gif,
        image::ImageFormat::Bmp => ImageFormat::Bmp,
        image::ImageFormat::Tiff => ImageFormat::Tiff,
        _ => return None,
    })
}

fn check_pixels(width: u32, height: u32, bounds: &Bounds) -> Result<(), RenderError> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > bounds.max_pixels {
        return Err(RenderError::TooLarge {
            pixels,
            max: bounds.max_pixels,
        });
    }
    Ok(())
}

fn swaps_sides(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

fn classify(e: ImageError, bounds: &Bounds) -> RenderError {
    match e {
        ImageError::Limits(_) => RenderError::TooLarge {
            pixels: 0,
            max: bounds.max_pixels,
        },
        _ => RenderError::NotAnImage,
    }
}

/// The original decoded (shrunk on load where that loses nothing the rendition keeps) and turned
/// as its EXIF orientation says.
pub(crate) fn decode_upright(
    bytes: &[u8],
    t: &Transform,
    bounds: &Bounds,
) -> Result<DynamicImage, RenderError> {
    match detect(bytes).ok_or(RenderError::NotAnImage)? {
        ImageFormat::Jpeg => decode_jpeg(bytes, t, bounds),
        other => decode_other(bytes, other, bounds),
    }
}

fn decode_other(
    bytes: &[u8],
    format: ImageFormat,
    bounds: &Bounds,
) -> Result<DynamicImage, RenderError> {
    let format = match format {
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Webp => image::ImageFormat::WebP,
        ImageFormat::Gif => image::ImageFormat::Gif,
        ImageFormat::Bmp => image::ImageFormat::Bmp,
        ImageFormat::Tiff => image::ImageFormat::Tiff,
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(bounds.max_alloc());
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| classify(e, bounds))?;
    let (width, height) = decoder.dimensions();
    check_pixels(width, height, bounds)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    // GIF and animated WebP: the first frame.
    let img = DynamicImage::from_decoder(decoder).map_err(|e| classify(e, bounds))?;
    let mut img = crate::colour::to_srgb(img, icc.as_deref());
    img.apply_orientation(orientation);
    Ok(img)
}

fn decode_jpeg(bytes: &[u8], t: &Transform, bounds: &Bounds) -> Result<DynamicImage, RenderError> {
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder.read_info().map_err(|_| RenderError::NotAnImage)?;
    let info = decoder.info().ok_or(RenderError::NotAnImage)?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_pixels(width, height, bounds)?;
    let early = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let (upright_w, upright_h) = if swaps_sides(early) {
        (height, width)
    } else {
        (width, height)
    };
    let g = t.geometry(upright_w, upright_h);
    let scale = (f64::from(g.size.0) / g.crop.2).max(f64::from(g.size.1) / g.crop.3);
    // A blur is computed on the rendition's pixels, so shrinking first changes nothing it sees.
    if scale < 0.5 {
        let side = |v: u32| ((f64::from(v) * scale).ceil() as u16).max(1);
        decoder
            .scale(side(width), side(height))
            .map_err(|_| RenderError::NotAnImage)?;
    }
    decoder.set_max_decoding_buffer_size(usize::try_from(bounds.max_alloc()).unwrap_or(usize::MAX));
    let pixels = decoder.decode().map_err(|e| match e {
        jpeg_decoder::Error::Format(ref m) if m.contains("max") => RenderError::TooLarge {
            pixels: u64::from(width) * u64::from(height),
            max: bounds.max_pixels,
        },
        _ => RenderError::NotAnImage,
    })?;
    let info = decoder.info().ok_or(RenderError::NotAnImage)?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let img = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => image::RgbImage::from_raw(w, h, pixels).map(Into::into),
        jpeg_decoder::PixelFormat::L8 => image::GrayImage::from_raw(w, h, pixels).map(Into::into),
        jpeg_decoder::PixelFormat::L16 => {
            // Big-endian samples, as the decoder returns them.
            let samples = pixels
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_raw(w, h, samples)
                .map(DynamicImage::ImageLuma16)
        }
        jpeg_decoder::PixelFormat::CMYK32 => {
            let rgb = pixels
                .chunks_exact(4)
                .flat_map(|p| {
                    let k = u16::from(255 - p[3]);
                    let ch = |c: u8| ((u16::from(255 - c) * k) / 255) as u8;
                    [ch(p[0]), ch(p[1]), ch(p[2])]
                })
                .collect();
            image::RgbImage::from_raw(w, h, rgb).map(Into::into)
        }
    }
    .ok_or(RenderError::NotAnImage)?;
    let mut img = crate::colour::to_srgb(img, decoder.icc_profile().as_deref());
    // The EXIF segment may come after the frame header; by now every marker has been read.
    let orientation = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(early);
    img.apply_orientation(orientation);
    Ok(img)
}
