//! Accepting connections with bounds that `axum::serve` does not offer: a cap on open connections,
//! a time limit for a request's headers (which also closes idle keep-alive connections, since an
//! idle connection is one waiting for headers), and a size limit for them. A client that opens
//! sockets and never finishes a request holds each for at most the header timeout, and never more
//! than the cap at once; when the cap is reached, new connections wait in the kernel's backlog.

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
use crate::lifecycle::Lifecycle;

/// Most header lines in one request.
const MAX_HEADERS: usize = 100;
/// The read buffer of a connection. hyper reads bodies through the same buffer that bounds the
/// headers, and large uploads run about a fifth slower with 64 KiB than with 256 KiB (see
/// docs/benchmarks.md), so the buffer is at least this and the configured header limit is enforced
/// by the application (`app::bounded_headers`).
const MIN_READ_BUFFER: usize = 256 * 1024;

/// How long, after the grace period, handlers whose body was cut off get to record what arrived
/// and answer before their connections are dropped.
const CUT_OFF_WAIT: Duration = Duration::from_secs(5);

/// The pause after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

fn connection_builder(limits: &ConnectionLimits, keep_alive: bool) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(keep_alive)
        .header_read_timeout(Duration::from_secs(limits.header_timeout_secs))
        .max_buf_size(limits.max_header_bytes.max(MIN_READ_BUFFER))
        .max_headers(MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(Duration::from_secs(limits.header_timeout_secs))
        .keep_alive_timeout(Duration::from_secs(limits.header_timeout_secs));
    builder
}

type AppService = TowerToHyperService<
    tower::util::MapRequest<Router, fn(http::Request<Incoming>) -> http::Request<Body>>,
>;

fn hyper_service(app: &Router) -> AppService {
    let to_body: fn(http::Request<Incoming>) -> http::Request<Body> = |req| req.map(Body::new);
    TowerToHyperService::new(app.clone().map_request(to_body))
}

/// The next connection, or `None` after a failed accept. Accepting fails when the process is out
/// of descriptors (or the like): no event says when one is free again, so the loop backs off
/// briefly rather than spinning on the error.
async fn accept(listener: &TcpListener) -> Option<tokio::net::TcpStream> {
    match listener.accept().await {
        Ok((stream, _)) => Some(stream),
        Err(e) => {
            tracing::warn!(error = %e, "accepting a connection failed");
            tokio::time::sleep(ACCEPT_BACKOFF).await;
            None
        }
    }
}

/// Serves `app` on `listener` until the node starts draining, then as `lifecycle` describes:
/// requests in flight finish within `grace`, new connections get one answer (the app's 503) and
/// are closed, and at the end of `grace` the bodies still arriving are cut off.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    lifecycle: Arc<Lifecycle>,
    grace: Duration,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let builder = Arc::new(connection_builder(&limits, true));
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.map_err(std::io::Error::other)?,
            () = lifecycle.drain_started() => break,
        };
        let stream = tokio::select! {
            accepted = accept(&listener) => match accepted {
                Some(stream) => stream,
                None => continue,
            },
            () = lifecycle.drain_started() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_service(&app);
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
    drain(listener, app, &limits, &lifecycle, graceful, grace).await;
    Ok(())
}

/// The draining phase of [`serve`].
async fn drain(
    listener: TcpListener,
    app: Router,
    limits: &ConnectionLimits,
    lifecycle: &Lifecycle,
    graceful: GracefulShutdown,
    grace: Duration,
) {
    let closing = connection_builder(limits, false);
    let mut refusals = tokio::task::JoinSet::new();
    let finished = graceful.shutdown();
    tokio::pin!(finished);
    let deadline = tokio::time::sleep(grace);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut finished => break,
            () = &mut deadline => {
                lifecycle.cut_off();
                if tokio::time::timeout(CUT_OFF_WAIT, &mut finished).await.is_err() {
                    tracing::warn!("requests still running after the shutdown grace are dropped");
                }
                break;
            }
            accepted = accept(&listener) => {
                while refusals.try_join_next().is_some() {}
                let Some(stream) = accepted else {
                    continue;
                };
                if refusals.len() >= limits.max_connections {
                    continue;
                }
                let conn = closing
                    .serve_connection(TokioIo::new(stream), hyper_service(&app))
                    .into_owned();
                refusals.spawn(async move {
                    let _ = conn.await;
                });
            }
        }
    }
    drop(listener);
    refusals.abort_all();
}
