//! Who is calling: the admin key, a user's JWT, or nobody.
//!
//! [`Caller`] is the extractor every handler uses; it yields a [`Principal`] and rejects bad
//! credentials with 401 before the handler runs. What the principal may do is decided by
//! `trove_core::access`, never here.

mod jwks;
mod jwt;
pub mod token;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use trove_core::ids::valid_principal_id;
use trove_core::{Principal, TenantId, UserContext, UserId};

use crate::config::JwtConfig;
use crate::error::ApiError;
use crate::state::AppState;
pub use jwt::JwtVerifier;

/// Header carrying the admin key.
pub const ADMIN_KEY_HEADER: &str = "x-trove-admin-key";
/// The admin key as Nhost's clients send it.
pub const HASURA_ADMIN_SECRET_HEADER: &str = "x-hasura-admin-secret";
/// With the admin key, as Nhost's admin sessions send it: act as this user.
pub const HASURA_USER_ID_HEADER: &str = "x-hasura-user-id";
/// With a token in Hasura's layout: the role to act in, one of the token's allowed roles.
pub const HASURA_ROLE_HEADER: &str = "x-hasura-role";
/// With the admin key: act as this user.
pub const USER_ID_HEADER: &str = "x-trove-user-id";
/// With the admin key and a user id: the user's tenant.
pub const TENANT_ID_HEADER: &str = "x-trove-tenant-id";

/// Verifies credentials.
pub struct Authenticator {
    admin_key_digest: [u8; 32],
    jwt: JwtVerifier,
}

impl Authenticator {
    pub fn new(
        admin_key: &str,
        jwt: &JwtConfig,
        jwks_refreshes: crate::metrics::OutcomeCounter,
    ) -> Result<Self, String> {
        Ok(Self {
            admin_key_digest: Sha256::digest(admin_key.as_bytes()).into(),
            jwt: JwtVerifier::new(jwt, jwks_refreshes)?,
        })
    }

    /// Compares in constant time; hashing first also hides the key's length.
    fn is_admin_key(&self, presented: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        digest.ct_eq(&self.admin_key_digest).into()
    }

    /// Establishes the principal from request headers, and names it in the request's span.
    pub async fn authenticate(&self, parts: &Parts) -> Result<Principal, ApiError> {
        let principal = self.principal(parts).await?;
        record_caller(&principal);
        Ok(principal)
    }

    async fn principal(&self, parts: &Parts) -> Result<Principal, ApiError> {
        let headers = &parts.headers;
        if let Some(key) = headers
            .get(ADMIN_KEY_HEADER)
            .or_else(|| headers.get(HASURA_ADMIN_SECRET_HEADER))
        {
            if !self.is_admin_key(key.as_bytes()) {
                return Err(ApiError::unauthorized("invalid admin key"));
            }
            let header_text = |name: &str| -> Result<Option<String>, ApiError> {
                match headers.get(name) {
                    None => Ok(None),
                    Some(v) => v
                        .to_str()
                        .ok()
                        .filter(|s| valid_principal_id(s))
                        .map(|s| Some(s.to_owned()))
                        .ok_or_else(|| ApiError::invalid(format!("{name} is not a valid id"))),
                }
            };
            // Nhost's admin sessions name the user as a Hasura session variable.
            let user = match header_text(USER_ID_HEADER)? {
                Some(u) => Some(u),
                None => header_text(HASURA_USER_ID_HEADER)?,
            };
            let tenant = header_text(TENANT_ID_HEADER)?;
            return Ok(match user {
                Some(user) => Principal::User(UserContext {
                    user_id: UserId(user),
                    tenant_id: tenant.map(TenantId),
                    roles: Vec::new(),
                }),
                None if tenant.is_some() => {
                    return Err(ApiError::invalid("x-trove-tenant-id needs x-trove-user-id"));
                }
                None => Principal::Admin,
            });
        }
        if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| {
                    let (scheme, token) = v.split_once(' ')?;
                    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
                })
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    ApiError::unauthorized("expected 'Authorization: Bearer <token>'")
                })?;
            let verified = self.jwt.verify(token).await?;
            let mut user = verified.user;
            if let (Some(role), Some(allowed)) =
                (headers.get(HASURA_ROLE_HEADER), &verified.allowed_roles)
            {
                let role = role.to_str().unwrap_or("");
                if !allowed.iter().any(|r| r == role) {
                    return Err(ApiError::new(
                        trove_core::ErrorCode::Forbidden,
                        "x-hasura-role is not one of the token's x-hasura-allowed-roles",
                    ));
                }
                user.roles = vec![role.to_owned()];
            }
            return Ok(Principal::User(user));
        }
        Ok(Principal::Anonymous)
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        state.auth.authenticate(parts).await.map(Caller)
    }
}

/// Names the caller in the request's span, so that every log line of the request says who made
/// it: the kind of caller, the user id and the tenant; never a credential.
fn record_caller(principal: &Principal) {
    let span = tracing::Span::current();
    match principal {
        Principal::Admin => {
            span.record("caller", "admin");
        }
        Principal::Anonymous => {
            span.record("caller", "anonymous");
        }
        Principal::User(u) => {
            span.record("caller", "user");
            span.record("user_id", u.user_id.as_str());
            if let Some(t) = &u.tenant_id {
                span.record("tenant_id", t.as_str());
            }
        }
    }
}
