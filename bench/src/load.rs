//! Concurrent load from this process: workers loop until a deadline (or a request count), every
//! response's status is checked, every failure counted and reported.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::Mutex;

/// What one request did.
pub struct Outcome {
    pub ok: bool,
    pub bytes: u64,
}

/// Aggregated results of one load run.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub requests: u64,
    pub failures: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Stats {
    pub fn rps(&self) -> f64 {
        (self.requests - self.failures) as f64 / self.seconds
    }

    pub fn mib_per_s(&self) -> f64 {
        self.bytes as f64 / (1024.0 * 1024.0) / self.seconds
    }
}

/// How long or how much.
#[derive(Debug, Clone, Copy)]
pub enum Amount {
    /// Each worker makes this many requests.
    Each(u64),
}

/// Runs `concurrency` workers calling `request(worker, i)`.
pub async fn run<F, Fut>(concurrency: usize, amount: Amount, request: F) -> Stats
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send,
{
    let request = Arc::new(request);
    let latencies = Arc::new(Mutex::new(Vec::<u32>::new()));
    let totals = Arc::new(Mutex::new((0u64, 0u64, 0u64)));
    let start = Instant::now();
    let mut handles = Vec::new();
    for w in 0..concurrency {
        let request = request.clone();
        let latencies = latencies.clone();
        let totals = totals.clone();
        handles.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let (mut n, mut failed, mut bytes) = (0u64, 0u64, 0u64);
            loop {
                match amount {
                    Amount::Each(count) if n >= count => break,
                    _ => {}
                }
                let t = Instant::now();
                let outcome = request(w, n).await;
                mine.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                n += 1;
                bytes += outcome.bytes;
                if !outcome.ok {
                    failed += 1;
                }
            }
            latencies.lock().await.extend(mine);
            let mut t = totals.lock().await;
            t.0 += n;
            t.1 += failed;
            t.2 += bytes;
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut lat = latencies.lock().await.clone();
    lat.sort_unstable();
    let pct = |p: f64| {
        if lat.is_empty() {
            0.0
        } else {
            let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
            f64::from(lat[i]) / 1000.0
        }
    };
    let t = *totals.lock().await;
    Stats {
        requests: t.0,
        failures: t.1,
        bytes: t.2,
        seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

/// Reads a whole response body, counting bytes without keeping them.
pub async fn drain(res: reqwest::Response) -> Outcome {
    use futures_util::StreamExt;
    let ok = res.status().is_success();
    let mut bytes = 0u64;
    let mut stream = res.bytes_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => bytes += c.len() as u64,
            Err(_) => return Outcome { ok: false, bytes },
        }
    }
    Outcome { ok, bytes }
}

/// A body of `len` bytes made of one shared 1 MiB buffer, streamed without copying.
pub fn body_of(len: u64, block: bytes::Bytes) -> reqwest::Body {
    let block_len = block.len() as u64;
    let chunks = len.div_ceil(block_len);
    let stream = futures_util::stream::iter((0..chunks).map(move |i| {
        let take = (len - i * block_len).min(block_len) as usize;
        Ok::<_, std::io::Error>(block.slice(..take))
    }));
    reqwest::Body::wrap_stream(stream)
}
