//! Accepting connections with bounds that `axum::serve` does not offer: a cap on open connections,
//! a time limit for a request's headers (which also closes idle keep-alive connections, since an
//! idle connection is one waiting for headers), and a size limit for them. A client that opens
//! sockets and never finishes a request holds each for at most the header timeout, and never more
//! than the cap at once; when the cap is reached, new connections wait in the kernel's backlog.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::config::ConnectionLimits;

/// Most header lines in one request.
const MAX_HEADERS: usize = 100;
/// The read buffer of a connection. hyper reads bodies through the same buffer that bounds the
/// headers, and large uploads run about a fifth slower with 64 KiB than with 256 KiB (see
/// docs/benchmarks.md), so the buffer is at least this and the configured header limit is enforced
/// by the application (`app::bounded_headers`).
const MIN_READ_BUFFER: usize = 256 * 1024;

/// Serves `app` on `listener` until `shutdown` resolves, then waits for open requests to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.header_timeout_secs))
        .max_buf_size(limits.max_header_bytes.max(MIN_READ_BUFFER))
        .max_headers(MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(Duration::from_secs(limits.header_timeout_secs))
        .keep_alive_timeout(Duration::from_secs(limits.header_timeout_secs));
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.map_err(std::io::Error::other)?,
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors and the like: nothing to do but wait a moment.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(
            app.clone()
                .map_request(|req: http::Request<Incoming>| req.map(Body::new)),
        );
        let builder = builder.clone();
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
