//! Shared state of a running server.

use std::sync::Arc;

use trove_blob::BlobStore;
use trove_meta::MetaStore;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::signing::Signer;

/// Everything a handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub meta: Arc<dyn MetaStore>,
    pub blobs: BlobStore,
    pub auth: Arc<Authenticator>,
    pub signer: Arc<Signer>,
    /// Running hashes of resumable uploads this process receives.
    pub tus_hashes: Arc<crate::service::resumable::HashCache>,
    /// Image transformations: their bounds and the renditions being computed.
    pub images: Arc<crate::images::Renderer>,
    /// Whether the node is shutting down.
    pub lifecycle: Arc<crate::lifecycle::Lifecycle>,
    /// What `/metrics` exports.
    pub metrics: Arc<crate::metrics::Metrics>,
}
