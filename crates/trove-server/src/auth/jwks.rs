//! A JWKS endpoint's keys, fetched on first use, again when a token names an unknown `kid`, and
//! again once the set's `Cache-Control: max-age` (5 minutes when absent, at least the configured
//! minimum, at most a day) has run out, so a key the identity provider withdraws stops being
//! trusted. Fetches are one at a time and at most one per minimum interval; only `https://` (or
//! loopback `http://`) URLs are configured, redirects to another host are not followed, and the
//! response is bounded in size and time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::{Mutex, RwLock};

type Keys = HashMap<String, (DecodingKey, Algorithm)>;

/// Largest key set accepted.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Lifetime of a key set whose response says nothing.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// Longest a key set is trusted without a refetch, whatever it says.
const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// The keys and when they must be fetched again.
struct KeySet {
    keys: Keys,
    refresh_at: Option<Instant>,
}

pub(super) struct JwksCache {
    url: String,
    client: reqwest::Client,
    set: RwLock<KeySet>,
    last_fetch: Mutex<Option<Instant>>,
    min_refresh: Duration,
    refreshes: crate::metrics::OutcomeCounter,
}

impl JwksCache {
    pub(super) fn new(
        url: String,
        min_refresh_secs: u64,
        refreshes: crate::metrics::OutcomeCounter,
    ) -> Self {
        let host = reqwest::Url::parse(&url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        let same_host = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() < 3 && attempt.url().host_str() == host.as_deref() {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        Self {
            url,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(5))
                .redirect(same_host)
                .build()
                .unwrap_or_default(),
            set: RwLock::new(KeySet {
                keys: HashMap::new(),
                refresh_at: None,
            }),
            last_fetch: Mutex::new(None),
            min_refresh: Duration::from_secs(min_refresh_secs),
            refreshes,
        }
    }

    /// The key with this id, if its algorithm is `alg`.
    pub(super) async fn key(&self, kid: &str, alg: Algorithm) -> Option<DecodingKey> {
        if !self.is_stale().await
            && let Some(found) = self.lookup(kid, alg).await
        {
            return Some(found);
        }
        self.refresh().await;
        self.lookup(kid, alg).await
    }

    /// Whether a key verified earlier is still in the current set (refetching it first if it is
    /// due).
    pub(super) async fn still_trusted(&self, kid: &str) -> bool {
        if self.is_stale().await {
            self.refresh().await;
        }
        self.set.read().await.keys.contains_key(kid)
    }

    async fn is_stale(&self) -> bool {
        self.set
            .read()
            .await
            .refresh_at
            .is_none_or(|at| Instant::now() >= at)
    }

    /// Fetches the set unless another fetch happened within the minimum interval.
    async fn refresh(&self) {
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.min_refresh) {
            return;
        }
        *last = Some(Instant::now());
        match self.fetch().await {
            Ok((keys, max_age)) => {
                crate::metrics::count(&self.refreshes, crate::metrics::Outcome::Done);
                let max_age = max_age
                    .unwrap_or(DEFAULT_MAX_AGE)
                    .clamp(self.min_refresh, MAX_MAX_AGE.max(self.min_refresh));
                *self.set.write().await = KeySet {
                    keys,
                    refresh_at: Some(Instant::now() + max_age),
                };
            }
            // The keys known so far stay in use; the next attempt waits for the minimum interval.
            Err(e) => {
                crate::metrics::count(&self.refreshes, crate::metrics::Outcome::Failed);
                tracing::warn!(url = %self.url, error = %e, "fetching the JWKS failed");
            }
        }
    }

    async fn lookup(&self, kid: &str, alg: Algorithm) -> Option<DecodingKey> {
        let set = self.set.read().await;
        set.keys
            .get(kid)
            .filter(|(_, a)| *a == alg)
            .map(|(k, _)| k.clone())
    }

    /// The key set and how long it may be kept (`Cache-Control: max-age`).
    async fn fetch(&self) -> Result<(Keys, Option<Duration>), String> {
        let mut response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("the key set is larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let alg = match (&jwk.common.key_algorithm, &jwk.algorithm) {
                (Some(a), _) => match Algorithm::try_from(*a) {
                    Ok(a) => a,
                    Err(_) => continue,
                },
                (None, AlgorithmParameters::RSA(_)) => Algorithm::RS256,
                (None, AlgorithmParameters::EllipticCurve(p)) if p.curve == EllipticCurve::P256 => {
                    Algorithm::ES256
                }
                _ => continue,
            };
            if !matches!(alg, Algorithm::RS256 | Algorithm::ES256) {
                continue;
            }
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, (key, alg));
            }
        }
        Ok((keys, max_age))
    }
}

/// `max-age` of a `Cache-Control` value (`no-store`/`no-cache` count as zero).
fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').map(str::trim).find_map(|d| {
        let lower = d.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        lower
            .strip_prefix("max-age=")
            .and_then(|v| v.trim_matches('"').parse().ok())
            .map(Duration::from_secs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
    }
}
