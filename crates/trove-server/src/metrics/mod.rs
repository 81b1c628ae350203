//! What `/metrics` exports, in the Prometheus text format.
//!
//! One [`Metrics`] per server, with a registry of its own rather than a process-wide recorder:
//! several servers in one process (the tests, the benchmark harness) each export only their own
//! figures. Request figures are counted as requests pass ([`http`]); the stored figures (files and
//! bytes per bucket, the deletion queue) are read from the database every
//! `TROVE_METRICS_REFRESH` seconds by [`refresh`], never per scrape, so a scraper costs the
//! database nothing.
//!
//! Label values come from closed sets (route templates, a fixed list of methods, status classes,
//! bucket ids), so no request can grow the number of series.

pub mod endpoint;
pub mod http;

use std::collections::HashSet;
use std::sync::Mutex;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

/// How a file's bytes arrived.
#[derive(Debug, Clone, Copy, Default, Hash, PartialEq, Eq)]
pub enum UploadKind {
    /// `multipart/form-data` (`POST /v1/files`, the Nhost-compatible API).
    Multipart,
    /// A raw body (`POST /v1/files` with a file name, `PUT /v1/files/{id}/content`).
    #[default]
    Raw,
    /// `POST /v1/uploads`, then the bytes to the upload URL.
    Direct,
    /// tus.
    Tus,
}

/// Where an upload got to.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum UploadStage {
    Started,
    Completed,
    Failed,
}

/// Label values in lower case, as Prometheus conventions have them.
macro_rules! label_values {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl EncodeLabelValue for $name {
            fn encode(&self, out: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
                use std::fmt::Write;
                out.write_str(match self { $(Self::$variant => $text),+ })
            }
        }
    };
}

label_values!(UploadKind { Multipart => "multipart", Raw => "raw", Direct => "direct", Tus => "tus" });
label_values!(UploadStage { Started => "started", Completed => "completed", Failed => "failed" });
label_values!(Outcome { Done => "done", Skipped => "skipped", Failed => "failed" });

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UploadLabels {
    kind: UploadKind,
    stage: UploadStage,
}

/// How a piece of background work ended.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Another node held the lease, or the queue was full.
    Skipped,
    Failed,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    outcome: Outcome,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BucketLabels {
    bucket: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: &'static str,
}

/// Counts of outcomes, shareable with parts that know nothing of the rest (the JWKS cache).
pub type OutcomeCounter = Family<OutcomeLabels, Counter>;

/// Counts one outcome.
pub fn count(counter: &OutcomeCounter, outcome: Outcome) {
    counter.get_or_create(&OutcomeLabels { outcome }).inc();
}

/// A server's metrics.
pub struct Metrics {
    registry: Registry,
    pub(crate) http: http::HttpMetrics,
    uploads: Family<UploadLabels, Counter>,
    bucket_files: Family<BucketLabels, Gauge>,
    bucket_bytes: Family<BucketLabels, Gauge>,
    /// The buckets exported at the last refresh, so that a deleted bucket's series go.
    buckets_exported: Mutex<HashSet<String>>,
    deletion_queue: Gauge,
    cleanup_runs: OutcomeCounter,
    pub jwks_refreshes: OutcomeCounter,
    image_transformations: OutcomeCounter,
    image_queue: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("trove");
        let http = http::HttpMetrics::register(&mut registry);
        let uploads = Family::default();
        registry.register(
            "uploads",
            "Uploads by kind (multipart, raw, direct, tus) and stage (started, completed, failed)",
            uploads.clone(),
        );
        let bucket_files = Family::default();
        registry.register(
            "bucket_files",
            "File rows per bucket, whatever their status (read from the database every TROVE_METRICS_REFRESH seconds)",
            bucket_files.clone(),
        );
        let bucket_bytes = Family::default();
        registry.register_with_unit(
            "bucket",
            "Bytes of the ready files per bucket (read from the database every TROVE_METRICS_REFRESH seconds)",
            Unit::Bytes,
            bucket_bytes.clone(),
        );
        let deletion_queue = Gauge::default();
        registry.register(
            "blob_deletion_queue",
            "Blob deletions queued and not done yet",
            deletion_queue.clone(),
        );
        let cleanup_runs = Family::default();
        registry.register(
            "cleanup_runs",
            "Clean-up passes (expired uploads, queued deletions) by outcome",
            cleanup_runs.clone(),
        );
        let jwks_refreshes = Family::default();
        registry.register(
            "jwks_refreshes",
            "Fetches of the JWKS by outcome",
            jwks_refreshes.clone(),
        );
        let image_transformations = Family::default();
        registry.register(
            "image_transformations",
            "Image renditions computed, by outcome (skipped: refused because the queue was full)",
            image_transformations.clone(),
        );
        let image_queue = Gauge::default();
        registry.register(
            "image_queue",
            "Image transformations admitted now, running or waiting for a slot",
            image_queue.clone(),
        );
        let info = Family::<VersionLabels, Gauge>::default();
        info.get_or_create(&VersionLabels {
            version: env!("CARGO_PKG_VERSION"),
        })
        .set(1);
        registry.register("build_info", "The version of Trove running", info);
        // Every known series starts at 0, so that a rate over a counter's first increase is right
        // and a dashboard shows 0, not "no data", for what has not happened yet.
        for kind in [
            UploadKind::Multipart,
            UploadKind::Raw,
            UploadKind::Direct,
            UploadKind::Tus,
        ] {
            for stage in [
                UploadStage::Started,
                UploadStage::Completed,
                UploadStage::Failed,
            ] {
                let _ = uploads.get_or_create(&UploadLabels { kind, stage });
            }
        }
        for family in [&cleanup_runs, &jwks_refreshes, &image_transformations] {
            for outcome in [Outcome::Done, Outcome::Skipped, Outcome::Failed] {
                let _ = family.get_or_create(&OutcomeLabels { outcome });
            }
        }
        Self {
            registry,
            http,
            uploads,
            bucket_files,
            bucket_bytes,
            buckets_exported: Mutex::default(),
            deletion_queue,
            cleanup_runs,
            jwks_refreshes,
            image_transformations,
            image_queue,
        }
    }

    /// Counts an upload reaching `stage`.
    pub fn upload(&self, kind: UploadKind, stage: UploadStage) {
        self.uploads
            .get_or_create(&UploadLabels { kind, stage })
            .inc();
    }

    /// Counts an upload that started and ended with `result`.
    pub fn upload_ended<T, E>(&self, kind: UploadKind, result: &Result<T, E>) {
        let stage = if result.is_ok() {
            UploadStage::Completed
        } else {
            UploadStage::Failed
        };
        self.upload(kind, stage);
    }

    /// Counts a whole upload (one request that starts and ends it).
    pub async fn track_upload<T, E>(
        &self,
        kind: UploadKind,
        upload: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        self.upload(kind, UploadStage::Started);
        let result = upload.await;
        self.upload_ended(kind, &result);
        result
    }

    pub fn cleanup_run(&self, outcome: Outcome) {
        count(&self.cleanup_runs, outcome);
    }

    pub fn image_transformation(&self, outcome: Outcome) {
        count(&self.image_transformations, outcome);
    }

    /// Sets the stored figures read from the database.
    fn set_stored(&self, usage: &[trove_meta::BucketUsage], queued: u64) {
        let mut exported = self
            .buckets_exported
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let now: HashSet<String> = usage
            .iter()
            .map(|u| u.bucket_id.as_str().to_owned())
            .collect();
        for gone in exported.difference(&now) {
            let labels = BucketLabels {
                bucket: gone.clone(),
            };
            self.bucket_files.remove(&labels);
            self.bucket_bytes.remove(&labels);
        }
        for u in usage {
            let labels = BucketLabels {
                bucket: u.bucket_id.as_str().to_owned(),
            };
            self.bucket_files
                .get_or_create(&labels)
                .set(i64::try_from(u.files).unwrap_or(i64::MAX));
            self.bucket_bytes
                .get_or_create(&labels)
                .set(i64::try_from(u.bytes).unwrap_or(i64::MAX));
        }
        *exported = now;
        self.deletion_queue
            .set(i64::try_from(queued).unwrap_or(i64::MAX));
    }

    /// The text a scrape gets. `image_queue` is read at the moment of the scrape: it is a number
    /// in memory, not a query.
    pub fn render(&self, images_admitted: usize) -> String {
        self.image_queue
            .set(i64::try_from(images_admitted).unwrap_or(i64::MAX));
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// Reads the stored figures from the database into the gauges.
pub async fn refresh(state: &crate::state::AppState) -> Result<(), trove_meta::MetaError> {
    let mut usage = state.meta.bucket_usage().await?;
    // A bucket without files holds 0 of each, which a dashboard should show.
    for bucket in state.meta.list_buckets().await? {
        if !usage.iter().any(|u| u.bucket_id == bucket.id) {
            usage.push(trove_meta::BucketUsage {
                bucket_id: bucket.id,
                files: 0,
                bytes: 0,
            });
        }
    }
    let queue = state.meta.blob_deletion_stats().await?;
    state.metrics.set_stored(&usage, queue.len);
    Ok(())
}
