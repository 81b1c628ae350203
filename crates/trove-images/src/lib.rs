//! Renditions of images: decode an original within bounds, turn it upright, fit it as a
//! [`Transform`] asks, and encode it. Everything here is synchronous and CPU-bound; the server
//! runs it on the blocking pool, a bounded number at a time.
//!
//! Policy: the size an image declares is checked against [`Bounds::max_pixels`] before any pixel
//! buffer is allocated, so a decompression bomb costs a header read; the deadline is checked
//! between stages; embedded ICC profiles are converted to sRGB; no metadata of the original (EXIF, GPS, XMP, comments) is written into a
//! rendition, which is encoded from pixels alone.

mod colour;
mod decode;
mod encode;

use std::time::Instant;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, GenericImage};
use trove_core::transform::{ImageFormat, Transform};

pub use decode::detect;

/// Why no rendition was made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    /// Not in a format Trove decodes, or not decodable.
    #[error("the file is not an image Trove can read")]
    NotAnImage,
    /// More pixels than allowed, or more memory than the decoder may take.
    #[error("the image has {pixels} pixels, more than the {max} allowed")]
    TooLarge { pixels: u64, max: u64 },
    /// The deadline passed between two stages.
    #[error("the transformation took longer than allowed")]
    TimedOut,
    /// Encoding or resampling failed (a bug or a resource limit, not the caller's input).
    #[error("the transformation failed: {0}")]
    Failed(String),
}

/// What one transformation may use.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// The most pixels an original may declare.
    pub max_pixels: u64,
    /// When to give up.
    pub deadline: Instant,
}

impl Bounds {
    fn check_time(&self) -> Result<(), RenderError> {
        if Instant::now() > self.deadline {
            Err(RenderError::TimedOut)
        } else {
            Ok(())
        }
    }

    /// The decoder's allocation limit: the pixels allowed, at 4 bytes each, twice over for the
    /// decoder's own buffers.
    fn max_alloc(&self) -> u64 {
        self.max_pixels.saturating_mul(8)
    }
}

/// Makes the rendition of `original` that `t` asks for, encoded as `output`.
pub fn render(
    original: &[u8],
    t: &Transform,
    output: ImageFormat,
    bounds: &Bounds,
) -> Result<Vec<u8>, RenderError> {
    let upright = decode::decode_upright(original, t, bounds)?;
    bounds.check_time()?;
    let (w, h) = (upright.width(), upright.height());
    let geometry = t.geometry(w, h);
    let mut img = resample(&upright, &geometry, output)?;
    drop(upright);
    bounds.check_time()?;
    if let Some(sigma) = t.blur_sigma() {
        img = img.fast_blur(sigma);
        bounds.check_time()?;
    }
    if let Some(canvas) = geometry.canvas {
        img = on_canvas(img, canvas, output)?;
    }
    encode::encode(&img, output, t.quality)
}

/// Resamples the geometry's crop of `src` to its size, in a pixel layout the output can hold.
fn resample(
    src: &DynamicImage,
    g: &trove_core::transform::Geometry,
    output: ImageFormat,
) -> Result<DynamicImage, RenderError> {
    let alpha = output.has_alpha() && src.color().has_alpha();
    let src = if alpha {
        DynamicImage::ImageRgba8(src.to_rgba8())
    } else if src.color().has_alpha() {
        DynamicImage::ImageRgb8(flatten_on_white(src))
    } else {
        DynamicImage::ImageRgb8(src.to_rgb8())
    };
    let (cw, ch) = (src.width(), src.height());
    let (left, top, width, height) = g.crop;
    if g.size == (cw, ch) && (left, top, width, height) == (0.0, 0.0, f64::from(cw), f64::from(ch))
    {
        return Ok(src);
    }
    let mut dst = DynamicImage::new(g.size.0, g.size.1, src.color());
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .crop(left, top, width, height);
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| RenderError::Failed(e.to_string()))?;
    Ok(dst)
}

/// An image with transparency composited over white, for outputs without an alpha channel.
fn flatten_on_white(src: &DynamicImage) -> image::RgbImage {
    let rgba = src.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        image::Rgb([over(r), over(g), over(b)])
    })
}

/// `contain`: the image centred in its box, on transparency where the output has it, else white.
fn on_canvas(
    img: DynamicImage,
    c: trove_core::transform::Canvas,
    output: ImageFormat,
) -> Result<DynamicImage, RenderError> {
    let mut canvas = if output.has_alpha() {
        DynamicImage::new_rgba8(c.width, c.height)
    } else {
        DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            c.width,
            c.height,
            image::Rgb([255, 255, 255]),
        ))
    };
    let img = if output.has_alpha() {
        DynamicImage::ImageRgba8(img.to_rgba8())
    } else {
        img
    };
    canvas
        .copy_from(&img, c.left, c.top)
        .map_err(|e| RenderError::Failed(e.to_string()))?;
    Ok(canvas)
}

#[cfg(test)]
mod tests;
