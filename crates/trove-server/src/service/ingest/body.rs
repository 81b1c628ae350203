//! Reading a request body: the next chunk within the idle timeout, and the first bytes kept aside
//! to decide the MIME type (and, for a small body, to hold all of it).

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use trove_core::mime::SNIFF_LEN;
use trove_core::{ContentRules, ErrorCode};

use super::api;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A body whose first bytes have been read: enough to decide the MIME type and, when it ends within
/// the inline threshold, all of it.
pub(super) struct Peeked<S> {
    pub(super) head: Vec<Bytes>,
    pub(super) head_len: u64,
    /// The body ended within `head`.
    pub(super) ended: bool,
    pub(super) rest: S,
}

impl<S> Peeked<S> {
    /// The whole body, when it ended within the inline threshold (`TROVE_INLINE_MAX_BYTES`): such
    /// content is kept in the metadata store with its row, where one group commit makes dozens of
    /// uploads durable at once and a download reads it with the row.
    pub(super) fn whole(&self, inline_max: u64) -> Option<Bytes> {
        if inline_max == 0 || !self.ended || self.head_len > inline_max {
            return None;
        }
        Some(match self.head.as_slice() {
            [one] => one.clone(),
            many => Bytes::from(many.concat()),
        })
    }

    pub(super) fn head_bytes(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(SNIFF_LEN);
        for chunk in &self.head {
            let take = (SNIFF_LEN - buf.len()).min(chunk.len());
            buf.extend_from_slice(&chunk[..take]);
            if buf.len() == SNIFF_LEN {
                break;
            }
        }
        buf
    }
}

/// How long a body may pause, and the node's shutdown, which ends every body still arriving once
/// its grace period is over.
pub(crate) struct BodyBounds {
    idle: std::time::Duration,
    /// Registered once per body: chunks arrive on the hot path of every upload.
    cut_off: std::pin::Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
}

pub(crate) fn body_bounds(state: &AppState) -> BodyBounds {
    BodyBounds {
        idle: std::time::Duration::from_secs(state.config.limits.body_timeout_secs),
        cut_off: Box::pin(state.lifecycle.cut_off_signal()),
    }
}

/// The next chunk of a body; 408 `request_timeout` when none arrives within the idle timeout (a
/// client that stops sending must not hold an upload, its lease and its connection forever), 503
/// `unavailable` once the node's shutdown grace has run out. Either ends the body the way a
/// client's disconnection does, so the caller's clean-up (or a tus upload's keeping what arrived)
/// is the same.
pub(crate) async fn next_chunk<S, E>(
    body: &mut S,
    bounds: &mut BodyBounds,
) -> ApiResult<Option<Bytes>>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    // The cut-off first: a body that always has bytes ready must still stop.
    tokio::select! {
        biased;
        () = bounds.cut_off.as_mut() => Err(ApiError::new(
            ErrorCode::Unavailable,
            "this node shut down before the body arrived; a resumable upload continues from what \
             was received",
        )),
        next = tokio::time::timeout(bounds.idle, body.next()) => match next {
            Ok(Some(chunk)) => chunk.map(Some).map_err(body_error),
            Ok(None) => Ok(None),
            Err(_) => Err(ApiError::new(
                ErrorCode::RequestTimeout,
                format!("no bytes of the body arrived for {} s", bounds.idle.as_secs()),
            )),
        },
    }
}

/// Reads the first bytes of a body: enough to sniff its type, and up to one byte past the inline
/// threshold, so that a small body is known to be whole before anything is stored.
pub(super) async fn peek<S, E>(
    state: &AppState,
    mut body: S,
    rules: &ContentRules,
) -> ApiResult<Peeked<S>>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut bounds = body_bounds(state);
    let want = (SNIFF_LEN as u64).max(state.config.inline_max_bytes + 1);
    let mut head = Vec::new();
    let mut head_len = 0u64;
    let mut ended = false;
    while head_len < want {
        match next_chunk(&mut body, &mut bounds).await? {
            Some(chunk) => {
                head_len += chunk.len() as u64;
                if head_len > rules.max_size {
                    rules.check_size(head_len).map_err(api)?;
                }
                head.push(chunk);
            }
            None => {
                ended = true;
                break;
            }
        }
    }
    Ok(Peeked {
        head,
        head_len,
        ended,
        rest: body,
    })
}

fn body_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("the request body could not be read: {e}"))
}
