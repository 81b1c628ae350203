//! Image transformations asked for in a download's query (`?w=256&h=256&fit=cover&format=webp`):
//! parsing and bounds, the normalised form that names a rendition (its cache key, its ETag and what
//! a signed URL for it covers), the output format, and the geometry of each `fit`.
//!
//! Policy: every parameter is bounded, an unknown one or one given twice is refused, and each
//! refusal is a 400 `invalid_request` naming the parameter, so nothing the caller did not mean
//! is computed.

use crate::error::TroveError;

/// The largest width or height a rendition may ask for.
pub const MAX_SIDE: u32 = 4096;

/// How the image is fitted into `w` × `h` when both are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fit {
    /// Fills the box, cropping what overflows (centred).
    Cover,
    /// Fits inside the box and pads the rest, so the output is exactly the box.
    Contain,
    /// Stretches to the box, ignoring the aspect ratio.
    Fill,
    /// Fits inside the box; the output is as large as the aspect ratio allows.
    #[default]
    Inside,
}

impl Fit {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "cover" => Self::Cover,
            "contain" => Self::Contain,
            "fill" => Self::Fill,
            "inside" => Self::Inside,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Cover => "cover",
            Self::Contain => "contain",
            Self::Fill => "fill",
            Self::Inside => "inside",
        }
    }
}

/// The format asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FormatChoice {
    /// WebP when the `Accept` header names it, else the original's format.
    Auto,
    /// The original's format.
    #[default]
    Same,
    Exactly(ImageFormat),
}

/// A format Trove decodes; the first three are also what may be asked for by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Jpeg,
    Png,
    Webp,
    Gif,
    Bmp,
    Tiff,
}

impl ImageFormat {
    /// The format of a file whose recorded type is `mime`.
    pub fn from_mime(mime: &str) -> Option<Self> {
        let essence = mime.split(';').next().unwrap_or("").trim();
        Some(match essence.to_ascii_lowercase().as_str() {
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Self::Jpeg,
            "image/png" => Self::Png,
            "image/webp" => Self::Webp,
            "image/gif" => Self::Gif,
            "image/bmp" | "image/x-bmp" | "image/x-ms-bmp" => Self::Bmp,
            "image/tiff" => Self::Tiff,
            _ => return None,
        })
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
            Self::Bmp => "image/bmp",
            Self::Tiff => "image/tiff",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Gif => "gif",
            Self::Bmp => "bmp",
            Self::Tiff => "tiff",
        }
    }

    /// Whether `q` changes the output (the lossy encoders).
    pub fn is_lossy(self) -> bool {
        matches!(self, Self::Jpeg | Self::Webp)
    }

    /// Whether the format keeps an alpha channel (JPEG and BMP output are opaque).
    pub fn has_alpha(self) -> bool {
        matches!(self, Self::Png | Self::Webp | Self::Gif | Self::Tiff)
    }
}

/// A transformation as asked for: what the query said, bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transform {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fit: Fit,
    pub enlarge: bool,
    pub format: FormatChoice,
    /// 1–100.
    pub quality: u8,
    /// Gaussian sigma in hundredths (30–10,000), so that it normalises exactly.
    pub blur_centi: Option<u32>,
}

impl Default for Transform {
    fn default() -> Self {
        Self {
            width: None,
            height: None,
            fit: Fit::Inside,
            enlarge: false,
            format: FormatChoice::Same,
            quality: 80,
            blur_centi: None,
        }
    }
}

/// The query parameters of a transformation, short names included.
pub const PARAMETERS: &[&str] = &["w", "h", "fit", "enlarge", "format", "f", "q", "blur", "b"];

fn bad(name: &str, what: &str) -> TroveError {
    TroveError::invalid(format!("query parameter `{name}` {what}"))
}

fn integer(name: &str, value: &str, min: u32, max: u32) -> Result<u32, TroveError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n) && !value.starts_with('+'))
        .ok_or_else(|| bad(name, &format!("must be an integer from {min} to {max}")))
}

impl Transform {
    /// The transformation a query asks for, `None` when it names none of [`PARAMETERS`]. `others`
    /// are the route's own parameters (passed over); anything else is refused.
    pub fn from_query<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        others: &[&str],
    ) -> Result<Option<Self>, TroveError> {
        let mut t = Self::default();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in pairs {
            if others.contains(&name) {
                continue;
            }
            // The long and short names are one parameter.
            let canonical = match name {
                "f" => "format",
                "b" => "blur",
                other => other,
            };
            if !PARAMETERS.contains(&canonical) {
                return Err(bad(name, "is not known"));
            }
            if seen.contains(&canonical) {
                return Err(bad(name, "is given more than once"));
            }
            seen.push(canonical);
            match canonical {
                "w" => t.width = Some(integer(name, value, 1, MAX_SIDE)?),
                "h" => t.height = Some(integer(name, value, 1, MAX_SIDE)?),
                "q" => t.quality = integer(name, value, 1, 100)? as u8,
                "fit" => {
                    t.fit = Fit::parse(value)
                        .ok_or_else(|| bad(name, "must be one of cover, contain, fill, inside"))?
                }
                "enlarge" => {
                    t.enlarge = match value {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(bad(name, "must be true or false")),
                    }
                }
                "format" => {
                    t.format = match value {
                        "auto" => FormatChoice::Auto,
                        "same" => FormatChoice::Same,
                        "jpeg" | "jpg" => FormatChoice::Exactly(ImageFormat::Jpeg),
                        "png" => FormatChoice::Exactly(ImageFormat::Png),
                        "webp" => FormatChoice::Exactly(ImageFormat::Webp),
                        _ => {
                            return Err(bad(name, "must be one of auto, same, jpeg, png, webp"));
                        }
                    }
                }
                "blur" => {
                    let sigma = value
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && (0.3..=100.0).contains(s))
                        .ok_or_else(|| bad(name, "must be a number from 0.3 to 100"))?;
                    t.blur_centi = Some((sigma * 100.0).round() as u32);
                }
                _ => unreachable!("every name of PARAMETERS is matched"),
            }
        }
        Ok((!seen.is_empty()).then_some(t))
    }

    /// The format of the rendition of an original in `source`, for a request whose `Accept` is
    /// `accept`.
    pub fn output(&self, source: ImageFormat, accept: Option<&str>) -> ImageFormat {
        match self.format {
            FormatChoice::Exactly(f) => f,
            FormatChoice::Same => source,
            FormatChoice::Auto if accepts_webp(accept) => ImageFormat::Webp,
            FormatChoice::Auto => source,
        }
    }

    /// The normalised form of the rendition in `output`: one string for every query that asks for
    /// the same pixels (order, short names, defaults and parameters that do not apply make no
    /// difference). It names the rendition in the cache and goes into its ETag.
    pub fn normalized(&self, output: ImageFormat) -> String {
        use std::fmt::Write;
        // Writing into a String cannot fail.
        let mut s = String::with_capacity(64);
        if let Some(w) = self.width {
            let _ = write!(s, "w={w}&");
        }
        if let Some(h) = self.height {
            let _ = write!(s, "h={h}&");
        }
        if self.width.is_some() && self.height.is_some() {
            let _ = write!(s, "fit={}&", self.fit.as_str());
        }
        if self.width.is_some() || self.height.is_some() {
            let _ = write!(s, "enlarge={}&", self.enlarge);
        }
        if let Some(b) = self.blur_centi {
            let _ = write!(s, "blur={}.{:02}&", b / 100, b % 100);
        }
        if output.is_lossy() {
            let _ = write!(s, "q={}&", self.quality);
        }
        let _ = write!(s, "format={}", output.extension());
        s
    }

    /// The query that asks for this transformation again (what a signed URL carries); the format
    /// stays as asked, so `auto` still follows each request's `Accept`.
    pub fn to_query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(w) = self.width {
            parts.push(format!("w={w}"));
        }
        if let Some(h) = self.height {
            parts.push(format!("h={h}"));
        }
        if self.fit != Fit::Inside {
            parts.push(format!("fit={}", self.fit.as_str()));
        }
        if self.enlarge {
            parts.push("enlarge=true".to_owned());
        }
        match self.format {
            FormatChoice::Same => {}
            FormatChoice::Auto => parts.push("format=auto".to_owned()),
            FormatChoice::Exactly(f) => parts.push(format!("format={}", f.extension())),
        }
        if self.quality != 80 {
            parts.push(format!("q={}", self.quality));
        }
        if let Some(b) = self.blur_centi {
            parts.push(format!("blur={}.{:02}", b / 100, b % 100));
        }
        parts.join("&")
    }

    /// The gaussian sigma of the blur, if any.
    pub fn blur_sigma(&self) -> Option<f32> {
        self.blur_centi.map(|c| c as f32 / 100.0)
    }

    /// Where the pixels of a `src_w` × `src_h` original (after its EXIF orientation) go.
    pub fn geometry(&self, src_w: u32, src_h: u32) -> Geometry {
        let (sw, sh) = (f64::from(src_w.max(1)), f64::from(src_h.max(1)));
        let full = (0.0, 0.0, sw, sh);
        let cap = |scale: f64| if self.enlarge { scale } else { scale.min(1.0) };
        let side = |v: f64| (v.round() as u32).clamp(1, MAX_SIDE.max(src_w).max(src_h));
        let scaled = |scale: f64| Geometry {
            crop: full,
            size: (side(sw * scale), side(sh * scale)),
            canvas: None,
        };
        match (self.width, self.height) {
            (None, None) => scaled(1.0),
            (Some(w), None) => scaled(cap(f64::from(w) / sw)),
            (None, Some(h)) => scaled(cap(f64::from(h) / sh)),
            (Some(w), Some(h)) => {
                let (w, h) = (f64::from(w), f64::from(h));
                match self.fit {
                    Fit::Inside => scaled(cap((w / sw).min(h / sh))),
                    Fit::Fill => {
                        let (w, h) = if self.enlarge {
                            (w, h)
                        } else {
                            (w.min(sw), h.min(sh))
                        };
                        Geometry {
                            crop: full,
                            size: (side(w), side(h)),
                            canvas: None,
                        }
                    }
                    Fit::Contain => {
                        let inner = scaled(cap((w / sw).min(h / sh)));
                        let (cw, ch) = (side(w), side(h));
                        let (iw, ih) = (inner.size.0.min(cw), inner.size.1.min(ch));
                        Geometry {
                            crop: full,
                            size: (iw, ih),
                            canvas: Some(Canvas {
                                width: cw,
                                height: ch,
                                left: (cw - iw) / 2,
                                top: (ch - ih) / 2,
                            }),
                        }
                    }
                    Fit::Cover => {
                        let scale = cap((w / sw).max(h / sh));
                        // Without enlarging, a box larger than the original is cut to it.
                        let (out_w, out_h) = (w.min(sw * scale), h.min(sh * scale));
                        let (crop_w, crop_h) = (out_w / scale, out_h / scale);
                        Geometry {
                            crop: ((sw - crop_w) / 2.0, (sh - crop_h) / 2.0, crop_w, crop_h),
                            size: (side(out_w), side(out_h)),
                            canvas: None,
                        }
                    }
                }
            }
        }
    }
}

/// Where a transformation puts the original's pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    /// The part of the original used: left, top, width, height, in its pixels.
    pub crop: (f64, f64, f64, f64),
    /// The size that part is resampled to.
    pub size: (u32, u32),
    /// For `contain`: the box the resampled image is centred in.
    pub canvas: Option<Canvas>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    pub left: u32,
    pub top: u32,
}

impl Geometry {
    /// The size of the rendition.
    pub fn output_size(&self) -> (u32, u32) {
        self.canvas
            .map(|c| (c.width, c.height))
            .unwrap_or(self.size)
    }
}

/// Whether an `Accept` header names `image/webp` (with a non-zero quality). A bare `*/*` does not
/// count: clients that send only that (curl, scripts) are not known to read WebP.
pub fn accepts_webp(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let kind = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            kind.eq_ignore_ascii_case("image/webp") && !refused
        })
    })
}

/// The name of a rendition of `name` in `format`: the extension replaced (or added).
pub fn rendition_name(name: &str, format: ImageFormat) -> String {
    let stem = match name.rfind('.') {
        Some(dot) if dot > 0 => &name[..dot],
        _ => name,
    };
    format!("{stem}.{}", format.extension())
}

#[cfg(test)]
mod tests;
