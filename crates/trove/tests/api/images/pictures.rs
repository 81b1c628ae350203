//! Test images, made here: quadrant pictures, JPEGs with an EXIF orientation and GPS block, and a
//! PNG that declares more pixels than it carries.

use std::io::Cursor;

use image::{DynamicImage, Rgb, RgbImage};

/// Top-left red, top-right green, bottom-left blue, bottom-right white.
pub const RED: [u8; 3] = [255, 0, 0];
pub const GREEN: [u8; 3] = [0, 255, 0];
pub const BLUE: [u8; 3] = [0, 0, 255];
pub const WHITE: [u8; 3] = [255, 255, 255];

/// A `w` × `h` picture in four coloured quadrants.
pub fn quadrants(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
        Rgb(match (x < w / 2, y < h / 2) {
            (true, true) => RED,
            (false, true) => GREEN,
            (true, false) => BLUE,
            (false, false) => WHITE,
        })
    }))
}

/// Random-looking pixels, so that the encoded file is large (kept in the blob store, not inline).
pub fn noise(w: u32, h: u32) -> DynamicImage {
    let mut state = 0x2545_f491_u32;
    DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [a, b, c, _] = state.to_le_bytes();
        Rgb([a, b, c])
    }))
}

pub fn encode(img: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

/// What the GPS block of [`with_exif`] carries, to look for in renditions.
pub const GPS_SECRET: &[u8] = b"TROVE-GPS-48.8584N-2.2945E";

/// `jpeg` with an EXIF segment stating `orientation` and a GPS block holding [`GPS_SECRET`].
pub fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff: Vec<u8> = b"II\x2a\x00".to_vec();
    tiff.extend(8u32.to_le_bytes());
    // IFD0 at 8: orientation, and the pointer to the GPS IFD (at 8 + 2 + 2 × 12 + 4 = 38).
    tiff.extend(2u16.to_le_bytes());
    tiff.extend(0x0112u16.to_le_bytes());
    tiff.extend(3u16.to_le_bytes());
    tiff.extend(1u32.to_le_bytes());
    tiff.extend(orientation.to_le_bytes());
    tiff.extend([0, 0]);
    tiff.extend(0x8825u16.to_le_bytes());
    tiff.extend(4u16.to_le_bytes());
    tiff.extend(1u32.to_le_bytes());
    tiff.extend(38u32.to_le_bytes());
    tiff.extend(0u32.to_le_bytes());
    // GPS IFD at 38: GPSProcessingMethod, its bytes at 38 + 2 + 12 + 4 = 56.
    tiff.extend(1u16.to_le_bytes());
    tiff.extend(0x001bu16.to_le_bytes());
    tiff.extend(7u16.to_le_bytes());
    tiff.extend((GPS_SECRET.len() as u32).to_le_bytes());
    tiff.extend(56u32.to_le_bytes());
    tiff.extend(0u32.to_le_bytes());
    tiff.extend(GPS_SECRET);
    let mut segment = vec![0xff, 0xe1];
    segment.extend(((2 + 6 + tiff.len()) as u16).to_be_bytes());
    segment.extend(b"Exif\0\0");
    segment.extend(tiff);
    assert_eq!(&jpeg[..2], [0xff, 0xd8]);
    let mut out = jpeg[..2].to_vec();
    out.extend(segment);
    out.extend(&jpeg[2..]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend(data);
    out.extend(&body);
    out.extend(crc32(&body).to_be_bytes());
}

/// A valid PNG of a few dozen bytes that declares `w` × `h` RGBA pixels.
pub fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 6, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    // An empty zlib stream.
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

/// The colour at (x, y), as the nearest of the four quadrant colours (JPEG shifts them a little).
pub fn nearest(img: &DynamicImage, x: u32, y: u32) -> [u8; 3] {
    let p = img.to_rgb8().get_pixel(x, y).0;
    let distance = |c: [u8; 3]| -> u32 {
        (0..3)
            .map(|i| (i32::from(p[i]) - i32::from(c[i])).unsigned_abs())
            .sum()
    };
    [RED, GREEN, BLUE, WHITE]
        .into_iter()
        .min_by_key(|c| distance(*c))
        .unwrap()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
