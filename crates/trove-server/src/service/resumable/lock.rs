//! One writer per upload across every node.
//!
//! On the local backend the upload's file lock settles who writes (every process sharing the
//! folder is on one machine). Object storage is shared by nodes that share nothing else, so a
//! request that writes an upload's bytes first takes the upload's lease in the metadata store,
//! the one place all nodes see. The lease is short and renewed while the body arrives: a request
//! that ends releases it at once, and a node that dies mid-request holds it at most
//! [`UPLOAD_LEASE_TIME`]. A request that loses its lease (it stalled for longer than that and
//! another took over) stops before recording anything.

use std::sync::Arc;
use std::time::Instant;

use trove_core::{ErrorCode, FileId, time};
use trove_meta::MetaStore;

use crate::error::{ApiError, ApiResult};
use crate::service::uploads::lease_holder;
use crate::state::AppState;

/// How long a lease lasts without renewal: what a writer that died costs the next one.
const UPLOAD_LEASE_TIME: chrono::Duration = chrono::Duration::seconds(30);
/// Renewed this often while a body arrives, well within [`UPLOAD_LEASE_TIME`].
const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// A request's hold on an upload; `None` inside where the blob store's own lock suffices.
pub(super) struct UploadLock(Option<Lease>);

struct Lease {
    meta: Arc<dyn MetaStore>,
    name: String,
    holder: String,
    renewed: Instant,
}

fn locked() -> ApiError {
    ApiError::new(
        ErrorCode::UploadLocked,
        "another request is writing to this upload; retry when it is done",
    )
}

impl UploadLock {
    /// Takes the upload for this request; `upload_locked` (423) while another holds it.
    pub(super) async fn take(state: &AppState, id: FileId) -> ApiResult<Self> {
        Self::try_take(state, id).await?.ok_or_else(locked)
    }

    /// [`Self::take`], or `None` while another request holds the upload.
    pub(super) async fn try_take(state: &AppState, id: FileId) -> ApiResult<Option<Self>> {
        if state.blobs.locks_uploads() {
            return Ok(Some(Self(None)));
        }
        let lease = Lease {
            meta: state.meta.clone(),
            name: format!("upload:{id}"),
            holder: format!("{}:{}", lease_holder(), uuid::Uuid::new_v4().simple()),
            renewed: Instant::now(),
        };
        let now = time::now();
        let taken = state
            .meta
            .take_lease(&lease.name, &lease.holder, now, now + UPLOAD_LEASE_TIME)
            .await?;
        Ok(taken.then_some(Self(Some(lease))))
    }

    /// Renews the lease when it is due; `upload_locked` when another request took it over.
    pub(super) async fn keep(&mut self) -> ApiResult<()> {
        match &self.0 {
            Some(l) if l.renewed.elapsed() >= RENEW_EVERY => self.confirm().await,
            _ => Ok(()),
        }
    }

    /// Renews the lease now: the request still holds it, for another [`UPLOAD_LEASE_TIME`].
    pub(super) async fn confirm(&mut self) -> ApiResult<()> {
        let Some(lease) = self.0.as_mut() else {
            return Ok(());
        };
        let now = time::now();
        let renewed = Instant::now();
        if lease
            .meta
            .take_lease(&lease.name, &lease.holder, now, now + UPLOAD_LEASE_TIME)
            .await?
        {
            lease.renewed = renewed;
            Ok(())
        } else {
            Err(locked())
        }
    }

    /// Gives the upload up, so the next request (on any node) may write at once.
    pub(super) async fn release(mut self) {
        if let Some(lease) = self.0.take() {
            lease.release().await;
        }
    }
}

impl Lease {
    async fn release(self) {
        if let Err(e) = self.meta.release_lease(&self.name, &self.holder).await {
            tracing::warn!(lease = %self.name, error = %e, "releasing an upload's lease failed; it lapses by itself");
        }
    }
}

impl Drop for UploadLock {
    /// A request dropped mid-way (its client went away) releases in the background.
    fn drop(&mut self) {
        if let Some(lease) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(lease.release());
        }
    }
}
