//! The bounds of image transformations (`TROVE_IMAGE_*`).

use super::{ConfigError, bad};

/// How many transformations run, wait, and how much each may take.
#[derive(Debug, Clone)]
pub struct ImageSettings {
    /// Most pixels an original may declare (`TROVE_IMAGE_MAX_PIXELS`).
    pub max_pixels: u64,
    /// Largest original, in bytes, that is read to be transformed (`TROVE_IMAGE_MAX_BYTES`).
    pub max_bytes: u64,
    /// Transformations running at once (`TROVE_IMAGE_CONCURRENCY`, default: the cores).
    pub concurrency: usize,
    /// Transformations waiting for a slot before more are refused (`TROVE_IMAGE_QUEUE`).
    pub queue: usize,
    /// Longest time one may take, in seconds (`TROVE_IMAGE_TIMEOUT`).
    pub timeout_secs: u64,
    /// Renditions are stored in the blob store and served from there (`TROVE_IMAGE_CACHE`).
    pub cache: bool,
    /// Bytes of recently served renditions kept in memory (`TROVE_IMAGE_MEMORY_CACHE`; 0: none).
    pub memory_cache_bytes: u64,
}

/// Reads the settings through `get` (lower-case keys without `TROVE_`).
pub(super) fn image_settings(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<ImageSettings, ConfigError> {
    let number = |key: &str, default: u64, min: u64, max: u64, what: &str| {
        let var = format!("TROVE_{}", key.to_ascii_uppercase());
        match get(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| bad(&var, format!("'{v}' is not {what} from {min} to {max}"))),
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let cache = match get("image_cache").as_deref() {
        None | Some("true") | Some("1") => true,
        Some("false") | Some("0") => false,
        Some(v) => {
            return Err(bad(
                "TROVE_IMAGE_CACHE",
                format!("'{v}' is not true or false"),
            ));
        }
    };
    Ok(ImageSettings {
        max_pixels: number(
            "image_max_pixels",
            50_000_000,
            1,
            1_000_000_000,
            "a number of pixels",
        )?,
        max_bytes: number(
            "image_max_bytes",
            100 << 20,
            1,
            4 << 30,
            "a number of bytes",
        )?,
        concurrency: number(
            "image_concurrency",
            cores,
            1,
            1024,
            "a number of transformations",
        )? as usize,
        queue: number("image_queue", 64, 0, 100_000, "a number of transformations")? as usize,
        timeout_secs: number("image_timeout", 30, 1, 3600, "a number of seconds")?,
        cache,
        memory_cache_bytes: number(
            "image_memory_cache",
            32 << 20,
            0,
            16 << 30,
            "a number of bytes",
        )?,
    })
}
