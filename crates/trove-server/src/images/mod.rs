//! Image previews: renditions of a file computed on request, bounded, and stored once.
//!
//! Policy: a transformation is admitted only while fewer than `concurrency + queue` are admitted
//! (else 503 `busy` with `Retry-After`); at most `concurrency` run at once, on the blocking pool,
//! each within `TROVE_IMAGE_TIMEOUT`; the original is read only once a slot is free, and only up
//! to `TROVE_IMAGE_MAX_BYTES`. Identical requests that arrive while a rendition is being computed
//! wait for that one computation. A rendition is stored beside the original's blob
//! (`{blob key}.renditions/{digest}.{ext}`), so it goes when the original's blob goes (replace,
//! delete, `trove gc`). Originals are never served through any of this, so their downloads never
//! wait behind a transformation.

mod serve;

use crate::metrics::Outcome;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, header};
use bytes::Bytes;
use futures_util::future::{BoxFuture, Shared};
use futures_util::{FutureExt, StreamExt};
use tokio::sync::Semaphore;
use trove_core::transform::{ImageFormat, Transform};
use trove_core::{ErrorCode, FileRecord};
use trove_images::{Bounds, RenderError};

use crate::config::ImageSettings;
use crate::error::ApiError;
use crate::state::AppState;

pub use serve::{parse_query, serve_either, serve_transformed};

/// Why a rendition could not be had; cloned to every request that waited for the same one.
#[derive(Debug, Clone)]
pub enum Refusal {
    NotAnImage,
    TooLarge(String),
    Busy(&'static str),
    /// Logged where it happened; the client sees the fixed internal message.
    Internal,
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::NotAnImage => not_an_image(),
            Refusal::TooLarge(m) => ApiError::new(ErrorCode::ImageTooLarge, m),
            Refusal::Busy(m) => ApiError::new(ErrorCode::Busy, m)
                .with_header(header::RETRY_AFTER, HeaderValue::from_static("1")),
            Refusal::Internal => ApiError::new(ErrorCode::Internal, "internal server error"),
        }
    }
}

/// 400 `not_an_image`.
pub fn not_an_image() -> ApiError {
    ApiError::new(
        ErrorCode::NotAnImage,
        "the file is not an image that can be transformed (JPEG, PNG, WebP, GIF, BMP or TIFF)",
    )
}

type Pending = Shared<BoxFuture<'static, Result<Bytes, Refusal>>>;

/// Renditions larger than this are never kept in memory.
const MEMORY_MAX_ENTRY: usize = 1 << 20;

/// A rendition weighs its bytes.
#[derive(Debug, Clone, Copy)]
struct ByLength;

impl quick_cache::Weighter<String, Bytes> for ByLength {
    fn weight(&self, key: &String, bytes: &Bytes) -> u64 {
        (key.len() + bytes.len()) as u64
    }
}

/// The transformations of one process: admission, slots, and the renditions being computed.
pub struct Renderer {
    settings: ImageSettings,
    slots: Arc<Semaphore>,
    admitted: AtomicUsize,
    computing: Mutex<HashMap<String, Pending>>,
    computed: AtomicUsize,
    /// Recently served renditions. Their keys name one revision's pixels, so an entry is never
    /// stale; the caller's access to the file is checked before the cache is asked.
    recent: Option<quick_cache::sync::Cache<String, Bytes, ByLength>>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("settings", &self.settings)
            .field("admitted", &self.admitted)
            .finish_non_exhaustive()
    }
}

/// One admitted transformation; leaving frees its place in the queue.
struct Admission<'a>(&'a AtomicUsize);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Renderer {
    pub fn new(settings: ImageSettings) -> Self {
        let recent = (settings.cache && settings.memory_cache_bytes > 0).then(|| {
            let bytes = settings.memory_cache_bytes;
            quick_cache::sync::Cache::with_weighter(
                (bytes / 8192).max(16) as usize,
                bytes,
                ByLength,
            )
        });
        Self {
            slots: Arc::new(Semaphore::new(settings.concurrency)),
            settings,
            admitted: AtomicUsize::new(0),
            computing: Mutex::new(HashMap::new()),
            computed: AtomicUsize::new(0),
            recent,
        }
    }

    /// A rendition served recently, from memory.
    pub fn recent(&self, key: &str) -> Option<Bytes> {
        self.recent.as_ref()?.get(key)
    }

    /// Keeps a small rendition in memory.
    pub fn remember(&self, key: &str, bytes: &Bytes) {
        if let Some(recent) = &self.recent
            && bytes.len() <= MEMORY_MAX_ENTRY
        {
            recent.insert(key.to_owned(), bytes.clone());
        }
    }

    /// How many transformations are admitted now (running or waiting for a slot).
    pub fn admitted(&self) -> usize {
        self.admitted.load(Ordering::Acquire)
    }

    /// How many renditions this process has computed (not served from the store).
    pub fn computed(&self) -> usize {
        self.computed.load(Ordering::Acquire)
    }

    pub fn caches(&self) -> bool {
        self.settings.cache
    }

    fn admit(&self) -> Result<Admission<'_>, Refusal> {
        let most = self.settings.concurrency + self.settings.queue;
        self.admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < most).then_some(n + 1)
            })
            .map(|_| Admission(&self.admitted))
            .map_err(|_| Refusal::Busy("too many image transformations are waiting; retry shortly"))
    }

    fn computing(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.computing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The rendition named `key` of `file`: computed once however many ask at the same time, and
    /// stored under `key` when `store`.
    pub async fn rendition(
        &self,
        state: &AppState,
        file: &FileRecord,
        t: Transform,
        output: ImageFormat,
        key: String,
        store: bool,
    ) -> Result<Bytes, ApiError> {
        let pending = {
            let mut computing = self.computing();
            match computing.get(&key) {
                Some(p) => p.clone(),
                None => {
                    // A task of its own: the rendition is finished (and stored) even when the
                    // client that asked first goes away.
                    let task = tokio::spawn(compute(
                        state.clone(),
                        file.clone(),
                        t,
                        output,
                        key.clone(),
                        store,
                    ));
                    let p = async move {
                        task.await.unwrap_or_else(|e| {
                            tracing::error!(error = %e, "an image transformation task failed");
                            Err(Refusal::Internal)
                        })
                    }
                    .boxed()
                    .shared();
                    computing.insert(key, p.clone());
                    p
                }
            }
        };
        pending.await.map_err(ApiError::from)
    }
}

/// Where the renditions of the blob `blob_key` are stored.
pub fn renditions_of(blob_key: &str) -> String {
    format!("{blob_key}.renditions/")
}

/// The blob key whose rendition `key` is, if it is one.
pub fn original_of(key: &str) -> Option<&str> {
    let (folder, _) = key.rsplit_once('/')?;
    folder.strip_suffix(".renditions")
}

/// Deletes every stored rendition of the blob `blob_key`.
pub async fn drop_renditions(
    blobs: &trove_blob::BlobStore,
    blob_key: &str,
) -> Result<usize, trove_blob::BlobError> {
    let mut found = blobs.list(&renditions_of(blob_key));
    let mut keys = Vec::new();
    while let Some(info) = found.next().await {
        keys.push(info?.key);
    }
    for key in &keys {
        blobs.delete(key).await?;
    }
    Ok(keys.len())
}

async fn compute(
    state: AppState,
    file: FileRecord,
    t: Transform,
    output: ImageFormat,
    key: String,
    store: bool,
) -> Result<Bytes, Refusal> {
    let result = compute_now(&state, &file, t, output, &key, store).await;
    state.images.computing().remove(&key);
    state.metrics.image_transformation(match &result {
        Ok(_) => Outcome::Done,
        Err(Refusal::Busy(_)) => Outcome::Skipped,
        Err(_) => Outcome::Failed,
    });
    result
}

async fn compute_now(
    state: &AppState,
    file: &FileRecord,
    t: Transform,
    output: ImageFormat,
    key: &str,
    store: bool,
) -> Result<Bytes, Refusal> {
    let renderer = &state.images;
    let settings = &renderer.settings;
    let too_large = || {
        Refusal::TooLarge(format!(
            "the image is larger than the {} bytes that may be transformed",
            settings.max_bytes
        ))
    };
    if file.size > settings.max_bytes {
        return Err(too_large());
    }
    let _admission = renderer.admit()?;
    let slot = renderer
        .slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| Refusal::Internal)?;
    let mut stream = crate::content::original_stream(state, file)
        .await
        .map_err(|e| {
            tracing::error!(file = %file.id, code = %e.code, "reading an original to transform failed");
            Refusal::Internal
        })?;
    let mut original = Vec::with_capacity(file.size as usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            tracing::error!(file = %file.id, error = %e, "reading an original to transform failed");
            Refusal::Internal
        })?;
        if (original.len() + chunk.len()) as u64 > settings.max_bytes {
            return Err(too_large());
        }
        original.extend_from_slice(&chunk);
    }
    let timeout = Duration::from_secs(settings.timeout_secs);
    let bounds = Bounds {
        max_pixels: settings.max_pixels,
        deadline: Instant::now() + timeout,
    };
    renderer.computed.fetch_add(1, Ordering::AcqRel);
    let work = tokio::task::spawn_blocking(move || {
        let rendered = trove_images::render(&original, &t, output, &bounds);
        // The slot is held until the work really ends, even when its request has given up.
        drop(slot);
        rendered
    });
    let rendered = match tokio::time::timeout(timeout, work).await {
        Err(_) => Err(RenderError::TimedOut),
        Ok(Err(e)) => {
            tracing::error!(file = %file.id, error = %e, "an image transformation panicked");
            return Err(Refusal::Internal);
        }
        Ok(Ok(r)) => r,
    };
    let bytes = match rendered {
        Ok(b) => Bytes::from(b),
        Err(RenderError::NotAnImage) => return Err(Refusal::NotAnImage),
        Err(e @ RenderError::TooLarge { .. }) => return Err(Refusal::TooLarge(e.to_string())),
        Err(RenderError::TimedOut) => {
            return Err(Refusal::Busy(
                "the image transformation took longer than allowed",
            ));
        }
        Err(RenderError::Failed(detail)) => {
            tracing::error!(file = %file.id, %detail, "an image transformation failed");
            return Err(Refusal::Internal);
        }
    };
    if store && let Err(e) = state.blobs.put(key, bytes.clone()).await {
        // Served all the same; the next request computes it again.
        tracing::warn!(%key, error = %e, "storing a rendition failed");
    }
    Ok(bytes)
}
