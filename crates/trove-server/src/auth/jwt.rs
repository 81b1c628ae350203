//! JWT verification: HS256 with a shared secret, RS256/ES256 with a PEM key, any of those from a
//! JWKS. Only algorithms that a configured key supports are accepted; `alg: none` never is.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Map, Value};
use trove_core::ids::valid_principal_id;
use trove_core::{TenantId, UserContext, UserId};

use super::jwks::JwksCache;
use crate::config::JwtConfig;
use crate::error::ApiError;

/// Tokens kept verified at most; the cache is emptied when it fills up.
const CACHE_CAPACITY: usize = 10_000;

/// Verifies user tokens against the configured keys.
///
/// A verified token is cached until its `exp`, so a client that sends the same token on every
/// request pays for the signature check once. A token verified with a JWKS key is served from the
/// cache only while that key is still in the current key set, so a withdrawn key stops working at
/// the next refresh of the set.
pub struct JwtVerifier {
    cache: RwLock<HashMap<String, Cached>>,
    hs256: Option<DecodingKey>,
    pem: Option<(DecodingKey, Algorithm)>,
    jwks: Option<JwksCache>,
    tenant_claim: String,
    roles_claim: String,
    issuer: Option<String>,
    audience: Option<String>,
}

/// A verified token: its user, its expiry, and the JWKS key id it was verified with, if any.
#[derive(Clone)]
struct Cached {
    user: UserContext,
    exp: i64,
    jwks_kid: Option<String>,
}

impl JwtVerifier {
    pub fn new(cfg: &JwtConfig) -> Result<Self, String> {
        let pem = match &cfg.public_key_pem {
            None => None,
            Some(pem) => Some(
                DecodingKey::from_rsa_pem(pem.as_bytes())
                    .map(|k| (k, Algorithm::RS256))
                    .or_else(|_| {
                        DecodingKey::from_ec_pem(pem.as_bytes()).map(|k| (k, Algorithm::ES256))
                    })
                    .map_err(|_| {
                        "TROVE_JWT_PUBLIC_KEY: not an RSA or EC (P-256) public key in PEM"
                            .to_owned()
                    })?,
            ),
        };
        Ok(Self {
            cache: RwLock::new(HashMap::new()),
            hs256: cfg
                .secret
                .as_ref()
                .map(|s| DecodingKey::from_secret(s.as_bytes())),
            pem,
            jwks: cfg
                .jwks_url
                .as_ref()
                .map(|url| JwksCache::new(url.clone(), cfg.jwks_min_refresh_secs)),
            tenant_claim: cfg.tenant_claim.clone(),
            roles_claim: cfg.roles_claim.clone(),
            issuer: cfg.issuer.clone(),
            audience: cfg.audience.clone(),
        })
    }

    /// Verifies a token and returns the user it names.
    pub async fn verify(&self, token: &str) -> Result<UserContext, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let hit = self
            .cache
            .read()
            .ok()
            .and_then(|cache| cache.get(token).cloned())
            .filter(|c| c.exp > now);
        if let Some(c) = hit {
            let key_still_valid = match (&c.jwks_kid, &self.jwks) {
                (Some(kid), Some(jwks)) => jwks.still_trusted(kid).await,
                _ => true,
            };
            if key_still_valid {
                return Ok(c.user);
            }
        }
        self.verify_uncached(token).await
    }

    async fn verify_uncached(&self, token: &str) -> Result<UserContext, ApiError> {
        let reject = |why: &str| ApiError::unauthorized(format!("invalid token: {why}"));
        let header = decode_header(token).map_err(|_| reject("malformed or unsupported"))?;
        let alg = header.alg;
        let mut jwks_kid = None;
        let key = match alg {
            Algorithm::HS256 if self.hs256.is_some() => self.hs256.clone(),
            _ if self.pem.as_ref().is_some_and(|(_, a)| *a == alg) => {
                self.pem.as_ref().map(|(k, _)| k.clone())
            }
            _ => match (&self.jwks, &header.kid) {
                (Some(jwks), Some(kid)) => {
                    jwks_kid = Some(kid.clone());
                    jwks.key(kid, alg).await
                }
                _ => None,
            },
        };
        let key = key.ok_or_else(|| reject("algorithm or key not accepted"))?;
        let mut validation = Validation::new(alg);
        validation.set_required_spec_claims(&["exp", "sub"]);
        // jsonwebtoken ignores `nbf` unless asked: a token not yet valid is refused.
        validation.validate_nbf = true;
        validation.leeway = 30;
        match &self.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        if let Some(iss) = &self.issuer {
            validation.iss = Some(HashSet::from([iss.clone()]));
            validation.required_spec_claims.insert("iss".into());
        }
        let data = decode::<Map<String, Value>>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => reject("expired"),
                ErrorKind::ImmatureSignature => reject("not valid yet (nbf)"),
                ErrorKind::InvalidSignature => reject("bad signature"),
                ErrorKind::InvalidIssuer => reject("wrong issuer"),
                ErrorKind::InvalidAudience => reject("wrong audience"),
                ErrorKind::MissingRequiredClaim(c) => reject(&format!("missing claim {c}")),
                _ => reject("rejected"),
            }
        })?;
        let user = self
            .user_from_claims(&data.claims)
            .ok_or_else(|| reject("unusable sub, tenant or roles claim"))?;
        if let Some(exp) = data.claims.get("exp").and_then(Value::as_i64)
            && let Ok(mut cache) = self.cache.write()
        {
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(
                token.to_owned(),
                Cached {
                    user: user.clone(),
                    exp,
                    jwks_kid,
                },
            );
        }
        Ok(user)
    }

    fn user_from_claims(&self, claims: &Map<String, Value>) -> Option<UserContext> {
        let sub = claims.get("sub")?.as_str()?;
        if !valid_principal_id(sub) {
            return None;
        }
        let tenant = match claims.get(&self.tenant_claim) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if valid_principal_id(s) => Some(TenantId(s.clone())),
            Some(Value::Number(n)) => Some(TenantId(n.to_string())),
            Some(_) => return None,
        };
        let roles = match claims.get(&self.roles_claim) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|r| r.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()?,
            Some(_) => return None,
        };
        Some(UserContext {
            user_id: UserId(sub.to_owned()),
            tenant_id: tenant,
            roles,
        })
    }
}
