//! One streaming PUT for a write whose length is known up front (a request with a
//! `Content-Length`), up to S3's limit for a single object PUT.
//!
//! A multipart upload costs the store one request per 8 MiB part plus its assembly; many S3-compatible
//! stores (MinIO's erasure sets, Ceph, Garage, s3s-fs) copy or re-read every part at completion.
//! With the length known, the bytes go to the store as they arrive in one presigned PUT (the
//! body streams through a small bounded channel, so memory stays flat), and the store has nothing
//! to assemble. An interrupted PUT leaves nothing behind: S3 creates the object only once the
//! whole declared length has arrived. What it gives up is `object_store`'s retry of a failed
//! part: a failure mid-way fails the write (503, the client retries the upload).

use std::time::Duration;

use bytes::Bytes;
use object_store::signer::{Method, Signer};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::BlobError;

/// The largest object one PUT may create on S3.
pub(crate) const SINGLE_PUT_MAX: u64 = 5 * 1024 * 1024 * 1024;
/// Chunks queued between the request body and the PUT: the store's pace is the upload's.
const QUEUED_CHUNKS: usize = 4;

/// A PUT under way; bytes are sent as [`SinglePut::write`] hands them over.
pub(crate) struct SinglePut {
    tx: Option<mpsc::Sender<Result<Bytes, std::io::Error>>>,
    task: JoinHandle<reqwest::Result<reqwest::Response>>,
    expected: u64,
    sent: u64,
}

fn failed(e: impl std::fmt::Display) -> BlobError {
    BlobError::Unavailable(format!("storing the object: {e}"))
}

impl SinglePut {
    pub(crate) async fn start(
        http: &reqwest::Client,
        signer: &dyn Signer,
        path: &object_store::path::Path,
        len: u64,
    ) -> Result<Self, BlobError> {
        // The URL is checked when the request starts, not when its last byte arrives.
        let url = signer
            .signed_url(Method::PUT, path, Duration::from_secs(600))
            .await?;
        let (tx, rx) = mpsc::channel(QUEUED_CHUNKS);
        let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async {
            rx.recv().await.map(|item| (item, rx))
        }));
        let request = http
            .put(url.as_str())
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(body);
        Ok(Self {
            tx: Some(tx),
            task: tokio::spawn(request.send()),
            expected: len,
            sent: 0,
        })
    }

    pub(crate) async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        self.sent += chunk.len() as u64;
        if self.sent > self.expected {
            return Err(BlobError::Io("more bytes than the declared length".into()));
        }
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| BlobError::Io("writer closed".into()))?;
        if tx.send(Ok(chunk)).await.is_err() {
            // The PUT ended early: say why.
            self.tx = None;
            return Err(match (&mut self.task).await {
                Ok(Ok(res)) => failed(format!("the store answered {}", res.status())),
                Ok(Err(e)) => failed(e),
                Err(e) => failed(e),
            });
        }
        Ok(())
    }

    pub(crate) async fn finish(mut self) -> Result<(), BlobError> {
        if self.sent != self.expected {
            self.task.abort();
            return Err(BlobError::Io(format!(
                "{} bytes written of {} declared",
                self.sent, self.expected
            )));
        }
        self.tx = None;
        let res = (&mut self.task).await.map_err(failed)?.map_err(failed)?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(failed(format!("the store answered {}", res.status())))
        }
    }

    /// Stops the PUT: the store discards an object whose body never completed.
    pub(crate) fn abort(&mut self) {
        self.tx = None;
        self.task.abort();
    }
}

impl Drop for SinglePut {
    fn drop(&mut self) {
        self.task.abort();
    }
}
