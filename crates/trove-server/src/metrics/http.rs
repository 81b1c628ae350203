//! Request figures and the access log: every request is counted and timed by its route template
//! (`/v1/files/{id}`, never the path itself), method and status class, and its body bytes are
//! counted as they flow.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::state::AppState;

/// The route label of a request no route matched.
const UNMATCHED: &str = "unmatched";

/// Latency buckets, in seconds: from a cached metadata read to a large upload.
const LATENCY_BUCKETS: [f64; 16] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0, 30.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

pub(crate) struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<RequestLabels, Histogram, fn() -> Histogram>,
    received: Counter,
    sent: Counter,
}

impl HttpMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let requests = Family::default();
        registry.register(
            "http_requests",
            "HTTP requests by route template, method and status class",
            requests.clone(),
        );
        let duration = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its response headers, by route template, method \
             and status class",
            Unit::Seconds,
            duration.clone(),
        );
        let received = Counter::default();
        registry.register_with_unit(
            "http_received",
            "Request body bytes received",
            Unit::Bytes,
            received.clone(),
        );
        let sent = Counter::default();
        registry.register_with_unit(
            "http_sent",
            "Response body bytes sent",
            Unit::Bytes,
            sent.clone(),
        );
        Self {
            requests,
            duration,
            received,
            sent,
        }
    }
}

/// The route template a request matched, carried from inside the router (where it is known) to
/// [`observe`] (which sees every request, including those refused before routing).
#[derive(Debug, Clone)]
struct RouteTemplate(MatchedPath);

/// Inside the router: records the matched route in the request's span and its response.
pub async fn mark_route(req: Request, next: Next) -> Response {
    let matched = req.extensions().get::<MatchedPath>().cloned();
    if let Some(m) = &matched {
        tracing::Span::current().record("route", m.as_str());
    }
    let mut res = next.run(req).await;
    if let Some(m) = matched {
        res.extensions_mut().insert(RouteTemplate(m));
    }
    res
}

/// Outside the router: counts, times and logs every request.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let http = &state.metrics.http;
    let req = req.map(|body| {
        Body::new(Counted {
            inner: body,
            bytes: http.received.clone(),
        })
    });
    let res = next.run(req).await;
    let elapsed = started.elapsed();
    let status = res.status();
    let labels = RequestLabels {
        route: res
            .extensions()
            .get::<RouteTemplate>()
            .map_or(UNMATCHED, |r| r.0.as_str())
            .to_owned(),
        method,
        status: status_class(status),
    };
    http.requests.get_or_create(&labels).inc();
    http.duration
        .get_or_create(&labels)
        .observe(elapsed.as_secs_f64());
    tracing::info!(
        target: "trove::access",
        status = status.as_u16(),
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        route = %labels.route,
        "request"
    );
    let sent = http.sent.clone();
    res.map(|body| {
        Body::new(Counted {
            inner: body,
            bytes: sent,
        })
    })
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        // Any other token is accepted by HTTP; one label keeps the series bounded.
        _ => "other",
    }
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// A body whose data bytes are counted as they pass, whoever reads it.
struct Counted {
    inner: Body,
    bytes: Counter,
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.bytes.inc_by(data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_closed_sets() {
        assert_eq!(method_label(&Method::GET), "GET");
        let custom = Method::from_bytes(b"PROPFIND-ANYTHING-AT-ALL").unwrap();
        assert_eq!(method_label(&custom), "other");
        assert_eq!(status_class(StatusCode::NO_CONTENT), "2xx");
        assert_eq!(status_class(StatusCode::SERVICE_UNAVAILABLE), "5xx");
    }
}
