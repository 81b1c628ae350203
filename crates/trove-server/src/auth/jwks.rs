//! A JWKS endpoint's keys, fetched on first use and again when a token names an unknown `kid`
//! (at most once per configured interval, and one fetch at a time).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::{Mutex, RwLock};

type Keys = HashMap<String, (DecodingKey, Algorithm)>;

pub(super) struct JwksCache {
    url: String,
    client: reqwest::Client,
    keys: RwLock<Keys>,
    last_fetch: Mutex<Option<Instant>>,
    min_refresh: Duration,
}

impl JwksCache {
    pub(super) fn new(url: String, min_refresh_secs: u64) -> Self {
        Self {
            url,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
            min_refresh: Duration::from_secs(min_refresh_secs),
        }
    }

    /// The key with this id, if its algorithm is `alg`.
    pub(super) async fn key(&self, kid: &str, alg: Algorithm) -> Option<DecodingKey> {
        if let Some(found) = self.lookup(kid, alg).await {
            return Some(found);
        }
        {
            let mut last = self.last_fetch.lock().await;
            // Another request may have refreshed while we waited for the lock.
            if let Some(found) = self.lookup(kid, alg).await {
                return Some(found);
            }
            if last.is_some_and(|t| t.elapsed() < self.min_refresh) {
                return None;
            }
            *last = Some(Instant::now());
            match self.fetch().await {
                Ok(keys) => *self.keys.write().await = keys,
                Err(e) => tracing::warn!(url = %self.url, error = %e, "fetching the JWKS failed"),
            }
        }
        self.lookup(kid, alg).await
    }

    async fn lookup(&self, kid: &str, alg: Algorithm) -> Option<DecodingKey> {
        let keys = self.keys.read().await;
        keys.get(kid)
            .filter(|(_, a)| *a == alg)
            .map(|(k, _)| k.clone())
    }

    async fn fetch(&self) -> Result<Keys, String> {
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        let set: JwkSet = response.json().await.map_err(|e| e.to_string())?;
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
        Ok(keys)
    }
}
