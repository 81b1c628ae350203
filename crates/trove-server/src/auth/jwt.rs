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
    claims_namespace: String,
    issuer: Option<String>,
    audience: Option<String>,
}

/// The user a token names and, for a token in Hasura's layout, the roles it allows.
#[derive(Debug, Clone)]
pub struct Verified {
    pub user: UserContext,
    /// `x-hasura-allowed-roles`: the roles an `x-hasura-role` request header may choose from.
    pub allowed_roles: Option<Vec<String>>,
}

/// A verified token: its user, its expiry, and the JWKS key id it was verified with, if any.
#[derive(Clone)]
struct Cached {
    user: Verified,
    exp: i64,
    jwks_kid: Option<String>,
}

impl JwtVerifier {
    /// `refreshes` counts the fetches of the JWKS, when there is one.
    pub fn new(cfg: &JwtConfig, refreshes: crate::metrics::OutcomeCounter) -> Result<Self, String> {
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
                .map(|url| JwksCache::new(url.clone(), cfg.jwks_min_refresh_secs, refreshes)),
            tenant_claim: cfg.tenant_claim.clone(),
            roles_claim: cfg.roles_claim.clone(),
            claims_namespace: cfg.claims_namespace.clone(),
            issuer: cfg.issuer.clone(),
            audience: cfg.audience.clone(),
        })
    }

    /// Verifies a token and returns the user it names.
    pub async fn verify(&self, token: &str) -> Result<Verified, ApiError> {
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

    async fn verify_uncached(&self, token: &str) -> Result<Verified, ApiError> {
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
        // `sub` may be replaced by Hasura's `x-hasura-user-id`; a user id is required below.
        validation.set_required_spec_claims(&["exp"]);
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

    fn user_from_claims(&self, claims: &Map<String, Value>) -> Option<Verified> {
        let hasura = claims
            .get(&self.claims_namespace)
            .and_then(Value::as_object);
        let user_id = hasura
            .and_then(|h| h.get("x-hasura-user-id"))
            .or_else(|| claims.get("sub"))?
            .as_str()?;
        if !valid_principal_id(user_id) {
            return None;
        }
        let tenant = match claim_at(claims, &self.tenant_claim) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if valid_principal_id(s) => Some(TenantId(s.clone())),
            Some(Value::Number(n)) => Some(TenantId(n.to_string())),
            Some(_) => return None,
        };
        let allowed = match hasura.and_then(|h| h.get("x-hasura-allowed-roles")) {
            None => None,
            Some(v) => Some(string_list(v)?),
        };
        let roles = match &allowed {
            // A Hasura request acts in one role: the default one unless the request picks another.
            Some(allowed) => match hasura.and_then(|h| h.get("x-hasura-default-role")) {
                Some(Value::String(d)) if allowed.contains(d) => vec![d.clone()],
                None | Some(Value::Null) => Vec::new(),
                Some(_) => return None,
            },
            None => match claims.get(&self.roles_claim) {
                None | Some(Value::Null) => Vec::new(),
                Some(v) => string_list(v)?,
            },
        };
        Some(Verified {
            user: UserContext {
                user_id: UserId(user_id.to_owned()),
                tenant_id: tenant,
                roles,
            },
            allowed_roles: allowed,
        })
    }
}

/// A string or a list of strings (roles claims come in both forms, and Hasura's in the second).
fn string_list(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|r| r.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

/// The claim `name`, or, when no claim has that name, the member after the first `.` that ends
/// the name of an object claim (claim names such as `https://hasura.io/jwt/claims` hold dots).
fn claim_at<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    name.match_indices('.').find_map(|(i, _)| {
        claims
            .get(&name[..i])
            .and_then(Value::as_object)
            .and_then(|inner| inner.get(&name[i + 1..]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn verifier() -> JwtVerifier {
        JwtVerifier::new(
            &JwtConfig {
                tenant_claim: "https://hasura.io/jwt/claims.x-hasura-org-id".into(),
                roles_claim: "roles".into(),
                claims_namespace: "https://hasura.io/jwt/claims".into(),
                ..JwtConfig::default()
            },
            Default::default(),
        )
        .unwrap()
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn hasura_layout_names_the_user_tenant_and_role() {
        let got = verifier()
            .user_from_claims(&claims(json!({
                "sub": "ignored",
                "https://hasura.io/jwt/claims": {
                    "x-hasura-user-id": "u-1",
                    "x-hasura-org-id": "acme",
                    "x-hasura-allowed-roles": ["user", "editor"],
                    "x-hasura-default-role": "user"
                }
            })))
            .unwrap();
        assert_eq!(got.user.user_id.0, "u-1");
        assert_eq!(got.user.tenant_id.unwrap().0, "acme");
        assert_eq!(got.user.roles, vec!["user".to_owned()]);
        assert_eq!(got.allowed_roles.unwrap(), vec!["user", "editor"]);
    }

    #[test]
    fn sub_when_the_namespace_has_no_user_and_top_level_claims_without_it() {
        let v = verifier();
        let got = v
            .user_from_claims(&claims(
                json!({"sub": "u-2", "https://hasura.io/jwt/claims": {}}),
            ))
            .unwrap();
        assert_eq!(got.user.user_id.0, "u-2");
        let plain = v
            .user_from_claims(&claims(json!({"sub": "u-3", "roles": ["admin"]})))
            .unwrap();
        assert_eq!(plain.user.roles, vec!["admin".to_owned()]);
        assert!(plain.allowed_roles.is_none());
        assert!(
            v.user_from_claims(&claims(json!({"roles": []}))).is_none(),
            "no user"
        );
        // A default role outside the allowed ones is a broken token.
        assert!(
            v.user_from_claims(&claims(
                json!({"sub": "u", "https://hasura.io/jwt/claims": {
                "x-hasura-allowed-roles": ["user"], "x-hasura-default-role": "admin"}})
            ))
            .is_none()
        );
    }

    #[test]
    fn claim_paths() {
        let c = claims(json!({"a.b": 1, "ns.x": {"y": 2}, "n": {"k": 3}}));
        assert_eq!(claim_at(&c, "a.b"), Some(&json!(1)));
        assert_eq!(claim_at(&c, "ns.x.y"), Some(&json!(2)));
        assert_eq!(claim_at(&c, "n.k"), Some(&json!(3)));
        assert_eq!(claim_at(&c, "n.z"), None);
        assert_eq!(claim_at(&c, "missing"), None);
    }
}
